"""Corrections: merge, split, move a face and name, each a fact that no recluster undoes.

Each pins the faces it touches to their person (the pins live in the person's record). A correction is written as a
journaled plan: every read happens first, the plan is kept in the `persons` collection, then written, then the mark
cleared, so that a process that dies in between leaves a plan the next opening writes again (`FaceGraph.
finish_interrupted_work`).
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from facegraph import centroids
from facegraph.collection import Collection, FaceArrays
from facegraph.errors import InvalidRequestError
from facegraph.person_ids import fresh_person_id
from facegraph.journal import now
from facegraph.person_records import CORRECTION, NOT_A_FACE, PersonRecords, clean_name
from facegraph.vectors import confidences


class Corrections:
    """The corrections of one collection."""

    def __init__(self, collection: Collection, records: PersonRecords, quality_range: tuple[float, float]):
        self.collection, self.records, self.quality_range = collection, records, quality_range

    def merge_persons(self, person_ids: list[str], target_person_id: str | None = None) -> str:
        """Make one person of several; returns the id kept (`target_person_id`, else the largest person's)."""
        plan, read = self.plan_merge(person_ids, target_person_id)
        self._correct("merge", plan, read=read, undo=self._before(list(dict.fromkeys(person_ids)), f"merged {len(plan['others']) + 1} persons"))
        return plan["target"]

    def plan_merge(self, person_ids: list[str], target_person_id: str | None = None) -> tuple[dict, FaceArrays]:
        """The plan of a merge (every read done), and the faces it read."""
        person_ids = list(dict.fromkeys(person_ids))
        if len(person_ids) < 2:
            raise InvalidRequestError(f"merging needs at least two different persons, got {person_ids}")
        records = self.records.records(person_ids)
        for missing in (p for p in person_ids if p not in records):
            self.records.get(missing)  # raises PersonNotFoundError
        read = self.collection.read_faces(where={"person_id": person_ids})  # each face read once, vectors and all
        members = {p: [f for f, q in zip(read.face_ids, read.person_ids) if q == p] for p in person_ids}
        if target_person_id is None:
            target_person_id = max(person_ids, key=lambda p: (len(members[p]), -person_ids.index(p)))
        elif target_person_id not in person_ids:
            raise InvalidRequestError(f"target {target_person_id} is not among the persons merged {person_ids}")
        name = records[target_person_id].get("name") or next((r["name"] for r in records.values() if r.get("name")), None)
        return dict(target=target_person_id, faces=sorted(read.face_ids), name=name,
                    others=[p for p in person_ids if p != target_person_id]), read

    def split_person(self, person_id: str, face_groups: list[list[str]]) -> list[str]:
        """Split faces off a person: each group becomes a person, returned in order. If the groups cover every
        face, the first group keeps the person's id and name; otherwise the faces left over keep them."""
        record = self.records.get(person_id)
        members = set(self.collection.face_ids_of(person_id))
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
            new_ids.append(person_id if n == keeps_id else fresh_person_id([person_id, "split", *group], taken, self.records.held))
            taken.add(new_ids[-1])
        self._correct("split", dict(person_id=person_id, groups=[[i, g] for i, g in zip(new_ids, groups)], rest=rest,
                                    name=record.get("name")), undo=self._before([person_id], f"split {len(listed)} faces off"))
        return new_ids

    def reassign_face(self, face_id: str, target_person_id: str) -> None:
        """Move one face to another person, for good."""
        face = self.collection.face(face_id)
        self.records.get(target_person_id)
        previous = face.payload.get("person_id")
        self._correct("reassign", dict(face_id=face_id, target=target_person_id, previous=previous),
                      undo=self._before([p for p in (target_person_id, previous) if p], "moved a face"))

    def name_person(self, person_id: str, name: str) -> str:
        """Name a person; returns the name as stored (`person_records.clean_name`: control characters removed,
        bounded length). Naming confirms the person: its faces are pinned to it, so the name stays with them."""
        name = clean_name(name)
        self.records.get(person_id)
        self._correct("name", dict(person_id=person_id, faces=self.collection.face_ids_of(person_id), name=name),
                      undo=self._before([person_id], f"named {name}"))
        return name

    def unname_person(self, person_id: str) -> None:
        """Clear a person's name (its faces stay pinned to it)."""
        self.records.get(person_id)
        self._correct("name", dict(person_id=person_id, faces=self.collection.face_ids_of(person_id), name=None,
                                   clear=True), undo=self._before([person_id], "cleared a name"))

    def hide_person(self, person_id: str, hidden: bool = True) -> None:
        """Hide a person from the persons (or show it again): its faces are pinned to it, so that it stays one
        person, hidden, through every recluster."""
        self.records.get(person_id)
        self._correct("hide", dict(person_id=person_id, faces=self.collection.face_ids_of(person_id), hidden=hidden),
                      undo=self._before([person_id], "hid a person" if hidden else "showed a hidden person"))

    def mark_not_a_face(self, face_id: str) -> None:
        """Say a face is not a face: it leaves its person and every recluster and placement leaves it out, until
        `mark_a_face` takes it back."""
        face = self.collection.face(face_id)
        previous = face.payload.get("person_id")
        self._correct("not_a_face", dict(face_id=face_id, image_id=face.payload["image_id"], previous=previous),
                      undo=self._before([previous] if previous else [], "marked not a face",
                                        faces={face_id: previous}, made=[f"{NOT_A_FACE}:{face_id}"]))

    def mark_a_face(self, face_id: str) -> None:
        """Take back `mark_not_a_face`: the face is a face again, with no person until it is placed."""
        self.collection.face(face_id)
        key = f"{NOT_A_FACE}:{face_id}"
        if not self.records.records([key]):
            raise InvalidRequestError(f"face {face_id} was not marked as not a face")
        self._correct("a_face", dict(face_id=face_id), undo=self._before([key], "took a face back", faces={face_id: None}))

    def record_answer(self, record: dict, then: tuple[str, dict] | None = None, read: FaceArrays | None = None) -> None:
        """Keep an answer (`facegraph.answers`) and write what it does (`then`: a correction's verb and plan, or
        "detach": a face out of its person), as one journaled plan."""
        self._correct("answer", dict(record=record, then=list(then) if then else None), read=read)

    def undo_answer(self, record: dict, now_persons: list[str]) -> None:
        """Put the persons an answer touched back as they were before it (`record["before"]`) and forget it;
        `now_persons` are the persons its faces are in now (any left empty is deleted)."""
        self._correct("undo", dict(record=record, now_persons=now_persons))

    def undo_correction(self, record: dict) -> None:
        """Put the persons a correction (`history`) touched back as they were before it, and forget it."""
        self._correct("undo", dict(record=record, now_persons=self._now_persons(record)))

    def _now_persons(self, record: dict) -> list[str]:
        return sorted(set(self.collection.person_of_each(sorted(record["before"]["faces"])).values()) - {None})

    def _before(self, keys: list[str], summary: str, *, faces: dict | None = None, made: list[str] = ()) -> dict:
        """The history record of a correction about to be written: the records of `keys` (persons, or any other
        record it changes) and where the faces of those persons (and `faces`) are, as they are now, and the
        records it will make (`made`), so that `undo_correction` can put them back."""
        order = time.time_ns()
        where = {f: p for p in keys if not p.startswith(f"{NOT_A_FACE}:") for f in self.collection.face_ids_of(p)}
        return {"person_id": f"{CORRECTION}:{order}", "kind": CORRECTION, "order": order, "summary": summary,
                "corrected_at": now(), "made": list(made), "persons": sorted(keys),
                "before": {"records": self.records.records(sorted(keys)), "faces": where | (faces or {})}}

    def _correct(self, verb: str, plan: dict, read: FaceArrays | None = None, undo: dict | None = None) -> None:
        """Write a correction as a journaled plan: the plan is kept first, then written (`finish`), so a process
        that dies in between leaves the plan, which the next opening writes again (every write of a plan can be
        written twice). Reads happen before (`read`: faces the plan's writer may reuse); a plan writes only.
        `undo`: the correction's history record (`_before`), kept with it."""
        plan = plan | ({"undo": undo} if undo else {})
        self.records.journal.mark_correction(verb, plan)
        self.finish(verb, plan, read)

    def finish(self, verb: str, plan: dict, read: FaceArrays | None = None) -> None:
        """Write a correction's plan (kept by `_correct`, or left by a process that died writing it), then clear
        its mark."""
        plan = dict(plan)
        undo = plan.pop("undo", None)
        self._write(verb, plan, read)
        if undo:
            self.records.keep_history(undo)
        self.records.journal.clear_correction()

    def _write(self, verb: str, plan: dict, read: FaceArrays | None = None) -> None:
        if verb == "merge":
            self._write_merge(**plan, read=read)
        else:
            {"split": self._write_split, "reassign": self._write_reassign, "name": self._write_name,
             "answer": self._write_answer, "undo": self._write_undo, "detach": self._write_detach,
             "hide": self._write_hide, "not_a_face": self._write_not_a_face, "a_face": self._write_a_face}[verb](**plan)

    def _write_answer(self, record: dict, then: list | None) -> None:
        self.records.put([record])
        if then:
            self._write(*then)

    def _write_detach(self, face_id: str, person_id: str, new_id: str) -> None:
        """A face out of its person, to a person of its own (which a placement may then join to another)."""
        self.records.touch(new_id, representative=face_id)
        self.collection.set_person([face_id], new_id, 0.0)
        if not self.records.drop_if_empty(person_id):
            self.refresh(person_id)

    def _write_undo(self, record: dict, now_persons: list[str]) -> None:
        before = record["before"]
        self.records.delete(record.get("made", []))
        self.records.put([before["records"][p] for p in sorted(before["records"])])
        for person_id in sorted(set(before["faces"].values()) - {None}):
            self.collection.set_person(sorted(f for f, p in before["faces"].items() if p == person_id), person_id)
        if unplaced := sorted(f for f, p in before["faces"].items() if p is None):
            self.collection.set_person(unplaced, None)
        persons = set(now_persons) | {p for p in before["records"] if not p.startswith(f"{NOT_A_FACE}:")}
        for person_id in sorted(persons):
            if not self.records.drop_if_empty(person_id):
                self.refresh(person_id)
        self.records.delete([record["person_id"]])

    def _write_hide(self, person_id: str, faces: list[str], hidden: bool) -> None:
        self.records.pin(person_id, faces)
        self.records.touch(person_id, changes={"hidden": hidden})

    def _write_not_a_face(self, face_id: str, image_id: str, previous: str | None) -> None:
        self.records.put([{"person_id": f"{NOT_A_FACE}:{face_id}", "kind": NOT_A_FACE, "face_id": face_id,
                           "image_id": image_id, "marked_at": now()}])
        self.records.forget_faces([face_id])
        self.collection.set_person([face_id], None)
        if previous and not self.records.drop_if_empty(previous):
            self.refresh(previous)

    def _write_a_face(self, face_id: str) -> None:
        self.records.delete([f"{NOT_A_FACE}:{face_id}"])

    def _write_merge(self, target: str, faces: list[str], name: str | None, others: list[str],
                     read: FaceArrays | None = None) -> None:
        self.records.pin(target, faces, name=name)
        self.collection.set_person(faces, target)
        self.records.delete(others)
        self.refresh(target, read)  # the faces read before are all the target's now

    def _write_split(self, person_id: str, groups: list, rest: list[str], name: str | None) -> None:
        for new_id, group in groups:  # each record before its faces: no face names a person without a record
            self.records.pin(new_id, group, name=name if new_id == person_id else None, replace=True)
            self.collection.set_person(group, new_id)
        if rest:
            self.records.pin(person_id, rest, name=name, replace=True)
        persons = sorted({new_id for new_id, _ in groups} | {person_id})
        self.records.keep_apart(persons)
        for new_id in persons:
            self.refresh(new_id)

    def _write_reassign(self, face_id: str, target: str, previous: str | None) -> None:
        self.records.pin(target, [face_id])  # also unpins it from any other person
        self.collection.set_person([face_id], target)
        if previous and previous != target:
            if not self.records.drop_if_empty(previous):
                self.refresh(previous)
        self.refresh(target)

    def _write_name(self, person_id: str, faces: list[str], name: str | None, clear: bool = False) -> None:
        self.records.pin(person_id, faces, name=name)
        if clear:
            self.records.touch(person_id, changes={"name": None})

    def refresh(self, person_id: str, faces: FaceArrays | None = None) -> None:
        """A person's confidences, centroid and representative, from its faces as they are now (read here, unless
        the caller has them)."""
        faces = faces if faces is not None else self.collection.read_faces(where={"person_id": person_id})
        if not len(faces):
            return
        scores = confidences(faces.vectors, np.zeros(len(faces), dtype=np.int64))
        self.collection.write_assignments(faces, [person_id] * len(faces), scores)
        self.records.set_centroid(person_id, centroids.kept(centroids.of_faces(faces.vectors, faces.quality,
                                                                                 self.quality_range)))
        self.records.set_representative(person_id, faces.face_ids[int(np.argmax(scores))])
