"""Reclustering: all faces into persons (`cluster_all`), a batch of new faces (`assign_persons`) or one face
(`assign_person`), keeping every correction, the photo rule and the person ids a cluster continues.

A recluster marks itself in the `persons` collection and makes its new persons' records before it writes a face,
so a run cut short is finished by running it again with the same settings (`FaceGraph.finish_interrupted_work`).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
from scipy.sparse import coo_matrix

from facegraph import centroids, clustering, neighbours
from facegraph.cluster_settings import ClusterSettings
from facegraph.collection import MEMBER_SAMPLE, Collection, FaceArrays
from facegraph.constraints import Faces, photo_numbers
from facegraph.person_ids import carry_over_ids, fresh_person_id
from facegraph.person_records import PersonRecords
from facegraph.store.base import FACE_BYTES
from facegraph.sparse_linkage import Seeds
from facegraph.vectors import confidence_towards, confidences

CLUSTER_PHASES = ("reading faces", "finding neighbours", "clustering", "writing persons")  # as `cluster_all` announces them
SEED_FROM = 1000  # faces: a person this large takes part in `assign_persons` by its centroid, not face by face
# A face is rewritten when its person changes, or its confidence by more than this: a write moves the point out of
# the engine's search index (copy on write), and the next search re-indexes all that moved, so a day's faces must
# not rewrite every face of the persons they join for a confidence that moved in the fourth decimal.
CONFIDENCE_DRIFT = 0.005


class PhaseClock:
    """Seconds spent in each named phase of a run."""

    def __init__(self):
        self.laps: dict[str, float] = {}
        self._start = time.perf_counter()

    def lap(self, phase: str) -> None:
        end = time.perf_counter()
        self.laps[phase] = round(end - self._start, 3)
        self._start = end


@dataclass(frozen=True)
class ClusterReport:
    """What one `cluster_all` did: its settings (those that shape the result), the faces it read, how the neighbour
    graph was found and its edges, the clusters and persons it made, the faces whose person it rewrote, and the
    seconds each phase took."""

    settings: dict
    faces: int
    graph: str
    edges: int
    clusters: int
    faces_rewritten: int
    persons: int
    seconds: dict[str, float]

    def to_dict(self) -> dict:
        """One flat dict, the settings first (`cluster-all --json`)."""
        report = asdict(self)
        return report.pop("settings") | report


class Recluster:
    """The reclustering of one collection, with its settings."""

    def __init__(self, collection: Collection, records: PersonRecords, settings: ClusterSettings):
        self.collection, self.records, self.settings = collection, records, settings

    def cluster_all(self, settings: ClusterSettings | None = None, *, phase: Callable[[str], None] | None = None,
                    **changes) -> ClusterReport:
        """Group every face into persons; returns what the run did (`ClusterReport`).

        `settings` (default: this graph's, with any `changes` such as `threshold=0.3`) say how: the neighbour
        graph keeps each face's `neighbours` nearest faces with cosine >= `threshold`, and `method` clusters it.
        Corrections are kept, two faces of one photo never share a person, person ids are carried over, and only
        what changed is written.
        """
        settings = (settings or self.settings).with_(**changes)
        phase = phase or (lambda step: None)
        clock = PhaseClock()
        phase(CLUSTER_PHASES[0])
        faces = self.without_not_faces(self.collection.read_faces())
        clock.lap("read")
        person_of, details = self._recluster(faces, settings, clock, phase=phase)
        return ClusterReport(settings.parameters(), len(faces), **details, persons=len(set(person_of)),
                             seconds=clock.laps)

    def assign_persons(self, face_ids: list[str], settings: ClusterSettings | None = None, **changes) -> dict[str, str]:
        """Give a batch of new faces persons as `cluster_all` would: the faces are reclustered together with every
        person their nearest faces belong to (a `cluster_all` of just that part of the collection), so a batch
        can found persons, join them, or join two persons it bridges, and it does not depend on the order the
        faces came in. Corrections and the photo rule hold as in `cluster_all`. Returns face id -> person id.

        A person of `SEED_FROM` faces or more (a child in a family library: 100,000 faces) is not read: with
        average linkage it takes part as one group, from the centroid its record keeps, and stays as it is but
        for the faces that join it. Its cost grows with the persons the batch touches; for one face at a time,
        `assign_person` is quicker.
        """
        settings = (settings or self.settings).with_(**changes)
        wanted = set(face_ids)
        new = self.without_not_faces(self.collection.read_faces(where={"face_id": sorted(wanted)})) if wanted else None
        if new is None or not len(new):
            return {}
        hits = self.collection.search(new.vectors, limit=settings.neighbours + 1, threshold=settings.lowest_threshold)
        touched = sorted({hit.payload.get("person_id") for found in hits for hit in found} - {None}
                         | {person for person in new.person_ids if person})
        large = self._large(touched, settings) if settings.method == "average" else {}
        read = [person for person in touched if person not in large]
        if read:
            members = self.collection.read_faces(where={"person_id": read})
            others = np.array([i for i, face_id in enumerate(members.face_ids) if face_id not in wanted], np.int64)
            new, hits = FaceArrays.joined(members.rows(others), new), [[]] * len(others) + hits
        for row, person in enumerate(new.person_ids):  # a face placed again is its person's no more
            if person in large:
                large[person] = centroids.with_face(large[person], new.vectors[row], new.quality[row], -1)
        large = {p: c for p, c in large.items() if c["count"] > 0}  # all its faces in the batch: nothing unread
        beside = Beside.of(large, hits, new.quality, settings) if large else None
        person_of, _ = self._recluster(new, settings, PhaseClock(), scope=touched, beside=beside)
        return {face_id: person for face_id, person in zip(new.face_ids, person_of) if face_id in wanted}

    def _large(self, person_ids: list[str], settings: ClusterSettings) -> dict[str, dict]:
        """The persons of `SEED_FROM` faces or more among `person_ids`, with their centroids."""
        return {p: c for p, c in self._centroids(person_ids, settings).items() if c["count"] >= SEED_FROM}

    def without_not_faces(self, faces: FaceArrays) -> FaceArrays:
        """`faces` less those a person said are not faces (`Corrections.mark_not_a_face`), which no person holds."""
        not_faces = self.records.not_faces()
        return faces.rows(np.flatnonzero(~np.isin(faces.face_ids, not_faces))) if not_faces else faces

    def _recluster(self, faces: FaceArrays, settings: ClusterSettings, clock: PhaseClock,
                   scope: list[str] | None = None, phase: Callable[[str], None] = lambda step: None,
                   beside: Beside | None = None) -> tuple[list[str], dict]:
        """Cluster `faces` (all of the collection, or of the persons in `scope` with new faces, and `beside` the
        large ones of those, unread), carry person ids over, and write what changed; returns each face's person and
        what the run did."""
        known, pinned_persons = self.clustering_input(faces)
        phase(CLUSTER_PHASES[1])
        graph, graph_kind = self._neighbour_graph(faces, settings, whole_collection=scope is None)
        clock.lap("neighbour_graph")
        phase(CLUSTER_PHASES[2])
        reserved, seed_labels = {}, np.zeros(0, np.int64)
        if beside is not None:
            number = {person_id: n for n, person_id in enumerate(pinned_persons)}
            seed_pins = np.array([number.get(p, len(pinned_persons) + i) for i, p in enumerate(beside.person_ids)])
            nodes = clustering.renumber(clustering.cluster_beside(graph, known, beside.seeds, beside.edges, seed_pins,
                                                                  settings))
            labels, seed_labels = nodes[: len(faces)], nodes[len(faces) :]
            reserved = dict(zip(seed_labels.tolist(), beside.person_ids))
        else:
            labels = clustering.cluster(graph, known, settings) if len(faces) else np.zeros(0, np.int64)
        clock.lap("clustering")
        phase(CLUSTER_PHASES[3])
        reserved |= {int(labels[i]): pinned_persons[known.pins[i]] for i in np.flatnonzero(known.pins >= 0)}
        unfinished = self.records.journal.made_by_interrupted_run()  # ids a run cut short made: free for the same clusters
        ids = carry_over_ids(labels, faces.face_ids, faces.person_ids, reserved,
                             in_use=lambda candidates: self.records.held(candidates) - unfinished)
        person_of = [ids[label] for label in labels]
        confidence = confidences(faces.vectors, labels)
        large = centroids.person_centroids(labels, faces.vectors, faces.quality, settings)
        if beside is not None:  # a large person's faces are its centroid's and those that joined it
            confidence, grown = beside.joined(labels, seed_labels, faces, confidence, settings)
            large |= grown
        clock.lap("person_ids")
        self.collection.store.check_space(len(faces) * FACE_BYTES, "recluster")  # before the first write: all or nothing
        # new records first, stale ones last: at no moment does a face name a person without a record
        plan = self.records.prepare(faces.face_ids, person_of, confidence, settings.to_dict(), scope=scope,
                                    kept=beside.person_ids if beside else ())
        written = self.collection.write_assignments(faces, person_of, confidence, drift=CONFIDENCE_DRIFT)
        self.records.finish(plan, {ids[label]: centroid for label, centroid in large.items()})
        clock.lap("payload_writes")
        return person_of, {"graph": graph_kind, "edges": clustering.undirected(graph).nnz // 2,
                           "clusters": len(ids), "faces_rewritten": written}

    def assign_person(self, face_id: str, settings: ClusterSettings | None = None, **changes) -> str:
        """Give one face a person, as `cluster_all` would place a newcomer, without reclustering.

        A pinned face keeps its person. Otherwise the candidates are the persons of the face's `neighbours`
        nearest faces whose cosine reaches the pair's bar to connect (`connect_bar`, lower for poor faces with
        quality-aware settings), less any person that already has a face of the same photo. With
        "average" the face joins the candidate it is most alike on average, if that reaches `threshold`; with the
        other methods, the candidate its neighbours' similarities add up most for. With no candidate it becomes
        a new person. Returns the person id.

        The average is over every other face of a candidate, from the centroid its record keeps
        (`facegraph.centroids`), which this placement then updates; a person without one is read.
        """
        settings = (settings or self.settings).with_(**changes)
        face = self.collection.face(face_id, with_vector=True)
        vector, quality, previous = face.vector, face.payload["quality_score"], face.payload.get("person_id")
        person_id = self.records.pinned_person(face_id)
        votes = Counter()
        if person_id is None:
            hits = self.collection.search(vector[None], limit=settings.neighbours + 1,
                                          threshold=settings.lowest_threshold)[0]
            kept_from = self.collection.persons_of_photo(face.payload["image_id"], except_face=face_id)
            apart = self.records.kept_apart_from(face_id)
            kept_from |= self.collection.persons_of_faces(sorted(apart)) if apart else set()  # an answer's "no"
            for hit in hits:
                person = hit.payload.get("person_id")
                shift = settings.similarity_shift(quality, hit.payload["quality_score"])
                linked = hit.score + shift >= settings.connect_bar
                if person and linked and person not in kept_from and hit.payload["face_id"] != face_id:
                    votes[person] += hit.score
        stored = self._centroids(sorted(set(votes) | {person_id, previous} - {None}), settings)
        others = {}  # person -> (centroid of its faces other than this one, whether it covers all of them)
        if person_id is None:
            others = {p: self._other_faces(p, face_id, stored.get(p), previous, vector, quality, settings)
                      for p in sorted(votes)}
            if settings.method == "average":
                average = {p: centroids.average_similarity(centroid, vector, quality, settings)
                           for p, (centroid, _) in others.items() if centroid}
                score = {p: value for p, value in average.items() if value is not None and value >= settings.threshold}
            else:
                score = votes
            # the highest score wins, ties to the smaller id so that runs agree; a new person gets an id no other
            # person holds (its own may stay)
            person_id = (min(score, key=lambda p: (-score[p], p)) if score
                         else fresh_person_id([face_id], set(), lambda ids: self.records.held(ids) - {previous}))
        if person_id not in others:
            others[person_id] = self._other_faces(person_id, face_id, stored.get(person_id), previous, vector,
                                                  quality, settings)
        rest, whole = others[person_id]
        own = np.asarray(vector, dtype=np.float64)[None]
        confidence = 0.0 if rest is None else float(confidence_towards(own, centroids.vector_sum(rest)[None])[0])
        self.collection.set_person([face_id], person_id, confidence)
        grown = centroids.kept(centroids.with_face(rest, vector, quality)) if rest and whole else None
        keep = grown if grown and not centroids.same(grown, stored.get(person_id)) else None
        self.records.touch(person_id, representative=face_id if rest is None else None,
                           changes={"centroid": keep} if keep else None)
        if previous and previous != person_id:
            if not self.records.drop_if_empty(previous) and previous in stored:
                self.records.set_centroid(previous, centroids.with_face(stored[previous], vector, quality, -1))
        return person_id

    def _centroids(self, person_ids: list[str], settings: ClusterSettings) -> dict[str, dict]:
        """The stored centroids of `person_ids` that these settings can use."""
        return {p: record["centroid"] for p, record in self.records.records(person_ids).items()
                if centroids.usable(record.get("centroid"), settings)}

    def _other_faces(self, person_id: str, face_id: str, stored: dict | None, previous: str | None,
                     vector: np.ndarray, quality: float, settings: ClusterSettings) -> tuple[dict | None, bool]:
        """The centroid of a person's faces other than `face_id` (None if it has none), and whether it covers all
        of them: a stored centroid does, and so does a read of a person of fewer than MEMBER_SAMPLE faces; a
        larger person without one is read as a sample."""
        if stored:
            return (centroids.with_face(stored, vector, quality, -1) if person_id == previous else stored), True
        vectors, qualities = self.collection.member_sample(person_id, except_face=face_id)
        if not len(vectors):
            return None, True
        return centroids.of_faces(vectors, qualities, settings.quality_range), len(vectors) < MEMBER_SAMPLE

    def clustering_input(self, faces: FaceArrays, answers: list[dict] | None = None) -> tuple[Faces, list[str]]:
        """What clustering knows of `faces` (their pins, photos and the pairs answers keep apart; `answers` if
        read already), and the persons numbered in `Faces.pins`."""
        pins = self.records.pins()
        pinned_persons = sorted(set(pins.values()))
        number = {person_id: n for n, person_id in enumerate(pinned_persons)}
        pinned = np.array([number.get(pins.get(face_id), -1) for face_id in faces.face_ids], dtype=np.int64)
        row = {face_id: n for n, face_id in enumerate(faces.face_ids)}
        apart = np.array([(row[a], row[b]) for a, b in self.records.kept_apart_faces(answers) if a in row and b in row],
                         dtype=np.int64).reshape(-1, 2)
        return Faces(faces.vectors, photo_numbers(faces.image_ids), pinned, faces.quality, apart), pinned_persons

    def _neighbour_graph(self, faces: FaceArrays, settings: ClusterSettings, *, whole_collection: bool = True) -> tuple:
        """The neighbour graph and how it was found: for the whole collection, by the store where it can (a Qdrant
        server searches its own index, next to the data), else here, exactly or approximately
        (`ClusterSettings.approximate`)."""
        threshold = settings.lowest_threshold
        found = (self.collection.nearest_faces(faces, limit=settings.neighbours, threshold=threshold)
                 if whole_collection else None)
        if found is not None:
            return neighbours.knn_graph(*found, threshold=threshold), "store searches"
        approximate = neighbours.is_approximate(len(faces), settings.approximate)
        return (neighbours.neighbour_graph(faces.vectors, threshold=threshold, k=settings.neighbours,
                                           approximate=approximate), "approximate" if approximate else "exact")


@dataclass(frozen=True)
class Beside:
    """The large persons a batch of faces is clustered beside (`assign_persons`), unread: their centroids, and
    each face's link to them (its shifted similarity to the nearest of their faces among its neighbours)."""

    person_ids: list[str]
    stored: list[dict]  # their centroids, as their records keep them
    seeds: Seeds
    edges: coo_matrix  # faces x persons

    @classmethod
    def of(cls, large: dict[str, dict], hits: list[list], quality: np.ndarray, settings: ClusterSettings) -> Beside:
        person_ids = sorted(large)
        column = {p: n for n, p in enumerate(person_ids)}
        best: dict[tuple[int, int], float] = {}
        shifted = settings.poor_threshold is not None  # quality-aware, as `clustering.linkable` shifts the graph
        for row, found in enumerate(hits):
            for hit in found:
                if (person := hit.payload.get("person_id")) in column:
                    shift = settings.similarity_shift(quality[row], hit.payload["quality_score"]) if shifted else 0.0
                    key = (row, column[person])
                    best[key] = max(best.get(key, -np.inf), float(hit.score + shift))
        keys = np.array(list(best), np.int64).reshape(-1, 2)
        edges = coo_matrix((list(best.values()), (keys[:, 0], keys[:, 1])), shape=(len(hits), len(person_ids)))
        stored = [large[p] for p in person_ids]
        seeds = Seeds(np.array([centroids.vector_sum(c) for c in stored]), np.array([c["count"] for c in stored]),
                      np.array([c["levels"] for c in stored], np.int64))
        return cls(person_ids, stored, seeds, edges)

    def joined(self, labels: np.ndarray, seed_labels: np.ndarray, faces: FaceArrays, confidence: np.ndarray,
               settings: ClusterSettings) -> tuple[np.ndarray, dict[int, dict]]:
        """The confidence of the faces that joined a large person (towards all its faces), and its centroid grown
        by them, by label."""
        confidence, grown = confidence.copy(), {}
        for label, stored in zip(seed_labels.tolist(), self.stored):
            rows = np.flatnonzero(labels == label)
            if not len(rows):
                continue
            part = centroids.of_faces(faces.vectors[rows], faces.quality[rows], settings.quality_range)
            total = centroids.vector_sum(stored) + centroids.vector_sum(part)
            own = faces.vectors[rows].astype(np.float64)
            confidence[rows] = confidence_towards(own, total[None] - own)
            grown[label] = centroids.centroid(total, stored["count"] + part["count"],
                                              np.add(stored["levels"], part["levels"]), settings.quality_range)
        return confidence, grown
