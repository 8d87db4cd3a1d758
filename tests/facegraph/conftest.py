"""Fixtures of the review app's tests (test_review.py, test_photo_view.py): a store of real photos clustered once
per module and copied for each test, and the app over the copy. A module with a store of its own (test_persons.py,
test_people.py, ...) defines its own `template` and `graph`, which take precedence over these."""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest
from fastapi.testclient import TestClient

from evaluation.labeled import load_labeled_set, main_face
from facegraph.persons import FaceGraph
from facegraph.review import create_app
from facegraph.review.security import reachable_hosts
from facegraph.review.server import listen
from facegraph.store.base import FACES, PERSONS, PHOTOS

PEOPLE = ("Madonna", "Elton_John", "Jerry_Seinfeld")
SCREENSHOTS = "/tmp/facegraph-review-screenshots"  # where a run keeps them unless FACEGRAPH_TEST_ARTIFACTS says


@pytest.fixture(scope="module")
def template(datasets, default_pipeline, tmp_path_factory):
    """A clustered store of six photos of each of three people, made once and copied for each test."""
    folder = tmp_path_factory.mktemp("review") / "store"
    with FaceGraph(folder, pipeline=default_pipeline) as graph:
        graph.index([photo for who in PEOPLE for photo in sorted((datasets / "five_celebs" / who).iterdir())[:6]])
        graph.cluster_all()
    return folder


@pytest.fixture(scope="session")
def five_celebs_indexed(datasets, default_pipeline, tmp_path_factory):
    """All of five_celebs indexed once (not clustered), and each labeled face's identity (its photo's largest)."""
    photos = load_labeled_set(datasets / "five_celebs")
    results = default_pipeline.run([photo.path for photo in photos])
    identity = {main_face(result).face_id: photo.identity for photo, result in zip(photos, results)}
    folder = tmp_path_factory.mktemp("five_celebs") / "store"
    with FaceGraph(folder, pipeline=default_pipeline) as graph:
        graph.index([photo.path for photo in photos])
    return folder, identity


def everything(graph) -> dict:
    """Every point of every collection, to tell whether anything was written."""
    return {collection: sorted(map(repr, (p.payload for p in graph.store.scroll(collection))))
            for collection in (FACES, PERSONS, PHOTOS)}


@pytest.fixture
def graph(template, tmp_path, default_pipeline):
    shutil.copytree(template, tmp_path / "store")
    with FaceGraph(tmp_path / "store", pipeline=default_pipeline) as graph:  # the models load only if a test indexes
        yield graph


@pytest.fixture
def client(graph, tmp_path):
    app = create_app(graph, thumbnails=tmp_path / "thumbnails")
    # a POST carries the app's CSRF token, as the pages' forms do (test_review_security.py: without it, 403)
    with TestClient(app, follow_redirects=False, headers={"X-CSRF-Token": app.state.csrf_token}) as client:
        yield client


# ---- in a real browser ------------------------------------------------------------------------------------------

class Server:
    """The review app of `graph` served by uvicorn in a thread, on a free loopback port, answering the Host names
    `serve` lets in; its thumbnails are kept in the folder `thumbnails`."""

    def __init__(self, graph, thumbnails, **options):
        import uvicorn

        self.socket = listen("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.app = create_app(graph, thumbnails=thumbnails, hosts=reachable_hosts("127.0.0.1"), **options)  # as `serve`
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the review app did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()


@pytest.fixture
def browser(require):
    """Debian's Chromium driven by Playwright (which cannot download a browser of its own here)."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        require("no Chromium found (chromium or chromium-browser on PATH); apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def server(graph, tmp_path):
    """The review app of `graph`, served for a browser."""
    with Server(graph, tmp_path / "thumbnails") as server:
        yield server


def keep(screenshot) -> str:
    """Copy a screenshot where the test run keeps it and say where."""
    folder = os.environ.get("FACEGRAPH_TEST_ARTIFACTS") or SCREENSHOTS
    os.makedirs(folder, exist_ok=True)
    kept = shutil.copy(screenshot, folder)
    print(f"screenshot: {kept}")
    return kept
