"""Reading photos: by content, EXIF-oriented, any mode to RGB, bounded in size.

`image_id` is the first 16 hex digits of the SHA-256 of the file's bytes: the same photo gets the same id in any
run, under any name or folder, and a changed file gets a new one.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facegraph.errors import ImageDecodeError

DEFAULT_MAX_SIDE = 2048
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
_ROTATED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class Photo:
    """A decoded photo. `pixels` is RGB uint8 of at most `max_side` per side; `scale` maps its pixel
    coordinates back to the oriented, full-size photo (`width` x `height`)."""

    path: str
    image_id: str
    pixels: np.ndarray
    width: int
    height: int
    scale: float


def image_id_of(data: bytes) -> str:
    """The stable id of a photo file's content."""
    return hashlib.sha256(data).hexdigest()[:16]


def read_photo(path: str | os.PathLike, *, max_side: int = DEFAULT_MAX_SIDE) -> Photo:
    """Read a photo file by its content, whatever its extension.

    Raises `ImageDecodeError` naming the file and the reason when it is empty, truncated, corrupt or not an image.
    """
    data = read_file(path)
    return decode_photo(str(path), data, image_id_of(data), max_side=max_side)


def read_file(path: str | os.PathLike) -> bytes:
    """A photo file's bytes (`ImageDecodeError` if it cannot be read or is empty)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageDecodeError(str(path), f"cannot read file ({exc.strerror})") from exc
    if not data:
        raise ImageDecodeError(str(path), "file is empty")
    return data


def decode_photo(path: str, data: bytes, image_id: str, *, max_side: int = DEFAULT_MAX_SIDE) -> Photo:
    """The photo in a file's bytes, oriented, RGB, at most `max_side` per side."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if image.getexif().get(_EXIF_ORIENTATION) in _ROTATED_ORIENTATIONS:
                width, height = height, width
            # JPEG can decode at 1/2, 1/4 or 1/8 scale: very large photos are never decoded in full.
            image.draft("RGB", (max_side, max_side))
            image = ImageOps.exif_transpose(image)
            pixels = _to_rgb(image)
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(path, "not a recognised image format") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageDecodeError(path, f"corrupt or truncated image ({exc})") from exc
    pixels = _bound(pixels, max_side)
    return Photo(path, image_id, pixels, width, height, scale=width / pixels.shape[1])


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow mode (grayscale, 16-bit, palette, alpha, CMYK) as RGB uint8."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # 16-bit and float grayscale: Pillow's convert() clips these to white, so rescale by hand.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        image = Image.fromarray(np.clip(values * (255.0 / top), 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent areas become white, as most viewers show them.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"))


def _bound(pixels: np.ndarray, max_side: int) -> np.ndarray:
    height, width = pixels.shape[:2]
    if max(height, width) <= max_side:
        return np.ascontiguousarray(pixels)
    factor = max_side / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def find_photos(folder: str | os.PathLike) -> list[Path]:
    """Every file under `folder` with an image suffix, sorted, so runs see photos in the same order.

    Files are still read by content; the suffix only keeps stray text and sidecar files out of a batch.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"photo folder {folder} does not exist or is not a folder")
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def expand_paths(paths) -> list[Path]:
    """Files as given, folders as the photos under them (sorted)."""
    found: list[Path] = []
    for path in map(Path, paths):
        found.extend(find_photos(path) if path.is_dir() else [path])
    return found


@dataclass(frozen=True)
class KnownPhoto:
    """A photo whose content the caller already has: read (to know its id) but not decoded."""

    path: str
    image_id: str


def iter_photos(paths, *, max_side: int = DEFAULT_MAX_SIDE,
                is_known: Callable[[str], bool] | None = None) -> Iterator[Photo | KnownPhoto | ImageDecodeError]:
    """Read each path once, in turn, yielding the photo, the error that names it, or (where `is_known` says so
    of its image id) a `KnownPhoto` that is not decoded."""
    for path in paths:
        try:
            data = read_file(path)
            image_id = image_id_of(data)
            if is_known is not None and is_known(image_id):
                yield KnownPhoto(str(path), image_id)
            else:
                yield decode_photo(str(path), data, image_id, max_side=max_side)
        except ImageDecodeError as exc:
            yield exc
