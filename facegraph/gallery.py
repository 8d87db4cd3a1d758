"""An HTML page of persons and their face crops, largest persons first, so a result can be looked at.

The page is the review app's (`facegraph.review`): the same templates and person cards, without the forms, and
with the crops inside the file as data URIs, so that it stands alone.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from facegraph.errors import check_at_least
from facegraph.review.faces import face_crop, shown_faces
from facegraph.review.pages import face_view, render


def write_gallery(graph, output: str | os.PathLike, *, max_persons: int = 200, faces_per_person: int = 12) -> Path:
    """Write the gallery of `graph`'s persons to `output` and return its path."""
    check_at_least(faces_per_person, 1, "faces_per_person")
    cards = []
    for person in graph.list_persons(limit=max_persons):
        faces = shown_faces(graph, person)[:faces_per_person]
        photos = graph.collection.photos(f["image_id"] for f in faces)
        cards.append({"person": person, "faces": [
            face_view(face, data_uri(face_crop(photos.get(face["image_id"]), face["bbox"]))) for face in faces]})
    output = Path(output)
    output.write_text(render("gallery.html", cards=cards), encoding="utf-8")
    return output


def data_uri(jpeg: bytes | None) -> str | None:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode() if jpeg is not None else None
