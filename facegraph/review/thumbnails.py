"""Face thumbnails cropped once and kept as JPEG files, so a page of faces costs file reads, not photo decodes.

A thumbnail's file is named by a hash of the face, the size and the photo file's modification time and length: a
photo edited in place gets new thumbnails, never an old crop. Nothing evicts the files of older crops; the folder is
a cache, safe to delete whole at any time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from facegraph.collection import photo_path
from facegraph.review.faces import CONTEXT, face_crop

log = logging.getLogger(__name__)

SIZES = (160, 320)  # a grid or person thumbnail; a large one


class Thumbnails:
    """The square face thumbnails kept in `folder`."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def get(self, face: dict, photo: dict | None, size: int) -> bytes | None:
        """The JPEG thumbnail, `size` pixels square, of a face payload in its photo's payload: read from the folder,
        else cropped and kept there; None when the photo (its payload or its file) is gone or unreadable."""
        if photo is None:
            return None
        try:
            found = os.stat(photo_path(photo))
        except OSError:
            return None
        file = self.file(face["face_id"], size, found)
        try:
            if kept := file.read_bytes():  # empty: a crash right after the rename (no fsync); made again
                return kept
        except FileNotFoundError:
            pass
        crop = face_crop(photo, face["bbox"], size)
        if crop is not None:
            self.keep(file, crop)
        return crop

    def file(self, face_id: str, size: int, photo_file: os.stat_result) -> Path:
        # CONTEXT is in the key too: a change to how much a crop shows makes new files
        key = f"{face_id}\0{size}\0{photo_file.st_mtime_ns}\0{photo_file.st_size}\0{CONTEXT}"
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.folder / digest[:2] / f"{digest}.jpg"  # 256 subfolders: no folder of a million files

    def keep(self, file: Path, data: bytes) -> None:
        # Written to a temporary file and renamed into place, so a reader never sees half a thumbnail and two
        # requests making the same one both just replace it. A cache that cannot be written is no error: the crop
        # is still served, and made again next time.
        temp = None
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=file.parent, suffix=".tmp", delete=False) as out:
                temp = out.name
                out.write(data)
            os.replace(temp, file)
        except OSError as exc:
            if temp is not None:
                Path(temp).unlink(missing_ok=True)
            log.warning("thumbnail not kept in %s (%s); it is cropped again next time", self.folder, exc)
