"""How fast the People page answers on a library of thousands of persons. Prints figures and the machine; asserts
nothing.

    python -m evaluation.benchmark_people_page [--persons 5000] [--photos 40]

The library is synthetic: the faces of `--photos` real photos of five_celebs (so every thumbnail is a real crop of a
real photo), each face also stored under many more face ids of those photos, with vectors that make `--persons`
persons of 1 to 40 faces (`synthetic_faces.synthetic_faces`' shapes), a tenth of them named. It is served by
the review app itself (uvicorn on a loopback port, requests from this process over HTTP, one at a time), and it
measures, each the median of `--repeat` runs:

- the grid: its HTML, then its 48 thumbnails, with the thumbnail cache cold (emptied) and warm;
- a person's page with its faces, cold and warm;
- a search by name, the last page of the persons (the jump), and the Small place.

Speeds are also given as ratios of warm to cold in the same run, since the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from evaluation.synthetic_faces import faces_of_persons
from evaluation.benchmark_pipeline import machine
from evaluation.labeled import datasets_root
from facegraph.collection import face_payload
from facegraph.persons import FaceGraph
from facegraph.review import create_app
from facegraph.review.server import listen
from facegraph.store.base import PHOTOS


def build_library(folder: Path, persons: int, photos: int, seed: int = 0) -> FaceGraph:
    """A store of real photos whose faces are repeated under synthetic ids and vectors into `persons` persons."""
    rng = np.random.default_rng(seed)
    graph = FaceGraph(folder / "store")
    real = sorted(p for who in sorted((datasets_root() / "five_celebs").iterdir()) for p in who.iterdir())[:photos]
    graph.index(real)
    faces = [p.payload for p in graph.store.scroll("faces")]
    sizes = np.minimum(rng.zipf(1.9, size=persons), 40)
    labels = np.repeat(np.arange(persons), sizes)
    vectors = faces_of_persons(labels, rng)
    start = max(int(f["face_id"].rsplit("_face", 1)[1]) for f in faces) + 1
    ids, payloads = [], []
    for n, source in enumerate(faces[i % len(faces)] for i in range(len(labels))):
        face_id = f"{source['image_id']}_face{start + n}"
        ids.append(face_id)
        payloads.append(face_payload(face_id, source["image_id"], bbox=source["bbox"], det_score=source["det_score"],
                                     quality_score=30.0, indexed_at=source["indexed_at"]))
    graph.store.delete("faces", [f["face_id"] for f in faces])  # only the synthetic faces make persons
    graph.collection.add_faces(ids, vectors, payloads)
    graph.cluster_all()
    for n, person in enumerate(graph.list_persons(limit=persons // 10, offset=0)):
        graph.name_person(person["person_id"], f"Person {n:04d}")
    assert graph.store.count(PHOTOS) == len(real)
    return graph


def median_seconds(action, repeat: int, before=lambda: None) -> float:
    times = []
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=5000)
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="facegraph-people-page-"))
    try:
        started = time.perf_counter()
        graph = build_library(folder, args.persons, args.photos)
        built = time.perf_counter() - started
        found = graph.people(limit=1)
        thumbnails = folder / "thumbnails"
        import uvicorn

        sock = listen("127.0.0.1", 0)
        server = uvicorn.Server(uvicorn.Config(create_app(graph, thumbnails=thumbnails), log_level="warning"))
        threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        client = httpx.Client(base_url=base, timeout=120)

        def page_and_images(url: str) -> None:
            html = client.get(url).raise_for_status().text
            for src in re.findall(r'<img src="(/faces/[^"]+)"', html):
                client.get(src).raise_for_status()

        def cold() -> None:
            shutil.rmtree(thumbnails, ignore_errors=True)

        person = graph.list_persons(limit=1)[0]["person_id"]
        last_page = -(-found.total // 48)
        rows = {
            "grid HTML": median_seconds(lambda: client.get("/").raise_for_status(), args.repeat),
            "grid + 48 thumbnails, cold cache": median_seconds(lambda: page_and_images("/"), args.repeat, cold),
            "grid + 48 thumbnails, warm cache": median_seconds(lambda: page_and_images("/"), args.repeat),
            "largest person's page + faces, cold": median_seconds(lambda: page_and_images(f"/persons/{person}"),
                                                                  args.repeat, cold),
            "largest person's page + faces, warm": median_seconds(lambda: page_and_images(f"/persons/{person}"),
                                                                  args.repeat),
            "search by name": median_seconds(lambda: client.get("/?q=person 01").raise_for_status(), args.repeat),
            f"jump to the last page ({last_page})": median_seconds(
                lambda: client.get(f"/?page={last_page}").raise_for_status(), args.repeat),
            "the Small place": median_seconds(lambda: client.get("/?place=small").raise_for_status(), args.repeat),
        }
        server.should_exit = True
        print(f"machine: {machine()}")
        print(f"library: {graph.collection.face_count()} faces, {len(graph.collection.person_sizes())} persons "
              f"({found.counts}), built in {built:.0f} s; thumbnails of {args.photos} real photos")
        print("| request | ms (median of %d) |" % args.repeat)
        print("|---|---|")
        for name, seconds in rows.items():
            print(f"| {name} | {1000 * seconds:.0f} |")
        print(f"warm / cold grid: {rows['grid + 48 thumbnails, warm cache'] / rows['grid + 48 thumbnails, cold cache']:.2f}")
        graph.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
