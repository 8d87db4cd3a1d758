"""`FaceGraph`: the faces of a photo collection in Qdrant, grouped into persons that people can correct.

Corrections are facts. `merge_persons`, `split_person`, `reassign_face` and `name_person` pin the faces they touch
to their person (the pins live in the person's record in the `persons` collection); `cluster_all`, `assign_persons` and
`assign_person` never move a pinned face and never join faces pinned to different persons.

`person_confidence` of a face is its cosine similarity to the mean direction of the other faces of its person,
clipped to [0, 1], and 0 for a person of one face (see `vectors.confidences`).
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from facegraph import centroids, clustering, neighbours
from facegraph.cluster_settings import ClusterSettings, check_threshold
from facegraph.collection import MEMBER_SAMPLE, Collection, FaceArrays, display_path
from facegraph.constraints import Faces, photo_numbers
from facegraph.errors import (
    InvalidRequestError, NoFaceError, StoreError, StoreFullError, StoreUnavailableError, SyncRefusedError,
    check_at_least,
)
from facegraph.images import KnownPhoto, expand_paths, photo_files, photo_ids_of, positively_gone
from facegraph.person_ids import carry_over_ids, fresh_person_id
from facegraph.person_merges import MergeSuggestion, suggest_merges
from facegraph.person_records import PersonRecords, clean_name, now, public
from facegraph.pipeline import Face, FacePipeline, PhotoError, PhotoFaces
from facegraph.store.base import FACE_BYTES, FaceStore
from facegraph.vectors import confidence_towards, confidences

log = logging.getLogger(__name__)
ASSIGN_NEIGHBOURS = 10  # nearest faces whose persons `find_person` weighs
CLUSTER_PHASES = ("reading faces", "finding neighbours", "clustering", "writing persons")  # as `cluster_all` announces them


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
class SearchResult:
    face_id: str
    image_id: str
    person_id: str | None
    score: float
    bbox: list[int]


@dataclass
class IndexReport:
    """What an `index` or `add_photos` call did."""

    photos: int = 0  # photos given
    indexed: int = 0  # photos read and embedded now
    already_indexed: int = 0  # photos skipped because their content was indexed before (or earlier in the call)
    new_face_ids: list[str] = field(default_factory=list)
    errors: list[PhotoError] = field(default_factory=list)


@dataclass
class SyncReport:
    """What a `sync_folder` call did."""

    photos_checked: int = 0  # photos stored with a path in the folder
    moved: int = 0  # of them, found at another path in the folder (same content): path updated
    removed_photos: int = 0  # of them, whose content is no longer in the folder: removed with their faces
    removed_faces: int = 0
    unseen: int = 0  # of them, missing from the listing but not seen to be gone (folder unreadable): kept
    unindexed_files: int = 0  # files named like photos at paths no stored photo has (new ones, for `index`)


SAME_FACE_SIMILARITY = 0.6  # a face of an edited photo is the same face as the old one it is this alike to, or more


def same_faces(similarity: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (old face, new face) of a photo edited in place that are the same face: most alike first, each face
    in one pair at most, at cosine >= SAME_FACE_SIMILARITY."""
    pairs, used_old, used_new = [], set(), set()
    for row, col in zip(*np.unravel_index(np.argsort(-similarity, axis=None), similarity.shape)):
        if similarity[row, col] < SAME_FACE_SIMILARITY:
            break
        if row not in used_old and col not in used_new:
            pairs.append((int(row), int(col)))
            used_old.add(row)
            used_new.add(col)
    return pairs


MASS_REMOVAL_SHARE = 0.2  # a sync may remove at most this share of a folder's photos unless told otherwise ...
MASS_REMOVAL_FREE = 5  # ... except this many, which any sync may remove (deleting a few photos needs no flag)


def refuse_unsafe_removal(folder, stored: dict[str, str], gone: list[str], unseen: list[str]) -> None:
    """Raise `SyncRefusedError` if a sync of `folder` (whose `stored` photos are image id -> path) would remove
    photos it cannot see are gone (`unseen`), every photo of the folder, or more than `MASS_REMOVAL_SHARE` of them
    (beyond `MASS_REMOVAL_FREE`)."""
    where = display_path(folder)
    if unseen:
        folders = sorted({display_path(Path(stored[image_id]).parent) for image_id in unseen})
        raise SyncRefusedError(
            f"{len(unseen)} photos of {where} cannot be seen (folders that cannot be read: {', '.join(folders[:5])}"
            f"{' ...' if len(folders) > 5 else ''}); nothing was removed. Make them readable, or pass "
            "--allow-mass-removal to remove only the photos seen to be gone")
    everything = len(gone) == len(stored) and len(gone) > 1
    if everything or (len(gone) > MASS_REMOVAL_FREE and len(gone) > MASS_REMOVAL_SHARE * len(stored)):
        raise SyncRefusedError(
            f"this sync would remove {len(gone)} of the {len(stored)} photos stored from {where} "
            f"({'all of them' if everything else f'more than {MASS_REMOVAL_SHARE:.0%}'}); nothing was removed. "
            "If the folder is the right one and those photos are really deleted, pass --allow-mass-removal")


def open_store(location: str | os.PathLike | None = None, *, url: str | None = None, api_key: str | None = None) -> FaceStore:
    """The embedded store at `location` (default: `default_store_path()`), or a Qdrant server at `url`."""
    if location is not None and url is not None:
        raise ValueError("give a store path or a Qdrant url, not both")
    if url is not None:
        from facegraph.store.server import ServerStore

        return ServerStore(url, api_key=api_key)
    from facegraph.store.embedded import EmbeddedStore

    return EmbeddedStore(location)


class FaceGraph:
    """The persons API over one face store.

    >>> with FaceGraph("~/photos.facegraph") as graph:              # doctest: +SKIP
    ...     graph.index(["holiday/"])
    ...     graph.cluster_all(threshold=0.4)
    """

    def __init__(self, location: str | os.PathLike | None = None, *, url: str | None = None,
                 api_key: str | None = None, store: FaceStore | None = None,
                 pipeline: FacePipeline | Callable[[], FacePipeline] | None = None,
                 settings: ClusterSettings | None = None):
        self.settings = settings or ClusterSettings()  # how cluster_all and the assign methods group faces
        self.store = store or open_store(location, url=url, api_key=api_key)
        self.collection = Collection(self.store)  # the face and photo points
        self.records = PersonRecords(self.store)  # the person points
        self._pipeline = pipeline if pipeline is not None else FacePipeline.from_names
        self.last_run: dict = {}  # what the last cluster_all did
        if self.store.exclusive:
            self.finish_interrupted_work()
        elif (self.records.interrupted_removal() or self.records.interrupted_run() is not None
              or self.records.interrupted_correction() is not None):
            log.warning("a recluster, a correction or a removal of photos is under way on this server, or was cut short: "
                        "call finish_interrupted_work() once no other client is writing")

    def finish_interrupted_work(self) -> None:
        """Finish what a process that died left half-done: a correction (its plan written again), a removal of
        photos (some faces gone, the photos still marked), then a recluster (some persons written, some not), which is run again to the end, so that every
        person is as one whole run made it (the same faces and settings give the same persons). Opening a store
        that one process opens at a time does this by itself; on a Qdrant server, where another client may be
        in the middle of the same work, call it yourself."""
        if (correction := self.records.interrupted_correction()) is not None:
            log.warning("finishing a %s that was interrupted", correction[0])
            self._write_correction(*correction)
            self.records.clear_correction()
        if removing := self.records.interrupted_removal():
            log.warning("finishing the removal of %d photos that was interrupted", len(removing))
            self.remove_photos(removing)
        if (interrupted := self.records.interrupted_run()) is not None:
            settings = ClusterSettings(**interrupted)
            log.warning("finishing a recluster that was interrupted (%s)", settings.name)
            self.cluster_all(settings)

    @property
    def pipeline(self) -> FacePipeline:
        """The face pipeline; given as a factory, the models load on first use, not for every call."""
        if not isinstance(self._pipeline, FacePipeline):
            self._pipeline = self._pipeline()
        return self._pipeline

    def close(self) -> None:
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- indexing -------------------------------------------------------------------------------------------

    def index(self, paths, *, progress: Callable[[int], None] | None = None,
              phase: Callable[[str], None] | None = None, found: Callable[[int], None] | None = None) -> IndexReport:
        """Detect, embed and store the faces of `paths` (photos, or folders of them), through `add_photos`. Each
        file is read once; a photo whose content is already indexed is not decoded again, so indexing twice
        changes nothing. Unreadable photos are reported in the result and the rest go on.

        `found`, if given, is called with the number of photos found in `paths` (folders are listed once, here),
        `progress` with the number of photos done after each one (for a progress bar), and `phase` with the name of
        each step as it starts ("loading the models", "reading and embedding photos").
        The search index over the new faces is built by the first search that needs it (`assign_person`, `search`),
        not here: `cluster_all` needs none, and at a million faces it takes most of an hour.
        """
        phase = phase or (lambda step: None)
        files = expand_paths(paths)
        if found:
            found(len(files))
        if not isinstance(self._pipeline, FacePipeline):
            phase("loading the models")
        pipeline = self.pipeline
        phase("reading and embedding photos")
        results = pipeline.run(files, is_known=self.collection.is_known)
        return self.add_photos(results, progress=progress, phase=phase)

    def add_photos(self, photos: Iterable[PhotoFaces | PhotoError | KnownPhoto], *, assign: bool = False,
                   settings: ClusterSettings | None = None, progress: Callable[[int], None] | None = None,
                   phase: Callable[[str], None] | None = None) -> IndexReport:
        """Store the faces of photos read by a `FacePipeline` (here, or elsewhere such as a Dagster asset): the
        one ingest path. A photo whose content the collection holds, or that came earlier in `photos`, is skipped,
        so adding twice changes nothing; `PhotoError`s are reported. With `assign`, the search index is brought up to
        date and the new faces are given persons by `assign_persons` (with `settings`)."""
        report, seen = IndexReport(), set()
        for photo in photos:
            report.photos += 1
            if isinstance(photo, PhotoError):
                report.errors.append(photo)
            elif isinstance(photo, KnownPhoto) or photo.image_id in seen or self.collection.is_known(photo.image_id):
                report.already_indexed += 1
            else:
                seen.add(photo.image_id)
                self.store.check_space(len(photo.faces) * FACE_BYTES, "store photos in")
                try:
                    face_ids = self.collection.add_photo(photo, now())
                    self.remove_photos(self._carry_corrections(photo))  # older versions at its path leave
                    self.collection.photo_added(photo.image_id)
                    report.new_face_ids.extend(face_ids)
                    report.indexed += 1
                except (StoreUnavailableError, StoreFullError):
                    raise  # the server is gone, or the disk full: every photo after this one would fail the same way
                except StoreError as exc:  # this photo only: report it and go on with the rest
                    report.errors.append(PhotoError(photo.path, f"could not be stored ({exc})"))
            if progress:
                progress(1)
        if assign:
            if phase and self.collection.index_stale:
                phase("building the search index")  # which the placing searches (without assign: the next search)
            self.collection.update_index()
            if phase:
                phase("giving the new faces persons")
            self.assign_persons(report.new_face_ids, settings)
        return report

    def remove_photos(self, image_ids: Iterable[str]) -> int:
        """Remove photos (by image id) and their faces from the collection; returns how many faces went.

        Corrections of the faces that remain hold; pins of removed faces are dropped, persons left without faces
        are deleted, and the others get fresh confidences and representatives. Unknown ids are ignored."""
        image_ids = sorted(set(image_ids))
        if not image_ids:
            return 0
        self.records.mark_removal(image_ids)
        self.records.keep_corrections_of_photos(image_ids)
        removed = self.collection.remove_photos(image_ids)
        self.records.forget_faces(removed.face_ids)
        for person_id in sorted({person for person in removed.person_ids if person}):
            if not self.records.drop_if_empty(person_id):
                self._refresh_confidences(person_id)
        self.records.clear_removal()
        return len(removed)

    def _carry_corrections(self, photo: PhotoFaces) -> list[str]:
        """Give the faces of a newly stored photo the corrections of the faces they continue: those of the same
        content removed earlier (the same face ids: `keep_corrections_of_photos`), and those of an older version
        of the photo at the same path (edited in place: the same face is the one with the most alike embedding,
        at cosine >= SAME_FACE_SIMILARITY). A person that left with a photo is made again with its name. Returns
        the older versions, which the caller removes."""
        face_ids = [face.face_id for face in photo.faces]
        kept = self.records.kept_corrections(photo.image_id) or {"pins": {}, "names": {}}
        pins, names = {face: kept["pins"][face] for face in face_ids if face in kept["pins"]}, kept["names"]
        older = self.collection.photos_at(photo.path, except_photo=photo.image_id)
        if older and photo.faces:
            old = self.collection.read_faces(where={"image_id": older})
            old_pins = {face: person for person, faces in self.records.pinned_elsewhere(None, old.face_ids).items()
                        for face in faces}
            similarity = old.vectors @ np.stack([face.embedding for face in photo.faces]).T
            for row, col in same_faces(similarity):
                if (person := old_pins.get(old.face_ids[row])) is not None:
                    pins[face_ids[col]] = person
        existing = self.records.records(sorted(set(pins.values())))
        for person_id in sorted(set(pins.values())):
            faces = sorted(face for face, person in pins.items() if person == person_id)
            self.records.pin(person_id, faces, name=None if person_id in existing else names.get(person_id))
            self.collection.set_person(faces, person_id)  # after the record: no face names a person without one
            self._refresh_confidences(person_id)
        if kept["pins"]:
            self.records.forget_kept_corrections(photo.image_id)
        return older

    def sync_folder(self, folder: str | os.PathLike, *, recursive: bool = True,
                    allow_mass_removal: bool = False) -> SyncReport:
        """Bring the photos stored from `folder` in step with it: a photo whose file is gone from its path but
        whose content is elsewhere in the folder keeps its faces, persons and corrections, with its new path; one
        whose file is positively gone (`images.positively_gone`) and whose content is nowhere in the folder is
        removed (`remove_photos`, which keeps its corrections for the day it comes back). New photos are left to
        `index`.

        Nothing is removed, and `SyncRefusedError` says why, when `folder` is not a folder (a share not mounted),
        when some missing photos cannot be seen to be gone (a folder that cannot be read), or when the sync would
        remove every photo of the folder or more than `MASS_REMOVAL_SHARE` of them (`removal_is_safe`): an empty
        folder given by mistake must not wipe a library. With `allow_mass_removal` the photos that are gone are
        removed however many, and those that cannot be seen are kept and counted in `unseen`.

        Only files at paths no stored photo has are read (hashed, not decoded), and only when a stored photo is
        missing, so a sync of an unchanged folder reads no photo. A photo edited in place is new content to
        `index`; its old version stays until its file is gone."""
        root = Path(folder).resolve()
        if not root.is_dir():
            raise SyncRefusedError(f"{display_path(folder)} is not a folder (not mounted, moved or mistyped?); "
                                   "nothing was removed")
        stored = self.collection.photos_under(folder, recursive=recursive)
        files = {str(path.resolve()): path for path in photo_files(folder, recursive=recursive)}
        stored_paths = set(stored.values())
        unknown = [path for resolved, path in files.items() if resolved not in stored_paths]
        missing = sorted(image_id for image_id, path in stored.items() if path not in files)
        present = photo_ids_of(unknown) if missing else {}
        moved = {image_id: present[image_id][0] for image_id in missing if image_id in present}
        unseen = [i for i in missing if i not in moved and not positively_gone(stored[i], root)]
        gone = [i for i in missing if i not in moved and i not in unseen]
        if not allow_mass_removal:
            refuse_unsafe_removal(folder, stored, gone, unseen)
        for image_id, path in moved.items():
            self.collection.move_photo(image_id, path)
        report = SyncReport(photos_checked=len(stored), moved=len(moved), removed_photos=len(gone),
                            unseen=len(unseen), unindexed_files=len(unknown) - len(moved))
        report.removed_faces = self.remove_photos(gone)
        return report

    # ---- clustering -----------------------------------------------------------------------------------------

    def cluster_all(self, settings: ClusterSettings | None = None, *, phase: Callable[[str], None] | None = None,
                    **changes) -> int:
        """Group every face into persons; returns the number of persons.

        `settings` (default: this graph's, with any `changes` such as `threshold=0.3`) say how: the neighbour
        graph keeps each face's `neighbours` nearest faces with cosine >= `threshold`, and `method` clusters it.
        Corrections are kept, two faces of one photo never share a person, person ids are carried over, and only
        what changed is written. `last_run` then holds the settings, counts and the seconds each phase took.
        """
        settings = (settings or self.settings).with_(**changes)
        phase = phase or (lambda step: None)
        clock = PhaseClock()
        phase(CLUSTER_PHASES[0])
        faces = self.collection.read_faces()
        clock.lap("read")
        person_of, details = self._recluster(faces, settings, clock, phase=phase)
        self.last_run = settings.parameters() | {"faces": len(faces), **details, "persons": len(set(person_of)),
                                                 "seconds": clock.laps}
        return len(set(person_of))

    def assign_persons(self, face_ids: list[str], settings: ClusterSettings | None = None, **changes) -> dict[str, str]:
        """Give a batch of new faces persons as `cluster_all` would: the faces are reclustered together with every
        person their nearest faces belong to (a `cluster_all` of just that part of the collection), so a batch
        can found persons, join them, or join two persons it bridges, and it does not depend on the order the
        faces came in. Corrections and the photo rule hold as in `cluster_all`. Returns face id -> person id.

        Its cost grows with the persons the batch touches; for one face at a time, `assign_person` is quicker.
        """
        settings = (settings or self.settings).with_(**changes)
        wanted = set(face_ids)
        new = self.collection.read_faces(where={"face_id": sorted(wanted)}) if wanted else None
        if new is None or not len(new):
            return {}
        hits = self.collection.search(new.vectors, limit=settings.neighbours + 1, threshold=settings.lowest_threshold)
        touched = sorted({hit.payload.get("person_id") for found in hits for hit in found} - {None}
                         | {person for person in new.person_ids if person})
        if touched:
            members = self.collection.read_faces(where={"person_id": touched})
            others = np.array([i for i, face_id in enumerate(members.face_ids) if face_id not in wanted], np.int64)
            new = FaceArrays.joined(members.rows(others), new)
        person_of, _ = self._recluster(new, settings, PhaseClock(), scope=touched)
        return {face_id: person for face_id, person in zip(new.face_ids, person_of) if face_id in wanted}

    def _recluster(self, faces: FaceArrays, settings: ClusterSettings, clock: PhaseClock,
                   scope: list[str] | None = None, phase: Callable[[str], None] = lambda step: None,
                   ) -> tuple[list[str], dict]:
        """Cluster `faces` (all of the collection, or of the persons in `scope` with new faces), carry person ids
        over, and write what changed; returns each face's person and what the run did."""
        known, pinned_persons = self._clustering_input(faces)
        phase(CLUSTER_PHASES[1])
        graph, graph_kind = self._neighbour_graph(faces, settings, whole_collection=scope is None)
        clock.lap("neighbour_graph")
        phase(CLUSTER_PHASES[2])
        labels = clustering.cluster(graph, known, settings) if len(faces) else np.zeros(0, np.int64)
        clock.lap("clustering")
        phase(CLUSTER_PHASES[3])
        reserved = {int(labels[i]): pinned_persons[known.pins[i]] for i in np.flatnonzero(known.pins >= 0)}
        unfinished = self.records.made_by_interrupted_run()  # ids a run cut short made: free for the same clusters
        ids = carry_over_ids(labels, faces.face_ids, faces.person_ids, reserved,
                             in_use=lambda candidates: self._ids_in_use(candidates) - unfinished)
        person_of = [ids[label] for label in labels]
        confidence = confidences(faces.vectors, labels)
        clock.lap("person_ids")
        self.store.check_space(len(faces) * FACE_BYTES, "recluster")  # before the first write: all or nothing
        # new records first, stale ones last: at no moment does a face name a person without a record
        large = centroids.person_centroids(labels, faces.vectors, faces.quality, settings)
        plan = self.records.prepare(faces.face_ids, person_of, confidence, settings.to_dict(), scope=scope)
        written = self.collection.write_assignments(faces, person_of, confidence)
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
            same_photo = self.collection.persons_of_photo(face.payload["image_id"], except_face=face_id)
            for hit in hits:
                person = hit.payload.get("person_id")
                shift = settings.similarity_shift(quality, hit.payload["quality_score"])
                linked = hit.score + shift >= settings.connect_bar
                if person and linked and person not in same_photo and hit.payload["face_id"] != face_id:
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
                         else fresh_person_id([face_id], set(), lambda ids: self._ids_in_use(ids) - {previous}))
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

    def suggest_merges(self, limit: int = 10) -> list[MergeSuggestion]:
        """Pairs of persons that are probably one person, most likely first, with the evidence (how alike their
        mean directions, their faces on average and their closest faces are). Pairs that share a photo, that
        hold faces pinned to different persons or that `split_person` separated are never suggested."""
        check_at_least(limit, 1, "limit")
        faces = self.collection.read_faces(clustered_only=True)
        if not len(faces):
            return []
        person_ids, labels = np.unique(faces.person_ids, return_inverse=True)
        return suggest_merges(labels.reshape(-1), self._clustering_input(faces)[0], list(person_ids), limit=limit,
                              kept_apart=self.records.kept_apart())

    def _clustering_input(self, faces: FaceArrays) -> tuple[Faces, list[str]]:
        """What clustering knows of `faces`, and the persons numbered in `Faces.pins`."""
        pins = self.records.pins()
        pinned_persons = sorted(set(pins.values()))
        number = {person_id: n for n, person_id in enumerate(pinned_persons)}
        pinned = np.array([number.get(pins.get(face_id), -1) for face_id in faces.face_ids], dtype=np.int64)
        return Faces(faces.vectors, photo_numbers(faces.image_ids), pinned, faces.quality), pinned_persons

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

    # ---- reading persons ------------------------------------------------------------------------------------

    def get_person(self, person_id: str) -> dict:
        """A person's record: name, representative face, times, face count and face ids."""
        record = self.records.get(person_id)
        face_ids = self._face_ids_of(person_id)
        return public(record) | {"face_count": len(face_ids), "face_ids": face_ids}

    def list_persons(self, limit: int = 100, offset: int = 0) -> list[dict]:
        """Persons, largest first (ties by id), with their face counts: `limit` of them after the `offset` largest."""
        check_at_least(limit, 1, "limit")
        check_at_least(offset, 0, "offset")
        counts = self.collection.person_sizes()
        page = sorted(counts, key=lambda p: (-counts[p], p))[offset : offset + limit]
        records = self.records.records(page)
        return [public(records.get(p, {"person_id": p})) | {"face_count": counts[p]} for p in page]

    # ---- corrections ----------------------------------------------------------------------------------------

    def merge_persons(self, person_ids: list[str], target_person_id: str | None = None) -> str:
        """Make one person of several; returns the id kept (`target_person_id`, else the largest person's)."""
        person_ids = list(dict.fromkeys(person_ids))
        if len(person_ids) < 2:
            raise InvalidRequestError(f"merging needs at least two different persons, got {person_ids}")
        records = {p: self.records.get(p) for p in person_ids}
        members = {p: self._face_ids_of(p) for p in person_ids}
        if target_person_id is None:
            target_person_id = max(person_ids, key=lambda p: (len(members[p]), -person_ids.index(p)))
        elif target_person_id not in person_ids:
            raise InvalidRequestError(f"target {target_person_id} is not among the persons merged {person_ids}")
        name = records[target_person_id].get("name") or next((r["name"] for r in records.values() if r.get("name")), None)
        self._correct("merge", target=target_person_id, faces=sorted(f for faces in members.values() for f in faces),
                      name=name, others=[p for p in person_ids if p != target_person_id])
        return target_person_id

    def split_person(self, person_id: str, face_groups: list[list[str]]) -> list[str]:
        """Split faces off a person: each group becomes a person, returned in order. If the groups cover every
        face, the first group keeps the person's id and name; otherwise the faces left over keep them."""
        record = self.records.get(person_id)
        members = set(self._face_ids_of(person_id))
        groups = [sorted(set(group)) for group in face_groups]
        listed = [f for group in groups for f in group]
        if not groups or any(not group for group in groups):
            raise InvalidRequestError("split needs one or more non-empty face groups")
        if len(listed) != len(set(listed)):
            raise InvalidRequestError(f"split groups overlap: {sorted(f for f, n in Counter(listed).items() if n > 1)}")
        if outside := sorted(set(listed) - members):
            raise InvalidRequestError(f"faces {outside} are not faces of {person_id}")
        rest = sorted(members - set(listed))
        keeps_id = 0 if not rest else None
        new_ids, taken = [], {person_id}
        for n, group in enumerate(groups):
            new_ids.append(person_id if n == keeps_id else fresh_person_id([person_id, "split", *group], taken, self._ids_in_use))
            taken.add(new_ids[-1])
        self._correct("split", person_id=person_id, groups=[[i, g] for i, g in zip(new_ids, groups)], rest=rest,
                      name=record.get("name"))
        return new_ids

    def reassign_face(self, face_id: str, target_person_id: str) -> None:
        """Move one face to another person, for good."""
        face = self.collection.face(face_id)
        self.records.get(target_person_id)
        self._correct("reassign", face_id=face_id, target=target_person_id, previous=face.payload.get("person_id"))

    def name_person(self, person_id: str, name: str) -> str:
        """Name a person; returns the name as stored (`person_records.clean_name`: control characters removed,
        bounded length). Naming confirms the person: its faces are pinned to it, so the name stays with them."""
        name = clean_name(name)
        self.records.get(person_id)
        self._correct("name", person_id=person_id, faces=self._face_ids_of(person_id), name=name)
        return name

    def _correct(self, verb: str, **plan) -> None:
        """Write a correction as a journaled plan: the plan is kept first, then written (`_write_<verb>`), then
        the mark cleared, so a process that dies in between leaves the plan, which the next open writes again
        (every write of a plan can be written twice). Reads happen before; a plan writes only."""
        self.records.mark_correction(verb, plan)
        self._write_correction(verb, plan)
        self.records.clear_correction()

    def _write_correction(self, verb: str, plan: dict) -> None:
        {"merge": self._write_merge, "split": self._write_split, "reassign": self._write_reassign,
         "name": self._write_name}[verb](**plan)

    def _write_merge(self, target: str, faces: list[str], name: str | None, others: list[str]) -> None:
        self.records.pin(target, faces, name=name)
        self.collection.set_person(faces, target)
        self.records.delete(others)
        self._refresh_confidences(target)

    def _write_split(self, person_id: str, groups: list, rest: list[str], name: str | None) -> None:
        for new_id, group in groups:  # each record before its faces: no face names a person without a record
            self.records.pin(new_id, group, name=name if new_id == person_id else None, replace=True)
            self.collection.set_person(group, new_id)
        if rest:
            self.records.pin(person_id, rest, name=name, replace=True)
        persons = sorted({new_id for new_id, _ in groups} | {person_id})
        self.records.keep_apart(persons)
        for new_id in persons:
            self._refresh_confidences(new_id)

    def _write_reassign(self, face_id: str, target: str, previous: str | None) -> None:
        self.records.pin(target, [face_id])  # also unpins it from any other person
        self.collection.set_person([face_id], target)
        if previous and previous != target:
            if not self.records.drop_if_empty(previous):
                self._refresh_confidences(previous)
        self._refresh_confidences(target)

    def _write_name(self, person_id: str, faces: list[str], name: str) -> None:
        self.records.pin(person_id, faces, name=name)

    # ---- queries by photo -----------------------------------------------------------------------------------

    def search(self, image, limit: int = 10) -> list[SearchResult]:
        """The faces most like the largest face in `image` (a path or an RGB array), best first."""
        check_at_least(limit, 1, "limit")
        hits = self.collection.search(self._query_face(image).embedding[None], limit=limit)[0]
        return [SearchResult(h.payload["face_id"], h.payload["image_id"], h.payload.get("person_id"), h.score,
                             h.payload["bbox"]) for h in hits]

    def find_person(self, image, threshold: float | None = None) -> str | None:
        """The person whose faces are most like the largest face in `image`, or None if none reaches `threshold`
        (default: the graph's τ)."""
        threshold = self.settings.threshold if threshold is None else threshold
        check_threshold(threshold)
        hits = self.collection.search(self._query_face(image).embedding[None], limit=ASSIGN_NEIGHBOURS,
                                      threshold=threshold)[0]
        votes = Counter()
        for hit in hits:
            if hit.payload.get("person_id"):
                votes[hit.payload["person_id"]] += hit.score
        return min(votes, key=lambda p: (-votes[p], p)) if votes else None

    # ---- helpers --------------------------------------------------------------------------------------------

    def _query_face(self, image) -> Face:
        """The largest face of a query image (a path or an RGB array)."""
        if isinstance(image, np.ndarray):
            result = self.pipeline.run_arrays([image])[0]
        else:
            [result] = list(self.pipeline.run([image]))
            if isinstance(result, PhotoError):
                raise NoFaceError(f"cannot read query image {result.path}: {result.reason}")
        if not result.faces:
            raise NoFaceError(f"no face found in query image {result.path}")
        return max(result.faces, key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]))

    def _ids_in_use(self, person_ids: list[str]) -> set[str]:
        """Which of `person_ids` are held by persons in the store."""
        return set(self.records.records(person_ids))

    def _face_ids_of(self, person_id: str) -> list[str]:
        return self.collection.face_ids_of(person_id)

    def _refresh_confidences(self, person_id: str) -> None:
        faces = self.collection.read_faces(where={"person_id": person_id})
        if not len(faces):
            return
        scores = confidences(faces.vectors, np.zeros(len(faces), dtype=np.int64))
        self.collection.write_assignments(faces, [person_id] * len(faces), scores)
        self.records.set_centroid(person_id, centroids.kept(centroids.of_faces(faces.vectors, faces.quality,
                                                                                 self.settings.quality_range)))
        self.records.set_representative(person_id, faces.face_ids[int(np.argmax(scores))])
