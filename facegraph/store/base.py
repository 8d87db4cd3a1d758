"""The face store: named Qdrant collections of points, behind one small interface with two backends.

Collections: `faces` (one point per face: unit vector + the face payload), `persons` (one point per person:
name, representative face, times, corrections) and `photos` (one point per photo read: path and size, so a photo is
never embedded twice and crops can be found for the gallery). Point ids are UUIDs derived from the record's own id.

`where` filters are plain dicts: `{"person_id": "person_0123abcd4567"}` matches a value, `{"person_id": None}` a
null, `{"face_id": [...]}` any of a list.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

FACES, PERSONS, PHOTOS = "faces", "persons", "photos"
COLLECTIONS = (FACES, PERSONS, PHOTOS)
KEYWORD_INDEXES = {FACES: ("person_id", "image_id", "face_id"), PERSONS: ("person_id", "kind", "pinned_faces"), PHOTOS: ("image_id",)}
# Metadata collections hold no real vector; Qdrant needs one, so they carry this one-number placeholder.
PLACEHOLDER_VECTOR = [1.0]
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
    """Every operation facegraph needs from Qdrant. Points are addressed by their record's key (face_id, ...)."""

    dimension: int

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
    def scroll(self, collection: str, *, where: dict | None = None, with_vectors: bool = False) -> list[StoredPoint]:
        """Every point (matching `where`), in a stable order."""

    @abstractmethod
    def search(self, queries: np.ndarray, *, limit: int, threshold: float | None = None,
               where: dict | None = None) -> list[list[Hit]]:
        """Nearest faces to each query vector, in one batched call, best first."""

    @abstractmethod
    def count(self, collection: str, *, where: dict | None = None) -> int:
        """How many points (match `where`)."""

    @abstractmethod
    def value_counts(self, collection: str, key: str) -> dict:
        """How many points hold each value of the keyword field `key` (Qdrant's facet)."""

    def optimize(self) -> None:
        """Bring search indexes up to date after bulk writes (a no-op where the engine does it by itself)."""

    @abstractmethod
    def close(self) -> None:
        """Release the store."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
