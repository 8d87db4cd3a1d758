"""The faces and photos of a collection as points of the face store: the one place that knows their payloads.

`FaceGraph` keeps the verbs (index, cluster, correct); this module owns the face and photo schema
(`face_payload`, `photo_payload`), known-photo checks, reading faces as arrays and writing persons back, so that
the CLI, Dagster assets, the gallery and `evaluation/` never reach into the store themselves.

Reads and writes go a page at a time (`store.base.PAGE` points): reading a million faces fills preallocated numpy
arrays (2 GB of vectors at 512 dimensions) and never holds a million payload dicts; writing rewrites only the faces
whose person or confidence changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facegraph.errors import FaceNotFoundError, StoreError
from facegraph.face_gate import unsure_faces
from facegraph.store.base import FACES, PAGE, PHOTOS, FaceStore, Hit, StoredPoint

if TYPE_CHECKING:  # a type only: the CLI reads paths through this module without loading the models
    from facegraph.pipeline import PhotoFaces

MEMBER_SAMPLE = 64  # faces of a person that `assign_person` compares a newcomer with, at most
CLUSTER_FIELDS = ["face_id", "image_id", "quality_score", "person_id", "person_confidence", "bbox"]  # read as arrays


def face_payload(face_id: str, image_id: str, *, bbox, det_score: float, quality_score: float, indexed_at: str) -> dict:
    """The payload of a face point, exactly these fields (the person fields are set by clustering)."""
    return {
        "face_id": face_id,
        "image_id": image_id,
        "bbox": [int(v) for v in bbox],
        "person_id": None,
        "person_confidence": None,
        "det_score": float(det_score),
        "quality_score": float(quality_score),
        "indexed_at": indexed_at,
    }


def photo_payload(photo: PhotoFaces, indexed_at: str) -> dict:
    """The payload of a photo point: where it is (`path_fields`), its size, how many faces it holds, and which of
    them the face gate calls unsure (`unsure_faces`; `gate` says whether there are any, as text: Qdrant Edge's
    filters do not match a boolean). The gate lives here, so that a face's payload stays the seed's schema."""
    faces = photo.faces
    unsure = unsure_faces([min(f.bbox[2] - f.bbox[0], f.bbox[3] - f.bbox[1]) for f in faces],
                          [f.quality_score for f in faces], [0] * len(faces))
    unsure_ids = [f.face_id for f, flag in zip(faces, unsure) if flag]
    return {"image_id": photo.image_id, **path_fields(Path(photo.path).resolve()), "width": photo.width,
            "height": photo.height, "faces": len(faces), "indexed_at": indexed_at, "unsure_faces": unsure_ids,
            "gate": "unsure" if unsure_ids else "sure"}


def path_fields(path: str | os.PathLike) -> dict:
    """A file's path as payload fields, losslessly. `path` is text, as `display_path` shows it; a name whose bytes
    are not UTF-8 (which a Qdrant payload cannot hold) also keeps its exact bytes, hex, in `path_bytes`."""
    raw = os.fsencode(path)
    try:
        return {"path": raw.decode("utf-8"), "path_bytes": None}
    except UnicodeDecodeError:
        return {"path": display_path(path), "path_bytes": raw.hex()}


def photo_path(payload: dict) -> str:
    """The file of a photo payload, exactly as the file system names it."""
    return os.fsdecode(bytes.fromhex(payload["path_bytes"])) if payload.get("path_bytes") else payload["path"]


def display_path(path: str | os.PathLike) -> str:
    """A path as readable text: bytes of its name that are not UTF-8 are shown as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


@dataclass
class FaceArrays:
    """Faces as arrays, row i being one face, in the store's point-id order (the same faces in the same order
    every run). `confidence` is nan where a face has none yet."""

    face_ids: list[str]
    image_ids: list[str]
    person_ids: list[str | None]
    quality: np.ndarray  # (n,) float32
    confidence: np.ndarray  # (n,) float32
    vectors: np.ndarray  # (n, d) float32, unit rows
    sides: np.ndarray  # (n,) float32: the shorter side of each face's box, in pixels

    def __len__(self) -> int:
        return len(self.face_ids)

    @staticmethod
    def empty(dimension: int) -> FaceArrays:
        return FaceArrays([], [], [], np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros((0, dimension), np.float32),
                          np.zeros(0, np.float32))

    @staticmethod
    def joined(*parts: FaceArrays) -> FaceArrays:
        """The faces of each part, one after the other."""
        return FaceArrays(*(sum((getattr(p, name) for p in parts), []) for name in ("face_ids", "image_ids", "person_ids")),
                          *(np.concatenate([getattr(p, name) for p in parts])
                            for name in ("quality", "confidence", "vectors", "sides")))

    def rows(self, keep: np.ndarray) -> FaceArrays:
        """The faces at the indices `keep`."""
        return FaceArrays([self.face_ids[i] for i in keep], [self.image_ids[i] for i in keep],
                          [self.person_ids[i] for i in keep], self.quality[keep], self.confidence[keep],
                          self.vectors[keep], self.sides[keep])


class Collection:
    """The face and photo points of one `FaceStore`."""

    def __init__(self, store: FaceStore):
        self.store = store
        # Whether writes may have left faces outside the search index. Unknown on opening (an earlier process may
        # have written without building it), so the first search asks the engine, which is free if nothing is due.
        self.index_stale = True

    @property
    def dimension(self) -> int:
        return self.store.dimension

    # ---- writing faces and photos ---------------------------------------------------------------------------

    def is_known(self, image_id: str) -> bool:
        """Whether the collection holds this photo whole (a photo being added or removed does not count)."""
        found = self.store.retrieve(PHOTOS, [image_id])
        return bool(found) and not (found[0].payload.get("removing") or found[0].payload.get("adding"))

    def add_photo(self, photo: PhotoFaces, indexed_at: str) -> list[str]:
        """Store a photo and its faces; returns the face ids. The photo comes first, marked as being added (not
        yet known), then its faces; `photo_added` clears the mark. A process that dies in between leaves no face
        without its photo (so `sync` removes them together if the file goes), and a photo that is not known, so
        indexing it again completes it. If the faces cannot be written, the photo is taken back."""
        faces = photo.faces
        face_ids = [f.face_id for f in faces]
        self.store.upsert(PHOTOS, [photo.image_id], [photo_payload(photo, indexed_at) | {"adding": True}])
        try:
            if faces:
                self.add_faces(face_ids, np.stack([f.embedding for f in faces]), [
                    face_payload(f.face_id, f.image_id, bbox=f.bbox, det_score=f.det_score,
                                 quality_score=f.quality_score, indexed_at=indexed_at) for f in faces])
        except StoreError:
            self.store.delete(PHOTOS, [photo.image_id])
            raise
        return face_ids

    def photo_added(self, image_id: str) -> None:
        """Mark a photo whose faces are all stored as known."""
        self.store.set_payload(PHOTOS, [image_id], {"adding": False})

    def add_faces(self, face_ids: list[str], vectors: np.ndarray, payloads: list[dict]) -> None:
        """Store face points (payloads made by `face_payload`)."""
        self.store.upsert(FACES, face_ids, payloads, vectors)
        self.index_stale = True

    def optimize(self) -> None:
        """Build the search indexes after bulk writes (the HNSW graph that `search` and `assign_person` use).
        `search` does it by itself when writes came since; this is for a caller who wants to say so or time it."""
        self.store.optimize()
        self.index_stale = False

    def update_index(self) -> None:
        """Build the search index if writes may have come since it was built (free when nothing is due)."""
        if self.index_stale:
            self.optimize()

    # ---- reading faces --------------------------------------------------------------------------------------

    def read_faces(self, *, where: dict | None = None, clustered_only: bool = False) -> FaceArrays:
        """Every face (matching `where`; with a person, if `clustered_only`) as arrays, filled page by page."""
        size, d = self.store.count(FACES, where=where), self.dimension
        vectors, quality, confidence, sides = (np.empty((size, d), np.float32), *(np.empty(size, np.float32) for _ in range(3)))
        face_ids, image_ids, person_ids = [], [], []
        for page in self.store.scroll_pages(FACES, where=where, with_vectors=True, fields=CLUSTER_FIELDS):
            if not page:  # an empty collection answers with one empty page
                continue
            start, end = len(face_ids), len(face_ids) + len(page)
            if end > size:  # faces were added while reading (a server with other writers): make room
                size = max(end, 2 * size)
                vectors, quality, confidence, sides = (np.resize(a, (size, *a.shape[1:]))
                                                       for a in (vectors, quality, confidence, sides))
            vectors[start:end] = [p.vector for p in page]
            quality[start:end] = [p.payload["quality_score"] for p in page]
            confidence[start:end] = [_or_nan(p.payload.get("person_confidence")) for p in page]
            sides[start:end] = [min(b[2] - b[0], b[3] - b[1]) for b in (p.payload["bbox"] for p in page)]
            face_ids += [p.payload["face_id"] for p in page]
            image_ids += [p.payload["image_id"] for p in page]
            person_ids += [p.payload.get("person_id") for p in page]
        n = len(face_ids)
        faces = FaceArrays(face_ids, image_ids, person_ids, quality[:n], confidence[:n], vectors[:n], sides[:n])
        if clustered_only:
            faces = faces.rows(np.array([i for i, p in enumerate(person_ids) if p], dtype=np.int64))
        return faces

    def face(self, face_id: str, *, with_vector: bool = False) -> StoredPoint:
        found = self.store.retrieve(FACES, [face_id], with_vectors=with_vector)
        if not found:
            raise FaceNotFoundError(f"no face {face_id!r} in the collection")
        return found[0]

    def face_payloads(self, face_ids: list[str]) -> list[dict]:
        """The payloads of the faces that exist among `face_ids`, in that order."""
        found = {p.payload["face_id"]: p.payload for start in range(0, len(face_ids), PAGE)
                 for p in self.store.retrieve(FACES, face_ids[start : start + PAGE])}
        return [found[f] for f in face_ids if f in found]

    def faces_of_person(self, person_id: str, *, with_vectors: bool = False) -> list[StoredPoint]:
        return self.store.scroll(FACES, where={"person_id": person_id}, with_vectors=with_vectors)

    def face_ids(self, where: dict | None = None) -> list[str]:
        """The ids of every face (matching `where`), sorted."""
        return sorted(p.payload["face_id"] for page in self.store.scroll_pages(FACES, where=where, fields=["face_id"])
                      for p in page)

    def face_ids_of(self, person_id: str) -> list[str]:
        return self.face_ids({"person_id": person_id})

    def persons_of_faces(self, face_ids: list[str]) -> set[str | None]:
        """The persons these faces belong to."""
        return set(self.person_of_each(face_ids).values())

    def person_of_each(self, face_ids: list[str]) -> dict[str, str | None]:
        """face id -> its person (None: not clustered yet), for the faces that exist among `face_ids`."""
        return {face["face_id"]: face.get("person_id") for face in self.face_payloads(face_ids)}

    def persons_of_photo(self, image_id: str, *, except_face: str) -> set[str | None]:
        """The persons of the other faces of a photo."""
        return {p.payload.get("person_id") for p in self.store.scroll(FACES, where={"image_id": image_id})
                if p.payload["face_id"] != except_face}

    def member_sample(self, person_id: str, *, except_face: str) -> tuple[np.ndarray, np.ndarray]:
        """The vectors and quality scores of up to `MEMBER_SAMPLE` faces of a person (other than `except_face`):
        all of a small person, an unbiased sample of a large one, in one bounded read."""
        points = [p for p in self.store.sample(FACES, where={"person_id": person_id}, limit=MEMBER_SAMPLE + 1,
                                               with_vectors=True, fields=["face_id", "quality_score"])
                  if p.payload["face_id"] != except_face][:MEMBER_SAMPLE]
        vectors = np.stack([p.vector for p in points]) if points else np.zeros((0, self.dimension), np.float32)
        return vectors, np.array([p.payload["quality_score"] for p in points], dtype=np.float32)

    def nearest_faces(self, faces: FaceArrays, *, limit: int, threshold: float) -> tuple[np.ndarray, np.ndarray] | None:
        """Each face's nearest faces found by the store itself, where it can (`FaceStore.nearest_faces`)."""
        return self.store.nearest_faces(faces.face_ids, limit=limit, threshold=threshold)

    def search(self, queries: np.ndarray, *, limit: int, threshold: float | None = None) -> list[list[Hit]]:
        """The nearest faces of each query. The search index is built here, lazily, after writes: `index` and
        `cluster_all` (which finds neighbours its own way) never wait for it."""
        self.update_index()
        return self.store.search(queries, limit=limit, threshold=threshold)

    def person_sizes(self) -> dict[str, int]:
        """Faces per person."""
        return self.store.value_counts(FACES, "person_id")

    def unsure_face_ids(self) -> list[str]:
        """The faces the face gate calls unsure (`face_gate`; kept in their photos' payloads), sorted."""
        return sorted(face_id for page in self.store.scroll_pages(PHOTOS, where={"gate": "unsure"}, fields=["unsure_faces"])
                      for p in page for face_id in p.payload["unsure_faces"])

    def unsure_sizes(self) -> dict[str, int]:
        """Unsure faces per person."""
        unsure = self.unsure_face_ids()
        return self.store.value_counts(FACES, "person_id", where={"face_id": unsure}) if unsure else {}

    def faces_of_photo(self, image_id: str) -> list[dict]:
        """The face payloads of one photo, in the order the detector numbered them."""
        return sorted((p.payload for p in self.store.scroll(FACES, where={"image_id": image_id})),
                      key=lambda f: int(f["face_id"].rsplit("_face", 1)[1]))

    def photos(self, image_ids) -> dict[str, dict]:
        """The photo payloads of these image ids (those in the collection)."""
        return {p.payload["image_id"]: p.payload for p in self.store.retrieve(PHOTOS, sorted(set(image_ids)))}

    def photos_under(self, folder: str | os.PathLike, *, recursive: bool = True) -> dict[str, str]:
        """image id -> file path of every photo stored with a path in `folder` (or directly in it)."""
        folder = Path(folder).resolve()
        found = {}
        for page in self.store.scroll_pages(PHOTOS, fields=["image_id", "path", "path_bytes"]):
            for point in page:
                path = Path(photo_path(point.payload))
                if (folder in path.parents) if recursive else (path.parent == folder):
                    found[point.payload["image_id"]] = str(path)
        return found

    def photos_at(self, path: str | os.PathLike, *, except_photo: str) -> list[str]:
        """The image ids of the other photos stored at `path` (older versions of a photo edited in place)."""
        resolved = str(Path(path).resolve())
        return sorted(p.payload["image_id"] for p in self.store.scroll(PHOTOS, where={"path": display_path(resolved)})
                      if photo_path(p.payload) == resolved and p.payload["image_id"] != except_photo
                      and not p.payload.get("removing"))

    def move_photo(self, image_id: str, path: str | os.PathLike) -> None:
        """Record a photo's new place (the same content, found elsewhere)."""
        self.store.set_payload(PHOTOS, [image_id], path_fields(Path(path).resolve()))

    def remove_photos(self, image_ids: list[str]) -> FaceArrays:
        """Delete photos and their faces; returns the faces deleted. The photos are marked first (no longer
        known) and deleted last, so a removal cut short never leaves faces without a photo or a photo that counts
        as known without its faces (`PersonRecords.mark_removal` says which photos to finish)."""
        image_ids = sorted(p.payload["image_id"] for p in self.store.retrieve(PHOTOS, image_ids))  # known ones
        if not image_ids:
            return FaceArrays.empty(self.dimension)
        faces = self.read_faces(where={"image_id": image_ids})
        self.store.set_payload(PHOTOS, image_ids, {"removing": True})
        for start in range(0, len(faces), PAGE):
            self.store.delete(FACES, faces.face_ids[start : start + PAGE])
        self.store.delete(PHOTOS, image_ids)
        return faces

    def face_count(self) -> int:
        return self.store.count(FACES)

    def photo_count(self) -> int:
        return self.store.count(PHOTOS)

    # ---- writing persons ------------------------------------------------------------------------------------

    def set_person(self, face_ids: list[str], person_id: str | None, confidence: float | None = None) -> None:
        """Give faces a person (and, for one face, its confidence), or none."""
        fields = {"person_id": person_id} | ({"person_confidence": confidence} if confidence is not None or person_id is None else {})
        self.store.set_payload(FACES, face_ids, fields)

    def write_assignments(self, faces: FaceArrays, person_of: list[str], confidence: np.ndarray,
                          drift: float = 1e-6) -> int:
        """Write each face's person and confidence where the person changed or the confidence moved by more than
        `drift`, a page at a time; returns how many."""
        changed = [i for i in range(len(faces)) if faces.person_ids[i] != person_of[i]
                   or not abs(faces.confidence[i] - confidence[i]) <= drift]  # nan (none yet) counts as changed
        for start in range(0, len(changed), PAGE):
            rows = changed[start : start + PAGE]
            self.store.set_payloads(FACES, [faces.face_ids[i] for i in rows], [
                {"person_id": person_of[i], "person_confidence": float(confidence[i])} for i in rows])
        return len(changed)


def _or_nan(value: float | None) -> float:
    return np.nan if value is None else value
