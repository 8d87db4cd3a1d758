"""A degraded copy of LFW, the low-quality regime of phone and web photos: every photo shrunk so that its face is
24 to 64 pixels wide, blurred a little and saved as a JPEG of quality 30 to 50.

Reproducible: each photo's degradation is drawn from a generator seeded by its relative path, so the same LFW
gives byte-identical photos on every machine. The copy is written under the data folder, never into the
repository, and made once (a marker file records the settings it was made with).

    python -m evaluation.degraded            # writes data/datasets/lfw_degraded
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from tqdm import tqdm

from evaluation.labeled import datasets_root, load_labeled_set
from facegraph.places import default_data_dir

NAME = "lfw_degraded"
FACE_WIDTH = (24, 64)  # pixels across the face after shrinking
JPEG_QUALITY = (30, 50)
BLUR_SIGMA = (0.3, 1.0)  # Gaussian blur radius in pixels, after shrinking
LFW_FACE_WIDTH = 110  # an LFW deep-funneled face spans about 110 of the photo's 250 pixels
SETTINGS = {"face_width": FACE_WIDTH, "jpeg_quality": JPEG_QUALITY, "blur_sigma": BLUR_SIGMA, "version": 1}


def degrade(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, int]:
    """One photo shrunk, blurred and re-encoded as drawn from `rng`; returns the image and its JPEG quality."""
    scale = rng.uniform(*FACE_WIDTH) / LFW_FACE_WIDTH
    size = (max(8, round(image.width * scale)), max(8, round(image.height * scale)))
    small = image.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    return small.filter(ImageFilter.GaussianBlur(rng.uniform(*BLUR_SIGMA))), int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))


def seed_of(relative: str) -> int:
    return int.from_bytes(hashlib.sha256(relative.encode()).digest()[:8], "little")


def make_degraded_lfw(source: Path | None = None, target: Path | None = None, *, progress: bool = True) -> Path:
    """The degraded copy of the LFW set at `source` (default: the datasets folder's), made at `target` (default:
    `<data>/datasets/lfw_degraded`) unless it is already there with these settings. Returns `target`."""
    source = Path(source or datasets_root() / "lfw")
    target = Path(target or default_data_dir() / "datasets" / NAME)
    marker = target / ".settings.json"
    if marker.is_file() and marker.read_text() == json.dumps(SETTINGS):
        return target
    for photo in tqdm(load_labeled_set(source), unit="photo", desc=f"degrading {source.name}", disable=not progress):
        relative = photo.path.relative_to(source)
        out = (target / relative).with_suffix(".jpg")
        out.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(photo.path) as image:
            small, quality = degrade(image, np.random.default_rng(seed_of(str(relative))))
        small.save(out, format="JPEG", quality=quality)
    marker.write_text(json.dumps(SETTINGS))
    return target


if __name__ == "__main__":
    print(make_degraded_lfw())
