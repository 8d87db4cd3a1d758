"""An HTML page of persons and their face crops, largest persons first, so a result can be looked at."""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from facegraph.errors import ImageDecodeError, check_at_least
from facegraph.collection import photo_path
from facegraph.images import read_photo

THUMBNAIL = 96


def face_thumbnail(pixels: np.ndarray, bbox, scale: float, size: int = THUMBNAIL) -> str:
    """A JPEG data URI of the face in `bbox` (full-size pixels) with a little margin, `size` pixels high."""
    x1, y1, x2, y2 = (v / scale for v in bbox)
    margin = 0.15 * max(x2 - x1, y2 - y1)
    height, width = pixels.shape[:2]
    box = (max(0, int(x1 - margin)), max(0, int(y1 - margin)), min(width, int(x2 + margin)), min(height, int(y2 + margin)))
    crop = Image.fromarray(pixels[box[1] : box[3], box[0] : box[2]])
    crop.thumbnail((size * 4, size))
    buffer = io.BytesIO()
    crop.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def write_gallery(graph, output: str | os.PathLike, *, max_persons: int = 200, faces_per_person: int = 12) -> Path:
    """Write the gallery of `graph`'s persons to `output` and return its path."""
    check_at_least(faces_per_person, 1, "faces_per_person")
    persons = graph.list_persons(limit=max_persons)
    sections = []
    for person in persons:
        faces = sorted((p.payload for p in graph.collection.faces_of_person(person["person_id"])),
                       key=lambda f: (-(f.get("person_confidence") or 0), f["face_id"]))[:faces_per_person]
        photos = graph.collection.photos(f["image_id"] for f in faces)
        images = []
        for face in faces:
            photo = photos.get(face["image_id"])
            try:
                decoded = read_photo(photo_path(photo), max_side=1024) if photo else None
            except ImageDecodeError:
                decoded = None
            if decoded is None:
                images.append(f'<span class="missing" title="{html.escape(face["face_id"])}">photo moved</span>')
                continue
            src = face_thumbnail(decoded.pixels, face["bbox"], decoded.scale)
            images.append(f'<img src="{src}" title="{html.escape(face["face_id"])}" alt="face">')
        title = html.escape(person["name"] or "unnamed")
        sections.append(
            f'<section><h2>{title} <small>{person["person_id"]} · {person["face_count"]} '
            f'face{"s" if person["face_count"] != 1 else ""}</small></h2>'
            f'{"".join(images)}</section>'
        )
    page = (
        "<!doctype html><meta charset=utf-8><title>facegraph persons</title>"
        "<style>body{font-family:sans-serif;margin:1em}section{margin-bottom:1.2em}img{height:96px;margin:2px;"
        "border-radius:4px}small{color:#666;font-weight:normal}.missing{display:inline-block;width:96px;color:#999}</style>"
        f"<h1>{len(persons)} persons</h1>" + "".join(sections)
    )
    output = Path(output)
    output.write_text(page, encoding="utf-8")
    return output
