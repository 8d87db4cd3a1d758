"""Where facegraph keeps things when no one says: the data folder, the embedded store in it, the model cache.

The only environment this reads is the user's own (`FACEGRAPH_DATA`, the XDG folders); every other `FACEGRAPH_*`
variable is `facegraph.settings.Settings`'.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]  # a checkout of the project, when run from one


def default_data_dir() -> Path:
    """Where facegraph keeps what it makes (the embedded store, Dagster's tables and gallery, the embeddings cache,
    the MLflow store), the same for the CLI, Dagster and the sweeps: `$FACEGRAPH_DATA`, else `data/` in the project
    folder when run from a checkout (git ignores it), else `$XDG_DATA_HOME/facegraph` (`~/.local/share/facegraph`)."""
    if os.environ.get("FACEGRAPH_DATA"):
        return Path(os.environ["FACEGRAPH_DATA"])
    if (PROJECT_DIR / "pyproject.toml").is_file() and (PROJECT_DIR / "facegraph").is_dir():
        return PROJECT_DIR / "data"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "facegraph"


def default_store_dir() -> Path:
    """The embedded store when none is named: `store/` in the data folder (`default_data_dir`)."""
    return default_data_dir() / "store"


def default_cache_dir() -> Path:
    """Where fetched model weights are kept when no `cache_dir` is given: `$XDG_CACHE_HOME/facegraph`, else
    `~/.cache/facegraph` (`FACEGRAPH_CACHE_DIR` is `Settings.cache_dir`)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "facegraph"
