"""The face store: named Qdrant collections of points, behind one small interface with two backends.

Collections: `faces` (one point per face: unit vector + the face payload), `persons` (one point per person:
name, representative face, times, corrections) and `photos` (one point per photo read: path and size, so a photo is
never embedded twice and crops can be found for the gallery). Point ids are UUIDs derived from the record's own id.

`where` filters are plain dicts: `{"person_id": "person_0123abcd4567"}` matches a value, `{"person_id": None}` a
null, `{"face_id": [...]}` any of a list.
"""

from __future__ import annotations

import functools
import inspect
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from facegraph.errors import FacegraphError, StoreError

FACES, PERSONS, PHOTOS = "faces", "persons", "photos"
COLLECTIONS = (FACES, PERSONS, PHOTOS)
KEYWORD_INDEXES = {FACES: ("person_id", "image_id", "face_id"), PERSONS: ("person_id", "kind", "pinned_faces"), PHOTOS: ("image_id", "path")}
# Metadata collections hold no real vector; Qdrant needs one, so they carry this one-number placeholder.
PLACEHOLDER_VECTOR = [1.0]
FACE_BYTES = 4096  # disk a face may take when written or rewritten: its 2 KiB vector, payload and index links
PAGE = 2048  # points per request when writing or scrolling: memory stays bounded however large the collection
_ID_NAMESPACE = uuid.UUID("3f5c2a4e-8b1d-4c6f-9a7e-0d2b4f6a8c10")


def point_id(key: str) -> str:
    """The UUID of the point for a face, person or photo id: the same key always gives the same point."""
    return str(uuid.uuid5(_ID_NAMESPACE, key))


@dataclass(frozen=True)
class StoredPoint:
    payload: dict
    vector: np.ndarray | None = None


@dataclass(frozen=True)
class Hit:
    payload: dict
    score: float


class FaceStore(ABC):
    """Every operation facegraph needs from Qdrant. Points are addressed by their record's key (face_id, ...).

    The store is the boundary to the engine: every public method of a backend raises only facegraph's errors.
    A backend names the engine's exception types in `engine_errors`, and `engine_error` says what each becomes
    (a `StoreError` by default), so callers, and the CLI, catch `FacegraphError` alone.
    """

    dimension: int
    engine_errors: tuple[type[BaseException], ...] = ()
    exclusive: bool = True  # opened by one process at a time (so work left half-done is nobody else's)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, method in list(vars(cls).items()):
            if inspect.isfunction(method) and not name.startswith("_"):
                setattr(cls, name, _translating(method))

    def engine_error(self, exc: BaseException, operation: str) -> FacegraphError:
        """The facegraph error an engine exception becomes."""
        return StoreError(f"the store failed to {operation}: {_first_line(exc)}")

    @abstractmethod
    def upsert(self, collection: str, keys: list[str], payloads: list[dict], vectors: np.ndarray | None = None) -> None:
        """Write points, replacing any with the same key."""

    @abstractmethod
    def retrieve(self, collection: str, keys: list[str], *, with_vectors: bool = False) -> list[StoredPoint]:
        """The points that exist among `keys`, in no particular order."""

    @abstractmethod
    def delete(self, collection: str, keys: list[str]) -> None:
        """Remove points; keys that do not exist are ignored."""

    @abstractmethod
    def set_payload(self, collection: str, keys: list[str], payload: dict) -> None:
        """Set these payload fields on every point of `keys`, leaving the other fields as they are."""

    @abstractmethod
    def set_payloads(self, collection: str, keys: list[str], payloads: list[dict]) -> None:
        """Set each point's own fields (`payloads[i]` on `keys[i]`), leaving its other fields and its vector."""

    @abstractmethod
    def scroll_pages(self, collection: str, *, where: dict | None = None, with_vectors: bool = False,
                     fields: list[str] | None = None, page: int = PAGE) -> Iterator[list[StoredPoint]]:
        """Every point (matching `where`), a page at a time, in the order of their point ids (so the same points
        come in the same order every time). `fields` limits the payloads to those keys."""

    def scroll(self, collection: str, *, where: dict | None = None, with_vectors: bool = False) -> list[StoredPoint]:
        """Every point (matching `where`), in the order of `scroll_pages`."""
        return [point for page in self.scroll_pages(collection, where=where, with_vectors=with_vectors) for point in page]

    def sample(self, collection: str, *, where: dict, limit: int, with_vectors: bool = False,
               fields: list[str] | None = None) -> list[StoredPoint]:
        """At most `limit` points matching `where`: the first of the point-id order, which, point ids being
        hashes, is an unbiased sample."""
        return next(iter(self.scroll_pages(collection, where=where, with_vectors=with_vectors, fields=fields,
                                           page=limit)), [])

    @abstractmethod
    def search(self, queries: np.ndarray, *, limit: int, threshold: float | None = None,
               where: dict | None = None) -> list[list[Hit]]:
        """Nearest faces to each query vector, in one batched call, best first."""

    @abstractmethod
    def count(self, collection: str, *, where: dict | None = None) -> int:
        """How many points (match `where`)."""

    @abstractmethod
    def value_counts(self, collection: str, key: str, *, where: dict | None = None) -> dict:
        """How many points (matching `where`) hold each value of the keyword field `key` (Qdrant's facet)."""

    def nearest_faces(self, keys: list[str], *, limit: int, threshold: float) -> tuple[np.ndarray, np.ndarray] | None:
        """Each face's `limit` nearest other faces at cosine >= `threshold`, found where the data is: (n, limit)
        row numbers into `keys` (-1 where there are fewer) and their cosines. None where the engine runs in this
        process, since the caller's own neighbour graph over the vectors it read is faster there."""
        return None

    def check_space(self, extra_bytes: int = 0, doing: str = "write") -> None:
        """Raise `StoreError` ("no space left on ...") if the disk under the store may not hold what the engine is
        about to write (`extra_bytes` beyond its working reserve), before it writes: an engine that maps its files
        into memory dies of SIGBUS, without a message, on a full disk. Nothing to check on a server."""

    def optimize(self) -> None:
        """Bring search indexes up to date after bulk writes (a no-op where the engine does it by itself)."""

    @abstractmethod
    def close(self) -> None:
        """Release the store."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _translating(method):
    """`method`, raising the store's `engine_error` instead of any of its `engine_errors` (also while a
    generator method is being iterated)."""
    def translate(self, exc, args):
        what = method.__name__.replace("_", " ") + (f" {args[0]}" if args and isinstance(args[0], str) else "")
        return self.engine_error(exc, what)

    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def generator(self, *args, **kwargs):
            try:
                yield from method(self, *args, **kwargs)
            except FacegraphError:
                raise
            except self.engine_errors as exc:
                raise translate(self, exc, args) from exc
        return generator

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except FacegraphError:
            raise
        except self.engine_errors as exc:
            raise translate(self, exc, args) from exc
    return call
