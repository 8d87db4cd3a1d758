"""The journal of unfinished work: the marks a recluster, a removal of photos and a correction keep in the `persons`
collection while they write, so that a process that dies in between leaves what the next opening needs to finish
the work (`FaceGraph.finish_interrupted_work`). Each mark is one point, found by one look-up."""

from __future__ import annotations

from datetime import datetime, timezone

from facegraph.store.base import PERSONS, FaceStore

RUN = "recluster_in_progress"  # the key and kind of the mark a recluster keeps while it writes
REMOVAL = "photo_removal_in_progress"  # the key and kind of the mark a removal of photos keeps while it deletes
CORRECTION = "correction_in_progress"  # the key and kind of the mark a correction keeps while it writes


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Journal:
    """The marks of unfinished work in one store."""

    def __init__(self, store: FaceStore):
        self.store = store

    def mark_run(self, settings: dict, created: list[str]) -> None:
        """Before a recluster writes: its settings (to run it again) and the ids of the persons it makes."""
        self.store.upsert(PERSONS, [RUN], [{"person_id": RUN, "kind": RUN, "settings": settings, "started_at": now(),
                                            "created": created}])

    def clear_run(self) -> None:
        self.store.delete(PERSONS, [RUN])

    def mark_correction(self, verb: str, plan: dict) -> None:
        """Before a correction writes: its whole plan (what every write will be), so that one cut short is
        finished by writing the same plan again (`interrupted_correction`)."""
        self.store.upsert(PERSONS, [CORRECTION], [{"person_id": CORRECTION, "kind": CORRECTION, "verb": verb,
                                                   "plan": plan, "started_at": now()}])

    def interrupted_correction(self) -> tuple[str, dict] | None:
        """The verb and plan of a correction that started and never finished, if any."""
        found = self.store.retrieve(PERSONS, [CORRECTION])
        return (found[0].payload["verb"], found[0].payload["plan"]) if found else None

    def clear_correction(self) -> None:
        self.store.delete(PERSONS, [CORRECTION])

    def mark_removal(self, image_ids: list[str]) -> None:
        """Before photos are deleted: note which, so a removal cut short is found by one lookup on open."""
        self.store.upsert(PERSONS, [REMOVAL], [{"person_id": REMOVAL, "kind": REMOVAL, "image_ids": image_ids}])

    def clear_removal(self) -> None:
        self.store.delete(PERSONS, [REMOVAL])

    def interrupted_removal(self) -> list[str]:
        """The photos of a removal that started and never finished, if any."""
        found = self.store.retrieve(PERSONS, [REMOVAL])
        return found[0].payload["image_ids"] if found else []

    def made_by_interrupted_run(self) -> set[str]:
        """The person ids whose records a recluster that never finished made (its own, to make again)."""
        found = self.store.retrieve(PERSONS, [RUN])
        return set(found[0].payload.get("created", [])) if found else set()

    def unfinished_work(self) -> bool:
        """Whether a recluster, a correction or a removal of photos started and has not finished."""
        return bool(self.interrupted_removal()) or self.interrupted_run() is not None \
            or self.interrupted_correction() is not None

    def interrupted_run(self) -> dict | None:
        """The settings of a recluster that started and never finished (the process died), if any."""
        found = self.store.retrieve(PERSONS, [RUN])
        return found[0].payload["settings"] if found else None
