"""Labeled photo sets: a folder per identity, and the rule that picks the labeled face of a photo.

The label of a photo belongs to its main face. Where a set's photos are crops centred on the subject (LFW), the
main face is the one whose box centre is nearest the photo's centre; elsewhere it is the largest face. Other faces
are real faces of unknown identity: they are clustered but not scored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from facegraph.images import find_photos
from facegraph.pipeline import Face, PhotoFaces

DATASETS_ENV = "FACEGRAPH_DATASETS"
CENTRED_SETS = {"lfw", "lfw_degraded"}  # the degraded copy keeps LFW's framing


def datasets_root() -> Path:
    """`$FACEGRAPH_DATASETS`, else `../shared/datasets` beside the project."""
    return Path(os.environ.get(DATASETS_ENV, Path(__file__).resolve().parents[2] / "shared" / "datasets"))


@dataclass(frozen=True)
class LabeledPhoto:
    path: Path
    identity: str


def load_labeled_set(root: str | os.PathLike) -> list[LabeledPhoto]:
    """Every photo of a `<root>/<identity>/<photo>` tree with its identity, in a stable order."""
    root = Path(root)
    photos = [LabeledPhoto(path, path.relative_to(root).parts[0]) for path in find_photos(root)]
    photos = [photo for photo in photos if len(photo.path.relative_to(root).parts) == 2]
    if not photos:
        raise FileNotFoundError(f"no photos in {root}: expected <identity>/<photo> folders")
    return photos


def main_face_rule(set_name: str) -> str:
    """"centre" for sets of subject-centred crops (LFW), "largest" for whole photos."""
    return "centre" if set_name in CENTRED_SETS else "largest"


def main_face(photo: PhotoFaces, rule: str = "largest") -> Face | None:
    """The labeled face of a photo by `rule` ("largest" or "centre"), or None when no face was found."""
    if rule not in ("largest", "centre"):
        raise ValueError(f"rule must be 'largest' or 'centre', got {rule!r}")
    if not photo.faces:
        return None
    if rule == "largest":
        return max(photo.faces, key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]))
    cx, cy = photo.width / 2, photo.height / 2
    return min(photo.faces, key=lambda f: ((f.bbox[0] + f.bbox[2]) / 2 - cx) ** 2 + ((f.bbox[1] + f.bbox[3]) / 2 - cy) ** 2)
