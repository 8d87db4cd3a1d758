"""Answers: facegraph asks (`facegraph.questions`), a person answers, and every answer is a fact kept for good.

- "yes" to "are these two persons one?" merges them, pinned like any merge;
- "no" keeps the faces shown of each side in different persons for good: no recluster, `assign_person`,
  `assign_persons` or question joins them again (`constraints.Faces.apart`);
- "yes" to "is this face this person?" pins the face to it; "no" keeps the face apart from the person's faces
  shown, takes it out and places it as `assign_person` would elsewhere (or alone);
- "skip" is kept too, so the same question is not asked again.

An answer is a record in the `persons` collection with its time, written together with what it does as one journaled
plan (`Corrections.record_answer`), and it keeps what the persons it touched were before, so that `undo` puts the
last answer back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from facegraph.cluster_settings import ClusterSettings
from facegraph.collection import Collection
from facegraph.corrections import Corrections
from facegraph.errors import InvalidRequestError, StaleQuestionError, check_at_least
from facegraph.journal import now
from facegraph.person_ids import fresh_person_id
from facegraph.person_records import ANSWER, PersonRecords
from facegraph.questions import Question, face_questions, pair_questions, ranked, subject_probability
from facegraph.recluster import Recluster
from facegraph.tuning import Evidence, fit_bars

REPLIES = ("yes", "no", "skip")
OPEN_QUESTIONS = 10_000  # how far `open_question` looks


@dataclass(frozen=True)
class Retune:
    """What `Answers.retune` did: the settings before and after, the pair answers it fitted to, how many of them
    each agreed with, and the persons the recluster joined (fewer persons: positive)."""

    before: ClusterSettings
    after: ClusterSettings
    answers: int
    agreed_before: int
    agreed_after: int
    persons_joined: int

    @property
    def message(self) -> str:
        if self.after == self.before:
            return f"τ {self.before.threshold:.2f}, connect {self.before.connect_bar:.2f} kept ({self.answers} answers)"
        return (f"τ {self.before.threshold:.2f} → {self.after.threshold:.2f}, connect {self.before.connect_bar:.2f} → "
                f"{self.after.connect_bar:.2f} from {self.answers} answers ({self.agreed_before} → "
                f"{self.agreed_after} agree): {self.persons_joined} persons joined")


class Answers:
    """The questions and answers of one collection."""

    def __init__(self, collection: Collection, records: PersonRecords, corrections: Corrections, recluster: Recluster):
        self.collection, self.records, self.corrections, self.recluster = collection, records, corrections, recluster

    def questions(self, limit: int = 10) -> list[Question]:
        """The `limit` open questions whose answers are expected to put the most pairs of faces right, first."""
        check_at_least(limit, 1, "limit")
        faces = self.collection.read_faces(clustered_only=True)
        if not len(faces):
            return []
        answers = self.records.answers()
        asked = {answer["key"] for answer in answers}
        person_ids, labels = np.unique(faces.person_ids, return_inverse=True)
        known = self.recluster.clustering_input(faces, answers)[0]
        labels, person_ids = labels.reshape(-1), [str(p) for p in person_ids]
        subject = subject_probability(faces.sides, faces.image_ids, faces.quality)
        return ranked(pair_questions(labels, known, person_ids, faces.face_ids, asked, subject)
                      + face_questions(labels, known, person_ids, faces.face_ids, asked, limit, subject), limit)

    def open_question(self, key: str) -> Question:
        """The open question of this `Question.key` (as `questions` gives it), as the collection is now."""
        found = next((q for q in self.questions(limit=OPEN_QUESTIONS) if q.key == key), None)
        if found is None:
            raise StaleQuestionError(f"no open question {key!r}: it was answered, or its persons changed; ask for "
                                     "the questions again")
        return found

    def answer(self, question: Question, reply: str) -> dict:
        """Keep `reply` ("yes", "no" or "skip") to `question` and do what it says; returns the answer's record.
        A question whose persons changed since it was asked is refused (`StaleQuestionError`), changing nothing."""
        if reply not in REPLIES:
            raise InvalidRequestError(f"an answer is one of {', '.join(REPLIES)}, got {reply!r}")
        persons = list(question.person_ids)
        self._check_current(question)
        before = {f: p for p in persons for f in self.collection.face_ids_of(p)}
        order = time.time_ns()
        record = {"person_id": f"{ANSWER}:{order}", "kind": ANSWER, "key": question.key, "question": question.kind,
                  "reply": reply, "person_ids": persons, "face_id": question.face_id,
                  "shown": [list(side) for side in question.shown], "probability": question.probability,
                  "shown_faces": sorted({face for side in question.shown for face in side}),  # to look answers up by
                  "features": question.features,
                  "answered_at": now(), "order": order,
                  "before": {"records": self.records.records(persons), "faces": before}}
        then, read = None, None
        if reply == "yes" and question.kind == "same_person":
            plan, read = self.corrections.plan_merge(persons)
            then = ("merge", plan)
        elif reply == "yes":
            then = ("reassign", dict(face_id=question.face_id, target=persons[0], previous=persons[0]))
        elif reply == "no" and question.kind == "face_person":
            new_id = fresh_person_id([question.face_id, "answer", str(order)], set(), self.records.held)
            then = ("detach", dict(face_id=question.face_id, person_id=persons[0], new_id=new_id))
        self.corrections.record_answer(record, then, read)
        if then and then[0] == "detach":
            self.recluster.assign_person(question.face_id)  # its place among the others; never back (`Faces.apart`)
        return record

    def retune(self) -> Retune:
        """Fit this collection's τ and connect bar to its pair answers (`facegraph.tuning`, within a bounded range
        around the default) and, if the fitted bars agree with clearly more answers than the current ones, recluster
        with them and keep them as the collection's settings (`FaceGraph` opens with them)."""
        current = self.recluster.settings
        evidence = Evidence.of(self.records.answers())
        fitted = fit_bars(evidence, current)
        if fitted == current:
            return Retune(current, current, len(evidence), evidence.agreeing(current), evidence.agreeing(current), 0)
        persons = len(self.collection.person_sizes())
        report = self.recluster.cluster_all(fitted)
        self.recluster.settings = fitted
        retune = Retune(current, fitted, len(evidence), evidence.agreeing(current), evidence.agreeing(fitted),
                        persons - report.persons)
        self.records.keep_tuned_settings(fitted.to_dict(), retune.message)
        return retune

    def undo(self) -> dict | None:
        """Undo the last answer: the persons it changed are put back as they were before it, and it is forgotten
        (a "no" or "skip" changed no person: it is only forgotten). Returns its record, or None if there is none."""
        answers = self.records.answers()
        if not answers:
            return None
        last = answers[-1]
        changed = last["reply"] == "yes" or (last["reply"] == "no" and last["question"] == "face_person")
        if not changed:
            last = last | {"before": {"records": {}, "faces": {}}}
        now_persons = sorted(set(self.collection.person_of_each(sorted(last["before"]["faces"])).values()) - {None})
        self.corrections.undo_answer(last, now_persons)
        return last

    def undo_last(self) -> dict | None:
        """Undo the last correction (`Corrections`' history) or answer, whichever came last; returns its record
        (a correction's says what it did in `summary`), or None if there is nothing to undo."""
        answers, history = self.records.answers(), self.records.history()
        if history and (not answers or history[-1]["order"] > answers[-1]["order"]):
            self.corrections.undo_correction(history[-1])
            return history[-1]
        return self.undo()

    def _check_current(self, question: Question) -> None:
        """The question's shown faces are still in the persons it names."""
        sides = question.shown[1:] if question.kind == "face_person" else question.shown
        expected = {face: person for person, side in zip(question.person_ids, sides) for face in side}
        if question.face_id:
            expected[question.face_id] = question.person_ids[0]
        current = self.collection.person_of_each(sorted(expected))
        if any(current.get(face) != person for face, person in expected.items()):
            raise StaleQuestionError("the persons of this question changed since it was asked (another answer, a "
                                     "correction or a recluster came first): ask for the questions again")
