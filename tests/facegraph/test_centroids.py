"""Stored centroids of large persons (`facegraph.centroids`): `assign_person` decides from them exactly as it does
from reading every face of the person, and every write keeps them equal to the person's faces."""

import numpy as np
import pytest

from facegraph.centroids import vector_sum
from facegraph.persons import FaceGraph
from facegraph.store.base import PERSONS
from facegraph.store.embedded import EmbeddedStore


@pytest.fixture(scope="module")
def photos(datasets, default_pipeline):
    """Pipeline results of 8 photos each of two people: 12 to cluster, then 4 newcomers."""
    paths = [photo for who in ("Madonna", "Elton_John") for photo in sorted((datasets / "five_celebs" / who).iterdir())[:8]]
    results = list(default_pipeline.run(paths))
    return results[:6] + results[8:14], results[6:8] + results[14:16]


def assigned(folder, photos, monkeypatch, centroid_from: int):
    """Cluster the first photos, then give each newcomer's faces a person one by one, with persons of
    `centroid_from` faces or more keeping centroids."""
    monkeypatch.setattr("facegraph.centroids.CENTROID_FROM", centroid_from)
    first, newcomers = photos
    graph = FaceGraph(store=EmbeddedStore(folder), pipeline=lambda: None)
    graph.add_photos(first)
    graph.cluster_all()
    report = graph.add_photos(newcomers)
    chosen = {face_id: graph.assign_person(face_id) for face_id in report.new_face_ids}
    return graph, chosen


def check_centroids(graph) -> int:
    """Every stored centroid is the sum, count and quality levels of its person's faces; returns how many."""
    stored = 0
    for point in graph.store.scroll(PERSONS):
        if centroid := point.payload.get("centroid"):
            faces = graph.collection.read_faces(where={"person_id": point.payload["person_id"]})
            assert centroid["count"] == len(faces) == sum(centroid["levels"])
            np.testing.assert_allclose(vector_sum(centroid), faces.vectors.sum(axis=0), atol=1e-4)
            stored += 1
    return stored


def test_assign_person_from_centroids_decides_as_from_every_face(photos, tmp_path, monkeypatch):
    exact, by_faces = assigned(tmp_path / "exact", photos, monkeypatch, centroid_from=10**9)  # persons read whole
    with exact:
        assert check_centroids(exact) == 0
        confidence = {face_id: exact.collection.face(face_id).payload["person_confidence"] for face_id in by_faces}
    graph, by_centroids = assigned(tmp_path / "centroids", photos, monkeypatch, centroid_from=3)
    with graph:
        assert by_centroids == by_faces and len(set(by_faces.values())) >= 2
        for face_id, value in confidence.items():
            assert graph.collection.face(face_id).payload["person_confidence"] == pytest.approx(value, abs=1e-5)
        assert check_centroids(graph) >= 2  # and assign_person kept them current


def test_corrections_and_removals_keep_centroids_current(photos, tmp_path, monkeypatch):
    graph, chosen = assigned(tmp_path / "store", photos, monkeypatch, centroid_from=3)
    with graph:
        persons = sorted(p["person_id"] for p in graph.list_persons())
        big = max(persons, key=lambda p: graph.get_person(p)["face_count"])
        other = next(p for p in persons if p != big)
        moved = graph.get_person(big)["face_ids"][0]
        graph.reassign_face(moved, other)
        assert check_centroids(graph) >= 1
        members = graph.get_person(big)["face_ids"]
        graph.split_person(big, [members[:3]])
        assert check_centroids(graph) >= 1
        graph.merge_persons([big, other])
        check_centroids(graph)
        graph.remove_photos([photos[0][0].image_id, photos[0][-1].image_id])
        assert check_centroids(graph) >= 1
        for face_id in chosen:  # a face already in a person is placed against the person's other faces
            person_id = graph.assign_person(face_id)
            faces = graph.collection.read_faces(where={"person_id": person_id})
            own = faces.face_ids.index(face_id)
            others = np.delete(faces.vectors, own, axis=0).sum(axis=0)
            expected = np.clip(faces.vectors[own] @ others / np.linalg.norm(others), 0, 1) if len(faces) > 1 else 0.0
            assert faces.confidence[own] == pytest.approx(expected, abs=1e-5)
        assert check_centroids(graph) >= 1
