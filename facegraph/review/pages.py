"""The one Jinja2 environment of the review app and the static gallery. Autoescaping is on for every template,
so names and every other stored text reach a page as text, never as markup."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi.responses import RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


ENV.globals["jump_params"] = lambda params: [tuple(pair.split("=", 1)) for pair in params.split("&") if "=" in pair]


def render(template: str, **context) -> str:
    return ENV.get_template(template).render(**context)


@dataclass(frozen=True)
class Pager:
    """Page `number` (from 1) of a listing, and whether another page follows: the pager partial's links."""

    number: int
    has_next: bool = False
    last: int | None = None  # the number of the last page, where known


def face_view(face: dict, src: str | None) -> dict:
    """What the face partial shows of a face payload; `src` is its image (None: its photo is gone)."""
    return {"face_id": face["face_id"], "image_id": face["image_id"], "src": src,
            "confidence": face.get("person_confidence")}


def face_url(face_id: str, size: int | None = None) -> str:
    return f"/faces/{quote(face_id)}.jpg" + (f"?size={size}" if size else "")


def person_url(person_id: str) -> str:
    return f"/persons/{quote(person_id)}"


def is_local(url: str) -> bool:
    """Whether `url` is a path of this app (never another site: a redirect there would be an open redirect)."""
    return url.startswith("/") and not url.startswith("//") and "\\" not in url


def redirect(url: str) -> RedirectResponse:
    """A 303 to `url` (the browser follows with a GET), or to the persons if `url` is not this app's."""
    return RedirectResponse(url if is_local(url) else "/", status_code=303)
