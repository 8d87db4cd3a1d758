"""The one Jinja2 environment of the review app and the static gallery. Autoescaping is on for every template,
so names and every other stored text reach a page as text, never as markup."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(template: str, **context) -> str:
    return ENV.get_template(template).render(**context)


@dataclass(frozen=True)
class Pager:
    """Page `number` (from 1) of a listing, and whether another page follows: the pager partial's links."""

    number: int
    has_next: bool = False


def face_view(face: dict, src: str | None) -> dict:
    """What the face partial shows of a face payload; `src` is its image (None: its photo is gone)."""
    return {"face_id": face["face_id"], "image_id": face["image_id"], "src": src,
            "confidence": face.get("person_confidence")}
