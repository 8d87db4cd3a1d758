import numpy as np
import pytest

from scipy.sparse import csr_matrix

from facegraph.clustering import (
    cluster_average, cluster_components, cluster_density, cluster_mutual, confidences, mutual, neighbour_graph,
)
from facegraph.person_ids import carry_over_ids, derived_person_id


def unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture
def three_people():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    return unit(np.repeat(centres, 4, axis=0) + 0.15 * rng.normal(size=(12, 16)))


def test_graph_keeps_each_faces_k_best_edges_above_threshold(three_people):
    graph = neighbour_graph(three_people, threshold=0.5, k=2, block_size=5)
    assert graph.diagonal().max() == 0 and graph.data.min() >= 0.5
    assert np.diff(graph.indptr).max() <= 2
    exact = three_people @ three_people.T
    np.fill_diagonal(exact, -1)
    for face in range(len(three_people)):
        expected = [j for j in np.argsort(-exact[face])[:2] if exact[face, j] >= 0.5]
        assert sorted(graph[face].indices) == sorted(expected)
    rows, cols = graph.nonzero()
    np.testing.assert_allclose(graph[rows, cols].A1, exact[rows, cols], atol=1e-6)
    # the same graph whatever the block size (up to float rounding of the products)
    other = neighbour_graph(three_people, threshold=0.5, k=2, block_size=1000)
    np.testing.assert_allclose(other.toarray(), graph.toarray(), atol=1e-6)


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


def test_density_does_not_chain_two_people_through_one_stray_face():
    # two tight persons (faces 0-3 and 4-7) and a stray face 8 with one weak edge to each
    weights = np.zeros((9, 9))
    weights[:4, :4] = weights[4:8, 4:8] = 0.9
    weights[8, 0] = weights[0, 8] = 0.62
    weights[8, 4] = weights[4, 8] = 0.61
    np.fill_diagonal(weights, 0)
    graph = csr_matrix(weights)
    assert len(set(cluster_components(graph))) == 1  # chained
    labels = cluster_density(graph, min_neighbours=3)
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0]  # the stray face joins its closest core face's person


def test_mutual_keeps_only_edges_found_from_both_ends():
    graph = csr_matrix(np.array([[0, 0.9, 0.8], [0.9, 0, 0], [0, 0.7, 0]]))
    assert sorted(zip(*mutual(graph).nonzero())) == [(0, 1), (1, 0)]
    assert cluster_mutual(graph).tolist() == [0, 0, 1]


def test_average_linkage_does_not_chain_through_one_stray_face(three_people):
    bridge = unit([three_people[3] + three_people[4]])  # alike one face of person 0 and one of person 1
    vectors = np.vstack([three_people, bridge])
    graph = neighbour_graph(vectors, threshold=0.5)
    assert cluster_components(graph)[0] == cluster_components(graph)[4]
    labels = cluster_average(graph, None, vectors, threshold=0.5)
    assert len({labels[0], labels[4], labels[8]}) == 3


@pytest.mark.parametrize("method", ["average", "density", "mutual"])
def test_every_method_keeps_pins(three_people, method):
    from facegraph.clustering import cluster

    pinned = np.full(12, -1)
    pinned[[0, 1]] = [0, 1]  # split apart
    pinned[[4, 11]] = 2  # merged across persons
    graph = neighbour_graph(three_people, threshold=0.5)
    labels = cluster(graph, method, pinned, vectors=three_people, threshold=0.5, min_neighbours=2)
    assert labels[0] != labels[1] and labels[4] == labels[11]


def test_average_linkage_bounds_the_size_it_links_exactly(three_people, monkeypatch):
    import facegraph.clustering as module

    monkeypatch.setattr(module, "MAX_LINKAGE_FACES", 3)  # every person's component is too big: cut higher
    labels = cluster_average(neighbour_graph(three_people, threshold=0.5), None, three_people, threshold=0.5)
    assert len(labels) == 12 and labels.max() >= 2
