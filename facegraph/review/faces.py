"""Face crops and the order a person's faces are shown in, shared by the review app and the static gallery."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from facegraph.collection import photo_path
from facegraph.errors import ImageDecodeError
from facegraph.images import read_photo

THUMBNAIL = 96  # pixels high
CROP_SOURCE_SIDE = 1024  # a photo is decoded this small for its crops: plenty for a thumbnail, and quicker


def shown_faces(graph, person: dict) -> list[dict]:
    """A person's face payloads as pages show them: the representative first, then the most confident."""
    representative = person.get("representative_face_id")
    return sorted((point.payload for point in graph.collection.faces_of_person(person["person_id"])),
                  key=lambda f: (f["face_id"] != representative, -(f.get("person_confidence") or 0), f["face_id"]))


def face_crop(photo: dict | None, bbox, size: int = THUMBNAIL) -> bytes | None:
    """A JPEG of the face in `bbox` (full-size pixels) of a stored photo, with a little margin, `size` pixels
    high; None when the photo (its payload, or its file) is gone or unreadable."""
    try:
        decoded = read_photo(photo_path(photo), max_side=CROP_SOURCE_SIDE) if photo else None
    except ImageDecodeError:
        decoded = None
    if decoded is None:
        return None
    x1, y1, x2, y2 = (v / decoded.scale for v in bbox)
    margin = 0.15 * max(x2 - x1, y2 - y1)
    height, width = decoded.pixels.shape[:2]
    box = (max(0, int(x1 - margin)), max(0, int(y1 - margin)), min(width, int(x2 + margin)), min(height, int(y2 + margin)))
    crop = Image.fromarray(decoded.pixels[box[1] : box[3], box[0] : box[2]])
    crop.thumbnail((size * 4, size))
    return jpeg(crop)


def jpeg(image: Image.Image | np.ndarray, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    (Image.fromarray(image) if isinstance(image, np.ndarray) else image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
