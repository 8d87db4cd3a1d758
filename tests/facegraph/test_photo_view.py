"""The review app's images and photo view (facegraph.review.photos) on a store of real photos: square thumbnails
kept on disk and made again when the photo file changes, a photo with every face boxed and linked to its person, and
ids from a request that name nothing (or try to name a file) answered with 404."""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
from contextlib import contextmanager

import pytest
from PIL import Image

from facegraph.images import image_id_of
from facegraph.review import photos as photo_routes
from facegraph.review.thumbnails import Thumbnails

OPENED: list[str] | None = None  # the files opened while `opened_files` records them


def record_opens(event: str, args: tuple) -> None:
    if event == "open" and OPENED is not None and isinstance(args[0], (str, bytes, os.PathLike)):
        OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(record_opens)  # an audit hook cannot be removed: it records only inside `opened_files`


@contextmanager
def opened_files():
    global OPENED
    OPENED = []
    try:
        yield OPENED
    finally:
        OPENED = None


def thumbnail_files(tmp_path) -> list:
    return sorted((tmp_path / "thumbnails").rglob("*.jpg"))


def faces_by_photo(graph) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for point in graph.store.scroll("faces"):
        found.setdefault(point.payload["image_id"], []).append(point.payload)
    return found


@pytest.mark.parametrize("size", [None, 160, 320])
def test_a_thumbnail_is_a_square_jpeg_of_the_asked_size(graph, client, size):
    face = graph.list_persons(limit=1)[0]["representative_face_id"]
    response = client.get(f"/faces/{face}.jpg" + (f"?size={size}" if size else ""))
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "private, max-age=3600"
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.format == "JPEG" and image.size == (size or 160, size or 160)


@pytest.mark.parametrize("size", ["96", "161", "0", "-160", "abc"])
def test_a_size_other_than_the_allowed_ones_is_refused(graph, client, size):
    face = graph.list_persons(limit=1)[0]["representative_face_id"]
    response = client.get(f"/faces/{face}.jpg?size={size}")
    assert response.status_code == 400 and "size" in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_thumbnails_are_kept_and_an_edited_photo_gets_new_ones(graph, client, datasets, tmp_path):
    photo = tmp_path / "photos" / "madonna.jpg"
    photo.parent.mkdir()
    shutil.copy(next(p for p in sorted((datasets / "five_celebs" / "Madonna").iterdir())
                     if not graph.collection.is_known(image_id_of(p.read_bytes()))), photo)
    [face, *_] = graph.index([photo]).new_face_ids
    url = f"/faces/{face}.jpg?size=320"

    first = client.get(url)
    [kept] = thumbnail_files(tmp_path)
    assert first.status_code == 200 and kept.read_bytes() == first.content
    assert kept.parent.parent == tmp_path / "thumbnails" and len(kept.parent.name) == 2
    kept.write_bytes(b"the kept thumbnail")  # served from the folder, not cropped again
    assert client.get(url).content == b"the kept thumbnail" and thumbnail_files(tmp_path) == [kept]

    before = photo.stat()
    with Image.open(photo) as image:  # the photo edited in place: saved again, other bytes
        image.convert("RGB").save(photo, format="JPEG", quality=60)
    os.utime(photo, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))  # whatever the clock's grain
    edited = client.get(url)
    assert edited.status_code == 200 and edited.content[:2] == b"\xff\xd8"
    assert kept in thumbnail_files(tmp_path) and len(thumbnail_files(tmp_path)) == 2

    photo.unlink()  # a photo gone is a 404, even with its thumbnail kept
    gone = client.get(url)
    assert gone.status_code == 404 and "was moved or cannot be read" in gone.text
    assert Thumbnails(tmp_path / "thumbnails").get(graph.collection.face(face).payload, None, 160) is None


def test_the_photo_view_boxes_every_face_with_a_link_to_its_person(graph, client):
    image_id, faces = max(faces_by_photo(graph).items(), key=lambda item: (len(item[1]), item[0]))
    faces.sort(key=lambda f: (f["bbox"][0], f["face_id"]))  # the view numbers them left to right
    named = faces[0]["person_id"]
    graph.name_person(named, "Madonna")
    came_from = faces[-1]["face_id"]
    photo = graph.collection.photos([image_id])[image_id]

    page = client.get(f"/photos/{image_id}?face={came_from}")
    assert page.status_code == 200 and f'src="/photos/{image_id}.jpg"' in page.text
    boxes = re.findall(r'<a class="box" href="([^"]+)"\s+style="([^"]+)" aria-label="([^"]+)"[^>]*'
                       r'data-face-id="([^"]+)"( aria-current="true")?>', page.text)
    assert [box[3] for box in boxes] == [f["face_id"] for f in faces]
    for number, (face, (href, style, label, _, current)) in enumerate(zip(faces, boxes), 1):
        assert href == f"/persons/{face['person_id']}"
        who = "Madonna" if face["person_id"] == named else f"unnamed person {face['person_id']}"
        assert label == f"{who}, face {number} of {len(faces)}"
        assert bool(current) == (face["face_id"] == came_from)
        left = float(re.search(r"left: ([\d.]+)%", style)[1])
        assert left == pytest.approx(100 * face["bbox"][0] / photo["width"], abs=0.01)
        assert f'<img src="/faces/{face["face_id"]}.jpg"' in page.text  # the list below the photo
    assert page.text.count('aria-current="true"') == 2  # its box and its entry in the list

    person = client.get(f"/persons/{faces[0]['person_id']}").text  # the person page leads here
    assert f'href="/photos/{image_id}?face={faces[0]["face_id"]}"' in person


def test_unknown_photos_and_faces_are_404_pages(graph, client):
    photos = faces_by_photo(graph)
    image_id, other = sorted(photos)[:2]
    for url in ["/photos/0000000000000000", "/photos/0000000000000000.jpg", "/faces/nope_face0.jpg",
                f"/photos/{image_id}?face=nope_face0",
                f"/photos/{image_id}?face={photos[other][0]['face_id']}"]:  # a face, but of another photo
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.headers["content-type"].startswith("text/html") and "Not found" in response.text, url


def test_ids_with_path_characters_are_404_and_open_no_file(graph, client, monkeypatch):
    image_id = sorted(faces_by_photo(graph))[0]
    read = []
    monkeypatch.setattr(photo_routes, "read_photo", lambda *a, **k: read.append(a))
    monkeypatch.setattr(Thumbnails, "get", lambda *a, **k: read.append(a))
    client.get("/")  # the templates, loaded once
    with opened_files() as opened:
        for bad in ["..%2F..%2Fetc%2Fpasswd", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "%00", "x%00y", "%2Fetc%2Fpasswd",
                    f"{image_id}%2F..%2F..%2Fetc%2Fpasswd"]:
            for url in [f"/photos/{bad}", f"/photos/{bad}.jpg", f"/faces/{bad}.jpg", f"/photos/{image_id}?face={bad}"]:
                response = client.get(url)
                assert response.status_code == 404, url
    assert read == []
    assert not [path for path in opened if "passwd" in path or path.startswith("/etc")]
