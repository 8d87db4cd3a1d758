"""The review app's images and photo view: a face's square thumbnail, a photo decoded, and a photo with its faces
boxed, each box a link to the face's person.

Ids from a request are only ever looked up in the store (an unknown one is a 404); the files read are named by the
stored photo payloads alone, so no request text reaches the file system.
"""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from facegraph.collection import display_path, photo_path
from facegraph.errors import ImageDecodeError
from facegraph.images import read_photo
from facegraph.review.faces import jpeg
from facegraph.review.pages import face_url, person_url
from facegraph.review.thumbnails import SIZES, Thumbnails

CACHED = {"Cache-Control": "private, max-age=3600"}  # a face id names one crop of one photo's content, for good


def photo_routes(graph, lock, thumbnails: Thumbnails, html) -> APIRouter:
    """The routes over `graph`; `lock` guards the store, `html(template, **context)` renders a page. Errors are
    raised (`HTTPException`, facegraph's own) for the app's handlers to show as its error page."""
    router = APIRouter()

    @router.get("/faces/{face_id}.jpg")
    def face_image(face_id: str, size: int = Query(SIZES[0])):
        if size not in SIZES:
            raise HTTPException(400, f"size must be one of {', '.join(map(str, SIZES))}, got {size}")
        with lock:
            face = graph.collection.face(face_id).payload
            photo = graph.collection.photos([face["image_id"]]).get(face["image_id"])
        thumbnail = thumbnails.get(face, photo, size)  # outside the lock: the store is free while a photo decodes
        if thumbnail is None:
            raise HTTPException(404, f"the photo of face {face_id} was moved or cannot be read")
        return Response(thumbnail, media_type="image/jpeg", headers=CACHED)

    # before the photo view: its {image_id} would take "<id>.jpg" whole
    @router.get("/photos/{image_id}.jpg")
    def photo_image(image_id: str):
        # the decoded photo, not the file: upright (EXIF), bounded, and a JPEG even where the file is HEIC
        with lock:
            photo = graph.collection.photos([image_id]).get(image_id)
        if photo is None:
            raise HTTPException(404, f"no photo {image_id!r} in the collection")
        try:
            decoded = read_photo(photo_path(photo))
        except ImageDecodeError as exc:
            raise HTTPException(404, f"photo {display_path(exc.path)} cannot be read: {exc.reason}") from None
        return Response(jpeg(decoded.pixels, quality=90), media_type="image/jpeg", headers=CACHED)

    @router.get("/photos/{image_id}", response_class=HTMLResponse)
    def photo_view(image_id: str, face: str | None = None):
        with lock:
            photo = graph.collection.photos([image_id]).get(image_id)
            if photo is None:
                raise HTTPException(404, f"no photo {image_id!r} in the collection")
            faces = sorted(graph.collection.faces_of_photo(image_id), key=lambda f: (f["bbox"][0], f["face_id"]))
            if face is not None and face not in {f["face_id"] for f in faces}:
                graph.collection.face(face)  # no such face at all: FaceNotFoundError, a 404 saying so
                raise HTTPException(404, f"face {face!r} is not a face of photo {image_id!r}")
            records = graph.records.records(sorted({f["person_id"] for f in faces if f.get("person_id")}))
        return html("photo.html", photo=photo, faces=face_boxes(photo, faces, records, face))

    return router


def face_boxes(photo: dict, faces: list[dict], records: dict, current: str | None) -> list[dict]:
    """The faces of a photo as its view shows them, left to right: the box (in percent of the photo, so it scales
    with it), the person's link and a label that names the person and says which face of how many it is."""
    boxes = []
    for number, face in enumerate(faces, 1):
        person = face.get("person_id")
        name = records.get(person, {}).get("name") if person else None
        who = name or (f"unnamed person {person}" if person else "a face not yet grouped")
        boxes.append({"face_id": face["face_id"], "src": face_url(face["face_id"]), "name": name,
                      "person_id": person, "href": person_url(person) if person else None,
                      "label": f"{who}, face {number} of {len(faces)}", "current": face["face_id"] == current,
                      "style": position(face["bbox"], photo["width"], photo["height"])})
    return boxes


def position(bbox, width: int, height: int) -> str:
    """CSS placing a box (full-size pixels) over a photo `width` x `height` shown at any size."""
    x1, y1, x2, y2 = (min(max(v / side, 0.0), 1.0) * 100 for v, side in zip(bbox, (width, height, width, height)))
    return f"left: {x1:.2f}%; top: {y1:.2f}%; width: {x2 - x1:.2f}%; height: {y2 - y1:.2f}%"
