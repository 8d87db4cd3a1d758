"""Photo batches: one dynamic partition per folder that holds photos, never one per photo.

A batch's key is the folder's path from the watched folder's parent, each part reduced to letters, digits, `.`,
`_` and `-` (`holidays/2023 Rome` under `~/Pictures` is `Pictures/holidays/2023_Rome`). The photos directly in a
folder form its batch; two folders whose names reduce to the same key share one batch.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from pathlib import Path

from dagster import DynamicPartitionsDefinition

from facegraph.images import find_photos

photo_batches = DynamicPartitionsDefinition(name="photo_batches")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def batch_key(folder: Path, root: Path) -> str:
    """The partition key of the photos directly in `folder`, a folder at or under `root`."""
    parts = [root.name or "photos", *folder.relative_to(root).parts]
    return "/".join(_UNSAFE.sub("_", part).strip(".") or "_" for part in parts)


def batches_in(root: str | Path) -> dict[str, list[Path]]:
    """Every batch under `root`: partition key -> its photos, sorted."""
    root = Path(root).resolve()
    batches: dict[str, list[Path]] = defaultdict(list)
    for photo in find_photos(root):
        batches[batch_key(photo.parent, root)].append(photo)
    return {key: sorted(photos) for key, photos in sorted(batches.items())}


def fingerprint(photos: list[Path]) -> str:
    """A short hash of the photos' names, sizes and modification times: it changes when a batch changes."""
    digest = hashlib.sha256()
    for photo in photos:
        stat = photo.stat() if photo.exists() else photo.lstat()  # a broken link counts by the link itself
        digest.update(f"{photo}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
