"""Queries: persons and their faces, merge suggestions, and the faces or person most like a photo."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from facegraph.cluster_settings import check_threshold
from facegraph.collection import Collection
from facegraph.errors import InvalidRequestError, NoFaceError, check_at_least
from facegraph.face_gate import MIN_FACES_SHOWN
from facegraph.person_merges import MergeSuggestion, suggest_merges
from facegraph.person_records import PersonRecords, public
from facegraph.pipeline import Face, LazyPipeline, PhotoError
from facegraph.recluster import Recluster

PLACES = ("persons", "small", "unsure", "hidden")  # where the People page shows a person (`Queries.people`)


@dataclass(frozen=True)
class People:
    """A page of persons as the People page lists them: `persons` (each with its `place` and face count), how
    many match in all (`total`), and how many persons each place holds (`counts`)."""

    persons: list[dict]
    total: int
    counts: dict[str, int]


@dataclass(frozen=True)
class SearchResult:
    face_id: str
    image_id: str
    person_id: str | None
    score: float
    bbox: list[int]


class Queries:
    """What can be asked of one collection."""

    def __init__(self, collection: Collection, records: PersonRecords, pipeline: LazyPipeline, recluster: Recluster):
        self.collection, self.records, self.pipeline, self.recluster = collection, records, pipeline, recluster

    def get_person(self, person_id: str) -> dict:
        """A person's record: name, representative face, times, face count and face ids."""
        record = self.records.get(person_id)
        face_ids = self.collection.face_ids_of(person_id)
        return public(record) | {"face_count": len(face_ids), "face_ids": face_ids}

    def list_persons(self, limit: int = 100, offset: int = 0) -> list[dict]:
        """Persons, largest first (ties by id), with their face counts: `limit` of them after the `offset` largest."""
        check_at_least(limit, 1, "limit")
        check_at_least(offset, 0, "offset")
        counts = self.collection.person_sizes()
        page = sorted(counts, key=lambda p: (-counts[p], p))[offset : offset + limit]
        records = self.records.records(page)
        return [public(records.get(p, {"person_id": p})) | {"face_count": counts[p]} for p in page]

    def people(self, place: str = "persons", *, search: str = "", min_faces: int = MIN_FACES_SHOWN, limit: int = 50,
               offset: int = 0) -> People:
        """Persons as the People page lists them: named ones first (by name), then the largest. Each person is in
        one place: "hidden" if a person hid it, else "persons" if it is named, else "unsure" if every face of it is
        unsure (`facegraph.face_gate`), else "small" if it has fewer than `min_faces` faces, else "persons". A
        `search` (part of a name, or the start of an id, any case) looks in every place."""
        if place not in PLACES:
            raise InvalidRequestError(f"a place is one of {', '.join(PLACES)}, got {place!r}")
        check_at_least(limit, 1, "limit")
        check_at_least(offset, 0, "offset")
        sizes, unsure = self.collection.person_sizes(), self.collection.unsure_sizes()
        marked = self.records.corrected()

        def place_of(person_id: str) -> str:
            record = marked.get(person_id, {})
            if record.get("hidden"):
                return "hidden"
            if record.get("name"):
                return "persons"
            if unsure.get(person_id, 0) >= sizes[person_id]:
                return "unsure"
            return "small" if sizes[person_id] < min_faces else "persons"

        places = {person_id: place_of(person_id) for person_id in sizes}
        wanted = search.strip().casefold()
        found = [p for p in sizes if (wanted in (marked.get(p, {}).get("name") or "").casefold() or p.startswith(wanted))
                 ] if wanted else [p for p in sizes if places[p] == place]
        found.sort(key=lambda p: (not marked.get(p, {}).get("name"), (marked.get(p, {}).get("name") or "").casefold(),
                                  -sizes[p], p))
        page = found[offset : offset + limit]
        records = self.records.records(page)
        return People([public(records.get(p, {"person_id": p})) | {"face_count": sizes[p], "place": places[p]}
                       for p in page], len(found), {name: sum(1 for v in places.values() if v == name) for name in PLACES})

    def nearest_persons(self, person_id: str, limit: int = 5) -> list[str]:
        """The persons whose faces are most like `person_id`'s representative face, nearest first (where a face
        of it is likely to belong instead)."""
        face_id = self.records.get(person_id).get("representative_face_id")
        if not face_id:
            return []
        hits = self.collection.search(self.collection.face(face_id, with_vector=True).vector[None], limit=20 * limit)[0]
        found = dict.fromkeys(h.payload.get("person_id") for h in hits)
        return [p for p in found if p and p != person_id][:limit]

    def names(self) -> list[str]:
        """Every name persons hold, sorted (any case)."""
        return sorted({r["name"] for r in self.records.corrected().values() if r.get("name")}, key=str.casefold)

    def persons_named(self, name: str) -> list[str]:
        """The persons that hold `name` (any case), sorted."""
        wanted = name.strip().casefold()
        return sorted(p for p, record in self.records.corrected().items() if (record.get("name") or "").casefold() == wanted)

    def not_faces(self) -> list[dict]:
        """The payloads of the faces a person said are not faces."""
        return self.collection.face_payloads(self.records.not_faces())

    def suggest_merges(self, limit: int = 10) -> list[MergeSuggestion]:
        """Pairs of persons that are probably one person, most likely first, with the evidence (how alike their
        mean directions, their faces on average and their closest faces are). Pairs that share a photo, that
        hold faces pinned to different persons or that `split_person` separated are never suggested."""
        check_at_least(limit, 1, "limit")
        faces = self.collection.read_faces(clustered_only=True)
        if not len(faces):
            return []
        person_ids, labels = np.unique(faces.person_ids, return_inverse=True)
        return suggest_merges(labels.reshape(-1), self.recluster.clustering_input(faces)[0], list(person_ids), limit=limit,
                              kept_apart=self.records.kept_apart())

    def search(self, image, limit: int = 10) -> list[SearchResult]:
        """The faces most like the largest face in `image` (a path or an RGB array), best first."""
        check_at_least(limit, 1, "limit")
        hits = self.collection.search(self._query_face(image).embedding[None], limit=limit)[0]
        return [SearchResult(h.payload["face_id"], h.payload["image_id"], h.payload.get("person_id"), h.score,
                             h.payload["bbox"]) for h in hits]

    def find_person(self, image, threshold: float | None = None) -> str | None:
        """The person whose faces are most like the largest face in `image`, or None if none reaches `threshold`
        (default: the graph's τ)."""
        threshold = self.recluster.settings.threshold if threshold is None else threshold
        check_threshold(threshold)
        hits = self.collection.search(self._query_face(image).embedding[None], limit=self.recluster.settings.neighbours,
                                      threshold=threshold)[0]
        votes = Counter()
        for hit in hits:
            if hit.payload.get("person_id"):
                votes[hit.payload["person_id"]] += hit.score
        return min(votes, key=lambda p: (-votes[p], p)) if votes else None

    def _query_face(self, image) -> Face:
        """The largest face of a query image (a path or an RGB array)."""
        if isinstance(image, np.ndarray):
            result = self.pipeline.get().run_arrays([image])[0]
        else:
            [result] = list(self.pipeline.get().run([image]))
            if isinstance(result, PhotoError):
                raise NoFaceError(f"cannot read query image {result.path}: {result.reason}")
        if not result.faces:
            raise NoFaceError(f"no face found in query image {result.path}")
        return max(result.faces, key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]))
