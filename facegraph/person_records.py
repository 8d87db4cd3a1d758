"""Person records in the `persons` collection: names, representative faces, times, and the corrections.

A correction pins faces to a person: the record's `pinned_faces` lists them and its `kind` becomes "corrected".
Face counts are never stored here; they are computed from the faces.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from facegraph.centroids import same
from facegraph.errors import InvalidRequestError, PersonNotFoundError
from facegraph.journal import Journal, now
from facegraph.store.base import FACES, PERSONS, FaceStore

CLUSTERED, CORRECTED = "clustered", "corrected"  # a record's `kind`: made by clustering, or touched by a person
REMOVED = "removed_photo"  # the kind of a record that keeps a removed photo's corrections (key: REMOVED:image_id)
ANSWER = "answer"  # the kind of a record that keeps an answer to a question (key: ANSWER:order, `facegraph.answers`)
NOT_A_FACE = "not_a_face"  # the kind of a record that keeps a face out of every person (key: NOT_A_FACE:face_id)
CORRECTION = "correction"  # the kind of a record that keeps what a correction changed, for undo (key: CORRECTION:order)
UNDO_KEPT = 20  # corrections that can be undone, the latest first
TUNED = "tuned_settings"  # the key and kind of the record of the settings answers re-tuned (`Answers.retune`)
MAX_NAME_LENGTH = 200  # characters: a name, not a note
# Direction overrides and isolates (U+202A-U+202E, U+2066-U+2069) make a name show other than it was typed
BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))


def clean_name(name: str) -> str:
    """A person's name as stored: control characters (newlines, tabs, terminal escapes) and text direction
    overrides removed and spaces at either end trimmed. A name without a visible character (empty, or only spaces
    and invisible characters such as U+200B), longer than `MAX_NAME_LENGTH`, or not valid text (bytes that
    are not UTF-8, as a shell can pass) is refused with `InvalidRequestError`."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequestError(f"a name must be valid UTF-8 text, got {name.encode('utf-8', 'backslashreplace').decode()!r}") from None
    cleaned = "".join(c for c in name if unicodedata.category(c) != "Cc" and c not in BIDI_CONTROLS).strip()
    if not any(unicodedata.category(c)[0] in "LNPSM" for c in cleaned):  # letters, marks, digits, punctuation, symbols
        raise InvalidRequestError(f"a name must have a visible character, got {name!r}")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidRequestError(f"a name may be at most {MAX_NAME_LENGTH} characters long, got {len(cleaned)}")
    return cleaned


@dataclass(frozen=True)
class RecordsPlan:
    """What `PersonRecords.prepare` found for `finish`: each person's best face (its representative) and the
    records that existed before the run (those it may refresh or delete)."""

    best: dict[str, str]  # person id -> face id
    existing: dict[str, dict]  # person id -> record


def new_record(person_id: str, representative: str | None, stamp: str | None = None) -> dict:
    stamp = stamp or now()
    return {"person_id": person_id, "name": None, "representative_face_id": representative,
            "created_at": stamp, "updated_at": stamp, "kind": CLUSTERED, "pinned_faces": []}


def public(record: dict) -> dict:
    return {key: record.get(key) for key in ("person_id", "name", "representative_face_id", "created_at", "updated_at")} | {
        "hidden": bool(record.get("hidden"))}


class PersonRecords:
    """The person records of one store."""

    def __init__(self, store: FaceStore):
        self.store = store
        self.journal = Journal(store)  # the marks of unfinished work, kept beside the records

    def get(self, person_id: str) -> dict:
        found = self.store.retrieve(PERSONS, [person_id])
        if not found:
            raise PersonNotFoundError(f"no person {person_id!r}; list them with `facegraph list-persons`")
        return found[0].payload

    def records(self, person_ids: list[str]) -> dict[str, dict]:
        """The records that exist among `person_ids`, by id."""
        return {r.payload["person_id"]: r.payload for r in self.store.retrieve(PERSONS, person_ids)}

    def held(self, person_ids: list[str]) -> set[str]:
        """Which of `person_ids` are held by persons in the store."""
        return set(self.records(person_ids))

    def delete(self, person_ids: list[str]) -> None:
        self.store.delete(PERSONS, person_ids)

    def put(self, records: list[dict]) -> None:
        """Write whole records (each keyed by its `person_id`), as they are."""
        self.store.upsert(PERSONS, [r["person_id"] for r in records], records)

    def set_representative(self, person_id: str, face_id: str) -> None:
        self.store.set_payload(PERSONS, [person_id], {"representative_face_id": face_id, "updated_at": now()})

    def pins(self) -> dict[str, str]:
        """face_id -> person_id for every face a correction pinned."""
        return {face_id: record.payload["person_id"]
                for record in self.store.scroll(PERSONS, where={"kind": CORRECTED})
                for face_id in record.payload.get("pinned_faces", [])}

    def pinned_person(self, face_id: str) -> str | None:
        """The person a correction pinned `face_id` to, if any."""
        found = self.store.scroll(PERSONS, where={"pinned_faces": face_id})
        return found[0].payload["person_id"] if found else None

    def pin(self, person_id: str, face_ids: list[str], *, name: str | None = None, replace: bool = False) -> None:
        """Record that `face_ids` belong to `person_id` by correction (added to its pins, or replacing them)."""
        for other, faces in self.pinned_elsewhere(person_id, face_ids).items():
            self.unpin(other, faces)
        found = self.store.retrieve(PERSONS, [person_id])
        record = found[0].payload if found else new_record(person_id, face_ids[0] if face_ids else None)
        pinned = set() if replace else set(record.get("pinned_faces", []))
        record = record | {"kind": CORRECTED, "pinned_faces": sorted(pinned | set(face_ids)), "updated_at": now()}
        if name is not None:
            record["name"] = name
        self.store.upsert(PERSONS, [person_id], [record])

    def pinned_elsewhere(self, person_id: str | None, face_ids: list[str]) -> dict[str, list[str]]:
        """Persons other than `person_id` (None: any person) that hold pins on any of `face_ids`, with those faces."""
        moving, elsewhere = set(face_ids), defaultdict(list)
        for record in self.store.scroll(PERSONS, where={"pinned_faces": sorted(moving)}) if moving else []:
            if record.payload["person_id"] != person_id:
                elsewhere[record.payload["person_id"]] = sorted(moving & set(record.payload["pinned_faces"]))
        return elsewhere

    def unpin(self, person_id: str, face_ids: list[str]) -> None:
        found = self.store.retrieve(PERSONS, [person_id])
        if found:
            record = found[0].payload
            remaining = sorted(set(record.get("pinned_faces", [])) - set(face_ids))
            self.store.set_payload(PERSONS, [person_id], {"pinned_faces": remaining, "updated_at": now()})

    def forget_faces(self, face_ids: list[str]) -> None:
        """Drop removed faces from the pins that name them (the other pins of those persons stay)."""
        for person_id, faces in self.pinned_elsewhere(None, face_ids).items():
            self.unpin(person_id, faces)

    def keep_apart(self, person_ids: list[str]) -> None:
        """Record that these persons were split apart, so no merge of any two of them is ever suggested."""
        for record in self.store.retrieve(PERSONS, sorted(person_ids)):
            apart = set(record.payload.get("kept_apart_from", [])) | set(person_ids)
            apart.discard(record.payload["person_id"])
            self.store.set_payload(PERSONS, [record.payload["person_id"]], {"kept_apart_from": sorted(apart)})

    def kept_apart(self) -> set[frozenset]:
        """Every pair of person ids a split separated."""
        return {frozenset((record.payload["person_id"], other))
                for record in self.store.scroll(PERSONS, where={"kind": CORRECTED})
                for other in record.payload.get("kept_apart_from", [])}

    def corrected(self) -> dict[str, dict]:
        """The records of every person a correction touched (the only ones with a name or hidden), by id."""
        return {r.payload["person_id"]: r.payload for r in self.store.scroll(PERSONS, where={"kind": CORRECTED})}

    def not_faces(self) -> list[str]:
        """The faces a person said are not faces, sorted."""
        return sorted(r.payload["face_id"] for r in self.store.scroll(PERSONS, where={"kind": NOT_A_FACE}))

    def history(self) -> list[dict]:
        """The corrections that can be undone (`UNDO_KEPT` at most), oldest first."""
        return sorted((r.payload for r in self.store.scroll(PERSONS, where={"kind": CORRECTION})), key=lambda r: r["order"])

    def keep_history(self, record: dict) -> None:
        """Keep what a correction changed (`Corrections`), forgetting the oldest beyond `UNDO_KEPT`."""
        self.put([record])
        self.delete([r["person_id"] for r in self.history()[:-UNDO_KEPT]])

    def answers(self) -> list[dict]:
        """Every answer kept, oldest first."""
        return sorted((r.payload for r in self.store.scroll(PERSONS, where={"kind": ANSWER})), key=lambda r: r["order"])

    def kept_apart_faces(self, answers: list[dict] | None = None) -> list[tuple[str, str]]:
        """The pairs of faces that answers "no" keep in different persons: each face shown on one side with each
        shown on the other."""
        return [(a, b) for answer in (self.answers() if answers is None else answers) if answer["reply"] == "no"
                for a in answer["shown"][0] for b in answer["shown"][1]]

    def kept_apart_from(self, face_id: str) -> set[str]:
        """The faces that answers "no" keep in persons other than `face_id`'s (a look-up of the answers that
        showed it, not of every answer)."""
        answers = [r.payload for r in self.store.scroll(PERSONS, where={"kind": ANSWER, "reply": "no",
                                                                        "shown_faces": face_id})]
        return {b if a == face_id else a for a, b in self.kept_apart_faces(answers) if face_id in (a, b)}

    def tuned_settings(self) -> dict | None:
        """The settings a re-tune fitted to this collection's answers, if any."""
        found = self.store.retrieve(PERSONS, [TUNED])
        return found[0].payload["settings"] if found else None

    def keep_tuned_settings(self, settings: dict | None, note: str = "") -> None:
        if settings is None:
            self.delete([TUNED])
        else:
            self.put([{"person_id": TUNED, "kind": TUNED, "settings": settings, "note": note, "tuned_at": now()}])

    def touch(self, person_id: str, *, representative: str | None = None, changes: dict | None = None) -> None:
        """Note that a person's faces changed (creating its record if it has none), with `changes` to its record."""
        found = self.store.retrieve(PERSONS, [person_id])
        if not found:
            self.store.upsert(PERSONS, [person_id], [new_record(person_id, representative) | (changes or {})])
        else:
            self.store.set_payload(PERSONS, [person_id], {"updated_at": now()} | (changes or {}))

    def set_centroid(self, person_id: str, centroid: dict | None) -> None:
        self.store.set_payload(PERSONS, [person_id], {"centroid": centroid})

    def drop_if_empty(self, person_id: str) -> bool:
        if self.store.count(FACES, where={"person_id": person_id}) == 0:
            self.store.delete(PERSONS, [person_id])
            return True
        return False

    def prepare(self, face_ids, person_of, confidence, settings: dict, scope: list[str] | None = None,
                kept=()) -> RecordsPlan:
        """Before a recluster writes its faces: mark the run as started (with its settings, for `interrupted_run`)
        and create the records of its new persons, so that a face never names a person without a record, even if
        the process dies in the middle. Returns the plan that `finish` needs.

        The faces given are every face, or (with `scope`) all the faces of the persons in `scope` and new ones:
        only those persons' records may then be deleted; the persons in `kept` (large persons of `scope` that only
        gain faces) keep theirs, representative included."""
        best: dict[str, int] = {}
        for i, person_id in enumerate(person_of):
            if person_id not in best or (confidence[i], -i) > (confidence[best[person_id]], -best[person_id]):
                best[person_id] = i
        existing = ({p.payload["person_id"]: p.payload for p in self.store.scroll(PERSONS, where={"kind": [CLUSTERED, CORRECTED]})}
                    if scope is None else self.records(sorted(set(scope) | set(best))))
        stamp = now()
        created = [new_record(person_id, face_ids[i], stamp) for person_id, i in sorted(best.items()) if person_id not in existing]
        self.journal.mark_run(settings, [r["person_id"] for r in created])
        self.store.upsert(PERSONS, [r["person_id"] for r in created], created)
        representatives = {person_id: face_ids[i] for person_id, i in best.items()}
        representatives |= {p: existing[p]["representative_face_id"] for p in kept if p in existing}
        return RecordsPlan(representatives, existing)

    def finish(self, plan: RecordsPlan, centroids: dict[str, dict]) -> None:
        """After the faces are written: refresh representatives and the centroids of persons of two faces or more
        (`facegraph.centroids`), delete the records of persons left without faces, and clear the run's mark."""
        best, existing, stamp = plan.best, plan.existing, now()
        writes = [record | {"representative_face_id": best[person_id], "updated_at": stamp}
                  for person_id, record in sorted(existing.items())
                  if person_id in best and record.get("representative_face_id") != best[person_id]]
        self.store.upsert(PERSONS, [r["person_id"] for r in writes], writes)
        changed = {p: centroid for p, centroid in centroids.items() if not same(existing.get(p, {}).get("centroid"), centroid)}
        changed |= {p: None for p, record in existing.items() if p in best and record.get("centroid") and p not in centroids}
        self.store.set_payloads(PERSONS, sorted(changed), [{"centroid": changed[p]} for p in sorted(changed)])
        self.store.delete(PERSONS, sorted(set(existing) - set(best)))
        self.journal.clear_run()

    def keep_corrections_of_photos(self, image_ids: list[str]) -> None:
        """Before photos are removed: keep the pins of their faces, with the names of those persons, so that the
        same content indexed again comes back corrected (`kept_corrections`). Face ids are `{image_id}_face{n}`,
        so this needs no read of the faces, and running it again after a removal cut short keeps the same."""
        photos, kept = set(image_ids), defaultdict(dict)
        for face_id, person_id in self.pins().items():
            if (image_id := face_id.rsplit("_face", 1)[0]) in photos:
                kept[image_id][face_id] = person_id
        names = {p: r.get("name") for p, r in self.records(sorted({p for pins in kept.values() for p in pins.values()})).items()}
        records = [{"person_id": f"{REMOVED}:{image_id}", "kind": REMOVED, "image_id": image_id, "pins": pins,
                    "names": {p: names.get(p) for p in sorted(set(pins.values()))}, "removed_at": now()}
                   for image_id, pins in sorted(kept.items())]
        self.store.upsert(PERSONS, [r["person_id"] for r in records], records)

    def kept_corrections(self, image_id: str) -> dict | None:
        """What `keep_corrections_of_photos` kept of a removed photo: `pins` (face id -> person id) and `names`."""
        found = self.store.retrieve(PERSONS, [f"{REMOVED}:{image_id}"])
        return found[0].payload if found else None

    def forget_kept_corrections(self, image_id: str) -> None:
        self.store.delete(PERSONS, [f"{REMOVED}:{image_id}"])
