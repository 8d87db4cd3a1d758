"""Face crops and the order a person's faces are shown in, shared by the review app and the static gallery."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

from facegraph.collection import photo_path
from facegraph.errors import ImageDecodeError
from facegraph.images import read_photo

THUMBNAIL = 96  # the static gallery's crops, pixels a side
CONTEXT = 1.6  # a crop's side in longer sides of the face box: the face with its hair, chin and a little more
# A photo is decoded just large enough for the crop to have its pixels, within these bounds: a small face of a large
# photo is not upscaled from a coarse decode, and a 48 MP photo is never decoded whole for one thumbnail.
CROP_SOURCE_SIDE, CROP_SOURCE_MAX = 1024, 4096


def shown_faces(graph, person: dict) -> list[dict]:
    """A person's face payloads as pages show them: the representative first, then the most confident."""
    representative = person.get("representative_face_id")
    return sorted((point.payload for point in graph.collection.faces_of_person(person["person_id"])),
                  key=lambda f: (f["face_id"] != representative, -(f.get("person_confidence") or 0), f["face_id"]))


def face_crop(photo: dict | None, bbox, size: int = THUMBNAIL) -> bytes | None:
    """A JPEG, `size` x `size` pixels, of the square around the face in `bbox` (full-size pixels) of a stored photo;
    None when the photo (its payload, or its file) is gone or unreadable."""
    try:
        decoded = read_photo(photo_path(photo), max_side=source_side(photo, bbox, size)) if photo else None
    except ImageDecodeError:
        decoded = None
    if decoded is None:
        return None
    left, top, side = square(decoded.pixels.shape[:2], [v / decoded.scale for v in bbox])
    crop = Image.fromarray(decoded.pixels[top : top + side, left : left + side])
    return jpeg(crop.resize((size, size), Image.Resampling.LANCZOS))


def square(shape: tuple[int, int], bbox) -> tuple[int, int, int]:
    """The left, top and side of the square crop of a face box in a picture of `shape` (height, width).

    `CONTEXT` times the box's longer side, centred on the box, then shifted inside the picture rather than padded:
    a thumbnail never shows blank bars, and it still holds the whole box (only a face at an edge is off-centre).
    A square larger than the picture's shorter side shrinks to it."""
    height, width = shape
    x1, y1, x2, y2 = bbox
    side = max(1, min(round(CONTEXT * max(x2 - x1, y2 - y1)), width, height))
    left = min(max(round((x1 + x2 - side) / 2), 0), width - side)
    top = min(max(round((y1 + y2 - side) / 2), 0), height - side)
    return left, top, side


def source_side(photo: dict, bbox, size: int) -> int:
    """The longer side to decode a photo at so that its crop of the face in `bbox` has `size` pixels a side."""
    longest = max(photo["width"], photo["height"])
    crop_side = max(1.0, min(CONTEXT * max(bbox[2] - bbox[0], bbox[3] - bbox[1]), photo["width"], photo["height"]))
    return min(max(math.ceil(longest * size / crop_side), CROP_SOURCE_SIDE), CROP_SOURCE_MAX)


def jpeg(image: Image.Image | np.ndarray, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    (Image.fromarray(image) if isinstance(image, np.ndarray) else image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
