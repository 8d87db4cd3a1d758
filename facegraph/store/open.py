"""The store chosen once: the embedded one on disk, or a Qdrant server."""

from __future__ import annotations

import os

from facegraph.store.base import FaceStore


def open_store(location: str | os.PathLike | None = None, *, url: str | None = None, api_key: str | None = None) -> FaceStore:
    """The embedded store at `location` (default: `facegraph.settings.default_store_dir()`, the CLI's and
    Dagster's), or a Qdrant server at `url`."""
    if location is not None and url is not None:
        raise ValueError("give a store path or a Qdrant url, not both")
    if url is not None:
        from facegraph.store.server import ServerStore  # each backend loads its engine only when chosen

        return ServerStore(url, api_key=api_key)
    from facegraph.store.embedded import EmbeddedStore

    if location is None:
        from facegraph.places import default_store_dir

        location = default_store_dir()
    return EmbeddedStore(location)
