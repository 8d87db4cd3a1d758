"""Fixtures of the review app's tests (test_review.py, test_photo_view.py): a store of real photos clustered once
per module and copied for each test, and the app over the copy. A module with a store of its own (test_persons.py,
test_people.py, ...) defines its own `template` and `graph`, which take precedence over these."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from facegraph.persons import FaceGraph
from facegraph.review import create_app

PEOPLE = ("Madonna", "Elton_John", "Jerry_Seinfeld")


@pytest.fixture(scope="module")
def template(datasets, default_pipeline, tmp_path_factory):
    """A clustered store of six photos of each of three people, made once and copied for each test."""
    folder = tmp_path_factory.mktemp("review") / "store"
    with FaceGraph(folder, pipeline=default_pipeline) as graph:
        graph.index([photo for who in PEOPLE for photo in sorted((datasets / "five_celebs" / who).iterdir())[:6]])
        graph.cluster_all()
    return folder


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
