"""Ingest: photos into the collection (index, add), out of it (remove), and in step with a folder (sync).

`add_photos` is the one way in, for `index` and for the Dagster assets alike. A removed photo's corrections are kept
aside and come back with its content; a photo edited in place replaces its older version, its corrections going to
the same faces of the new one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from facegraph.cluster_settings import ClusterSettings
from facegraph.collection import Collection, display_path
from facegraph.corrections import Corrections
from facegraph.errors import StoreError, StoreFullError, StoreUnavailableError, SyncRefusedError
from facegraph.images import KnownPhoto, expand_paths, photo_files, photo_ids_of, positively_gone
from facegraph.journal import now
from facegraph.person_records import PersonRecords
from facegraph.pipeline import LazyPipeline, PhotoError, PhotoFaces
from facegraph.recluster import Recluster
from facegraph.store.base import FACE_BYTES


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


class Ingest:
    """Photos in and out of one collection."""

    def __init__(self, collection: Collection, records: PersonRecords, pipeline: LazyPipeline, recluster: Recluster,
                 corrections: Corrections):
        self.collection, self.records, self.pipeline = collection, records, pipeline
        self.recluster, self.corrections = recluster, corrections

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
        if not self.pipeline.loaded:
            phase("loading the models")
        pipeline = self.pipeline.get()
        phase("reading and embedding photos")
        results = pipeline.run(files, is_known=self.collection.is_known)  # asked once, before a photo is decoded
        return self.add_photos(results, progress=progress, phase=phase, known=lambda image_id: False)

    def add_photos(self, photos: Iterable[PhotoFaces | PhotoError | KnownPhoto], *, assign: bool = False,
                   settings: ClusterSettings | None = None, progress: Callable[[int], None] | None = None,
                   phase: Callable[[str], None] | None = None,
                   known: Callable[[str], bool] | None = None) -> IndexReport:
        """Store the faces of photos read by a `FacePipeline` (here, or elsewhere such as a Dagster asset): the
        one ingest path. A photo whose content the collection holds (`known`, default: asked of the collection;
        `index`, whose pipeline asked already, says none), or that came earlier in `photos`, is skipped, so adding
        twice changes nothing; `PhotoError`s are reported. With `assign`, the search index is brought up to date and
        the new faces are given persons by `assign_persons` (with `settings`)."""
        known = known or self.collection.is_known
        report, seen = IndexReport(), set()
        for photo in photos:
            report.photos += 1
            if isinstance(photo, PhotoError):
                report.errors.append(photo)
            elif isinstance(photo, KnownPhoto) or photo.image_id in seen or known(photo.image_id):
                report.already_indexed += 1
            else:
                seen.add(photo.image_id)
                self.collection.store.check_space(len(photo.faces) * FACE_BYTES, "store photos in")
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
            self.recluster.assign_persons(report.new_face_ids, settings)
        return report

    def remove_photos(self, image_ids: Iterable[str]) -> int:
        """Remove photos (by image id) and their faces from the collection; returns how many faces went.

        Corrections of the faces that remain hold; pins of removed faces are dropped, persons left without faces
        are deleted, and the others get fresh confidences and representatives. Unknown ids are ignored."""
        image_ids = sorted(set(image_ids))
        if not image_ids:
            return 0
        self.records.journal.mark_removal(image_ids)
        self.records.keep_corrections_of_photos(image_ids)
        removed = self.collection.remove_photos(image_ids)
        self.records.forget_faces(removed.face_ids)
        for person_id in sorted({person for person in removed.person_ids if person}):
            if not self.records.drop_if_empty(person_id):
                self.corrections.refresh(person_id)
        self.records.journal.clear_removal()
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
            self.corrections.refresh(person_id)
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
        remove every photo of the folder or more than `MASS_REMOVAL_SHARE` of them (`refuse_unsafe_removal`): an empty
        folder given by mistake must not wipe a library. With `allow_mass_removal` the photos that are gone are
        removed however many, and those that cannot be seen are kept and counted in `unseen`.

        Only files at paths no stored photo has are read (hashed, not decoded), and only when a stored photo is
        missing, so a sync of an unchanged folder reads no photo. A photo edited in place is new content, which
        `index` stores in place of its old version."""
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
