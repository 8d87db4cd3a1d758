import numpy as np
import pytest

from facegraph.clustering import cluster_components, confidences, neighbour_graph
from facegraph.person_ids import carry_over_ids, derived_person_id


def unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture
def three_people():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    return unit(np.repeat(centres, 4, axis=0) + 0.15 * rng.normal(size=(12, 16)))


def test_graph_keeps_k_best_edges_above_threshold_symmetrically(three_people):
    graph = neighbour_graph(three_people, threshold=0.5, k=2, block_size=5)
    assert (graph != graph.T).nnz == 0 and graph.diagonal().max() == 0
    assert graph.data.min() >= 0.5
    # each face keeps at most 2 edges of its own; symmetry may add others' edges, never more than k + in-edges
    exact = three_people @ three_people.T
    rows, cols = graph.nonzero()
    np.testing.assert_allclose(graph[rows, cols].A1, exact[rows, cols], atol=1e-6)


def test_threshold_out_of_range_is_refused(three_people):
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\], got 1.3"):
        neighbour_graph(three_people, threshold=1.3)


def test_components_recover_the_people(three_people):
    labels = cluster_components(neighbour_graph(three_people, threshold=0.5))
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]


def test_pins_to_different_persons_are_never_joined(three_people):
    pinned = np.full(12, -1)
    pinned[[0, 1]] = [0, 1]  # a split: faces 0 and 1 belong to different persons
    labels = cluster_components(neighbour_graph(three_people, threshold=0.5), pinned)
    assert labels[0] != labels[1]
    assert len(set(labels[:4])) == 2 and set(labels[4:8]).isdisjoint(labels[:4])


def test_pins_to_one_person_are_always_joined(three_people):
    pinned = np.full(12, -1)
    pinned[[0, 11]] = 5  # a merge across two people
    labels = cluster_components(neighbour_graph(three_people, threshold=0.5), pinned)
    assert labels[0] == labels[11] == labels[3] == labels[8]


def test_confidence_is_similarity_to_the_other_faces(three_people):
    labels = np.array([0] * 4 + [1] * 4 + [2] * 3 + [3])
    scores = confidences(three_people, labels)
    others = three_people[1:4].sum(axis=0)
    assert scores[0] == pytest.approx(three_people[0] @ others / np.linalg.norm(others), abs=1e-6)
    assert scores[11] == 0.0 and ((scores >= 0) & (scores <= 1)).all()


def test_ids_carry_over_to_the_cluster_that_continues_a_person():
    face_ids = ["a", "b", "c", "d", "e"]
    prior = ["person_1", "person_1", "person_1", None, "person_2"]
    # person_1 is split across clusters 0 (two faces) and 1 (one face): cluster 0 keeps it
    ids = carry_over_ids([0, 0, 1, 1, 2], face_ids, prior, reserved={})
    assert ids[0] == "person_1" and ids[2] == "person_2"
    assert ids[1] == derived_person_id("c", "d") and ids[1].startswith("person_") and len(ids[1]) == 19
    # a reserved (corrected) id is never taken by another cluster
    ids = carry_over_ids([0, 0, 1, 1, 2], face_ids, prior, reserved={1: "person_1"})
    assert ids[1] == "person_1" and ids[0] == derived_person_id("a", "b")
