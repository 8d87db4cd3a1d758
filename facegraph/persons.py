"""`FaceGraph`: the faces of a photo collection in Qdrant, grouped into persons that people can correct.

A facade over one store: each verb lives in the module named by what it does, `ingest` (index, add, remove, sync),
`recluster` (cluster_all, assign_persons, assign_person), `corrections` (merge, split, move, name), `answers`
(questions, answers, undo) and `queries` (persons, suggestions, search by photo); `collection` and
`person_records` own the points.
"""

from __future__ import annotations

import logging
import os
from typing import Callable

from facegraph.answers import Answers, Retune
from facegraph.cluster_settings import ClusterSettings
from facegraph.collection import Collection
from facegraph.corrections import Corrections
from facegraph.ingest import Ingest, IndexReport, SyncReport
from facegraph.person_merges import MergeSuggestion
from facegraph.person_records import PersonRecords
from facegraph.pipeline import FacePipeline, LazyPipeline
from facegraph.queries import People, Queries, SearchResult
from facegraph.questions import Question
from facegraph.recluster import ClusterReport, Recluster
from facegraph.store.base import FaceStore
from facegraph.store.open import open_store

log = logging.getLogger(__name__)


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
        self.store = store or open_store(location, url=url, api_key=api_key)
        self.collection = Collection(self.store)  # the face and photo points
        self.records = PersonRecords(self.store)  # the person points
        self.journal = self.records.journal  # the marks of unfinished work
        self.models = LazyPipeline(pipeline)
        if settings is None:  # a collection re-tuned by its answers keeps its own bars
            tuned = self.records.tuned_settings()
            settings = ClusterSettings(**tuned) if tuned else ClusterSettings()  # how faces are grouped
        self.corrections = Corrections(self.collection, self.records, settings.quality_range)
        self.reclustering = Recluster(self.collection, self.records, settings)
        self.ingest = Ingest(self.collection, self.records, self.models, self.reclustering, self.corrections)
        self.queries = Queries(self.collection, self.records, self.models, self.reclustering)
        self.answers = Answers(self.collection, self.records, self.corrections, self.reclustering)
        if self.store.exclusive:
            self.finish_interrupted_work()
        elif self.journal.unfinished_work():
            log.warning("work is under way on this server, or was cut short: call finish_interrupted_work() once no "
                        "other client is writing")

    def finish_interrupted_work(self) -> None:
        """Finish what a dead process left half-done (`journal`): a correction or answer, a removal of photos, then a
        recluster, each to the end. Opening an embedded store does this; on a Qdrant server, call it yourself."""
        if (correction := self.journal.interrupted_correction()) is not None:
            log.warning("finishing a %s that was interrupted", correction[0])
            self.corrections.finish(*correction)
        if removing := self.journal.interrupted_removal():
            log.warning("finishing the removal of %d photos that was interrupted", len(removing))
            self.remove_photos(removing)
        if (interrupted := self.journal.interrupted_run()) is not None:
            settings = ClusterSettings(**interrupted)
            log.warning("finishing a recluster that was interrupted (%s)", settings.name)
            self.cluster_all(settings)

    settings = property(lambda self: self.reclustering.settings, doc="How faces are grouped.")
    pipeline = property(lambda self: self.models.get(), doc="The face pipeline, its models loaded on first use.")

    def close(self) -> None:
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def index(self, paths, **options) -> IndexReport:
        """`Ingest.index`: detect, embed and store the faces of photos and folders."""
        return self.ingest.index(paths, **options)

    def add_photos(self, photos, **options) -> IndexReport:
        """`Ingest.add_photos`: store photos a pipeline read (the one way in)."""
        return self.ingest.add_photos(photos, **options)

    def remove_photos(self, image_ids) -> int:
        """`Ingest.remove_photos`: photos and their faces out, their corrections kept aside."""
        return self.ingest.remove_photos(image_ids)

    def sync_folder(self, folder, **options) -> SyncReport:
        """`Ingest.sync_folder`: the photos stored from a folder in step with it."""
        return self.ingest.sync_folder(folder, **options)

    def cluster_all(self, settings: ClusterSettings | None = None, **options) -> ClusterReport:
        """`Recluster.cluster_all`: every face into persons; what the run did."""
        return self.reclustering.cluster_all(settings, **options)

    def assign_persons(self, face_ids: list[str], settings: ClusterSettings | None = None, **changes) -> dict[str, str]:
        """`Recluster.assign_persons`: a batch of new faces given persons as `cluster_all` would."""
        return self.reclustering.assign_persons(face_ids, settings, **changes)

    def assign_person(self, face_id: str, settings: ClusterSettings | None = None, **changes) -> str:
        """`Recluster.assign_person`: one face given a person without reclustering."""
        return self.reclustering.assign_person(face_id, settings, **changes)

    def merge_persons(self, person_ids: list[str], target_person_id: str | None = None) -> str:
        """`Corrections.merge_persons`: one person of several, for good."""
        return self.corrections.merge_persons(person_ids, target_person_id)

    def split_person(self, person_id: str, face_groups: list[list[str]]) -> list[str]:
        """`Corrections.split_person`: groups of faces off a person, for good."""
        return self.corrections.split_person(person_id, face_groups)

    def reassign_face(self, face_id: str, target_person_id: str) -> None:
        """`Corrections.reassign_face`: one face to another person, for good."""
        self.corrections.reassign_face(face_id, target_person_id)

    def name_person(self, person_id: str, name: str) -> str:
        """`Corrections.name_person`: a name, which also confirms the person's faces."""
        return self.corrections.name_person(person_id, name)

    def unname_person(self, person_id: str) -> None:
        """`Corrections.unname_person`: a name cleared."""
        self.corrections.unname_person(person_id)

    def hide_person(self, person_id: str, hidden: bool = True) -> None:
        """`Corrections.hide_person`: a person out of sight (or back), for good."""
        self.corrections.hide_person(person_id, hidden)

    def mark_not_a_face(self, face_id: str) -> None:
        """`Corrections.mark_not_a_face`: a face out of every person, for good."""
        self.corrections.mark_not_a_face(face_id)

    def mark_a_face(self, face_id: str) -> str:
        """`Corrections.mark_a_face`: a face taken back, and placed as `assign_person` would; its person."""
        self.corrections.mark_a_face(face_id)
        return self.assign_person(face_id)

    def undo(self) -> dict | None:
        """`Answers.undo_last`: the last correction or answer undone."""
        return self.answers.undo_last()

    def questions(self, limit: int = 10) -> list[Question]:
        """`Answers.questions`: the open questions whose answers are expected to put the most right."""
        return self.answers.questions(limit)

    def answer(self, question: Question, reply: str) -> dict:
        """`Answers.answer`: "yes", "no" or "skip" to a question, kept for good."""
        return self.answers.answer(question, reply)

    def retune(self) -> Retune:
        """`Answers.retune`: the collection's bars fitted to its answers, reclustered if clearly more agree."""
        return self.answers.retune()

    def undo_answer(self) -> dict | None:
        """`Answers.undo`: the last answer undone."""
        return self.answers.undo()

    def get_person(self, person_id: str) -> dict:
        """`Queries.get_person`: a person's record, face count and face ids."""
        return self.queries.get_person(person_id)

    def list_persons(self, limit: int = 100, offset: int = 0) -> list[dict]:
        """`Queries.list_persons`: persons, largest first."""
        return self.queries.list_persons(limit, offset)

    def people(self, place: str = "persons", **options) -> People:
        """`Queries.people`: persons as the People page lists them, named first, by place."""
        return self.queries.people(place, **options)

    def suggest_merges(self, limit: int = 10) -> list[MergeSuggestion]:
        """`Queries.suggest_merges`: pairs of persons that are probably one, with the evidence."""
        return self.queries.suggest_merges(limit)

    def search(self, image, limit: int = 10) -> list[SearchResult]:
        """`Queries.search`: the faces most like the largest face of a photo."""
        return self.queries.search(image, limit)

    def find_person(self, image, threshold: float | None = None) -> str | None:
        """`Queries.find_person`: the person of the largest face of a photo, if any is close enough."""
        return self.queries.find_person(image, threshold)
