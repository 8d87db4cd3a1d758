import numpy as np
import pytest

from scipy.sparse import csr_matrix

from evaluation.synthetic_faces import synthetic_faces
from facegraph.cluster_settings import METHOD_NAMES, ClusterSettings
from facegraph.clustering import METHODS, cluster, mutual
from facegraph.vectors import confidences
from facegraph.neighbours import knn_graph, neighbour_graph
from facegraph.constraints import Faces, enforce
from facegraph.errors import InvalidRequestError
from facegraph.person_merges import merge_nearest_persons, suggest_merges
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
    labels = cluster(neighbour_graph(three_people, threshold=0.5), Faces(three_people), ClusterSettings("components", 0.5))
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_recovers_three_clear_people(three_people, method):
    settings = ClusterSettings(method, 0.5, min_neighbours=2)
    labels = cluster(neighbour_graph(three_people, threshold=0.5), Faces(three_people), settings)
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_keeps_pins(three_people, method):
    pinned = np.full(12, -1)
    pinned[[0, 1]] = [0, 1]  # split apart
    pinned[[4, 11]] = 2  # merged across persons
    graph = neighbour_graph(three_people, threshold=0.5)
    labels = cluster(graph, Faces(three_people, pinned=pinned), ClusterSettings(method, 0.5, min_neighbours=2))
    assert labels[0] != labels[1] and labels[4] == labels[11]


@pytest.mark.parametrize("method", sorted(METHODS))
def test_two_faces_of_one_photo_never_share_a_person(three_people, method):
    photos = np.arange(12)
    photos[[1, 2]] = 100  # faces 1 and 2, of one person, are in one photo
    graph = neighbour_graph(three_people, threshold=0.5)
    labels = cluster(graph, Faces(three_people, photos=photos), ClusterSettings(method, 0.5, min_neighbours=2))
    assert labels[1] != labels[2]
    assert len(set(labels[4:8])) == 1 and set(labels[4:8]).isdisjoint(labels[:4])  # other persons unharmed


def test_a_correction_may_put_two_faces_of_one_photo_together(three_people):
    photos, pinned = np.arange(12), np.full(12, -1)
    photos[[1, 2]] = 100
    pinned[[1, 2]] = 0  # a reflection: the person said so
    labels = cluster(neighbour_graph(three_people, threshold=0.5), Faces(three_people, photos, pinned),
                     ClusterSettings("average", 0.5))
    assert labels[1] == labels[2]


def test_enforce_splits_a_conflicting_cluster_along_its_strongest_edges():
    # one cluster of 4 faces: 0-1 and 2-3 strongly alike, 1-2 weakly; faces 0 and 3 are of one photo
    weights = np.zeros((4, 4))
    weights[0, 1] = weights[2, 3] = 0.9
    weights[1, 2] = 0.5
    graph = csr_matrix(weights + weights.T)
    faces = Faces(np.eye(4), photos=np.array([7, 1, 2, 7]))
    labels = enforce(np.zeros(4, dtype=int), graph, faces)
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[0] != labels[3]
    assert enforce(np.zeros(4, dtype=int), graph, Faces(np.eye(4))).tolist() == [0, 0, 0, 0]  # no conflict: unchanged


@pytest.mark.parametrize(("changes", "message"), [
    ({"threshold": 1.3}, r"threshold must be in \[0, 1\], got 1.3"),
    ({"threshold": float("nan")}, r"threshold must be in \[0, 1\], got nan"),
    ({"method": "magic"}, r"method must be one of .*, got 'magic'"),
    ({"neighbours": 0}, "neighbours must be a whole number of at least 1, got 0"),
    ({"neighbours": 2.5}, "neighbours must be a whole number of at least 1, got 2.5"),
    ({"min_neighbours": -3}, "min_neighbours must be a whole number of at least 1, got -3"),
    ({"merge_threshold": 2.0}, r"merge_threshold must be in \[0, 1\], got 2.0"),
])
def test_bad_settings_are_refused_with_the_value(changes, message):
    from facegraph.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match=message):
        ClusterSettings(**changes)


def test_settings_name_only_the_parameters_their_method_has():
    assert ClusterSettings("density", 0.3, min_neighbours=2, poor_threshold=None).parameters() == {
        "method": "density", "threshold": 0.3, "neighbours": 10, "min_neighbours": 2}
    assert "min_neighbours" not in ClusterSettings("average").parameters()
    assert ClusterSettings("average", 0.3, merge_threshold=0.5, poor_threshold=None,
                           connect_threshold=None).name == "average merge=0.5 tau=0.30"
    quality_aware = ClusterSettings("average", 0.3, connect_threshold=0.4, poor_threshold=0.2, quality_range=(18, 24))
    assert quality_aware.name == "average connect=0.4 poor=0.2 q=18-24 tau=0.30"
    assert ClusterSettings(**quality_aware.parameters()) == quality_aware  # parameters are plain values that round-trip
    assert None not in ClusterSettings().parameters().values()
    assert "connect_threshold" in ClusterSettings().parameters()
    assert "connect_threshold" not in ClusterSettings("whispers").parameters()  # average's own
    assert ClusterSettings(threshold=0.5, connect_threshold=0.4).connect_bar == 0.5  # never below τ


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


def test_the_settings_name_every_clustering_method():
    assert sorted(METHOD_NAMES) == sorted(METHODS)


def test_a_made_id_never_equals_an_id_another_cluster_claimed_or_the_store_holds():
    # cluster 0 continues person P, whose id was once made from face "c" alone; cluster 1 is face "c" again
    made_from_c = derived_person_id("c")
    ids = carry_over_ids([0, 0, 1], ["a", "b", "c"], [made_from_c, made_from_c, None], reserved={})
    assert ids[0] == made_from_c and ids[1] != made_from_c and len(set(ids)) == 2
    # the same clash with an id held by a person outside this run (the store's), deterministically resolved
    held = {derived_person_id("a", "b")}
    first = carry_over_ids([0, 0], ["a", "b"], [None, None], reserved={}, in_use=lambda ids: held & set(ids))
    again = carry_over_ids([0, 0], ["a", "b"], [None, None], reserved={}, in_use=lambda ids: held & set(ids))
    assert first == again and first[0] not in held and first[0].startswith("person_") and len(first[0]) == 19
    # a reserved id is never made for another cluster either
    ids = carry_over_ids([0, 1], ["a", "b"], [None, None], reserved={0: derived_person_id("b")})
    assert ids[1] != ids[0]


def test_the_exact_graph_cut_to_k_best_as_it_goes_is_the_graph_of_all_pairs(monkeypatch):
    # every pair passes τ = 0 here, the case whose memory grew with the square of the faces
    vectors = np.random.default_rng(1).normal(size=(800, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    whole = neighbour_graph(vectors, threshold=0.0, k=3, block_size=800)
    monkeypatch.setattr("facegraph.neighbours.BLOCK_ELEMENTS", 1000)  # cut after every block of 50 rows
    cut = neighbour_graph(vectors, threshold=0.0, k=3, block_size=50)
    assert whole.nnz == cut.nnz == 800 * 3 and ((whole != 0) != (cut != 0)).nnz == 0  # the same edges
    np.testing.assert_allclose(cut.data, whole.data, rtol=1e-5)  # products of other block shapes round apart
    top = np.sort(np.where(np.eye(800, dtype=bool), -np.inf, vectors @ vectors.T), axis=1)[:, -3:]
    np.testing.assert_allclose(np.sort(cut.toarray(), axis=1)[:, -3:], top, rtol=1e-5)


def test_the_exact_graph_memory_grows_with_the_faces_not_their_pairs():
    import tracemalloc

    peaks = []
    for n in (2000, 4000):  # every pair passes τ = 0: twice the faces are four times the pairs
        vectors = np.random.default_rng(0).normal(size=(n, 32)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        tracemalloc.start()
        neighbour_graph(vectors, threshold=0.0, k=10)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 2 * peaks[0], peaks  # all pairs held at once: 118 MB, then 449 MB (3.8x)


@pytest.mark.parametrize("k", [0, 201, 10**12])
def test_a_neighbour_count_out_of_bounds_is_refused(three_people, k):
    with pytest.raises(InvalidRequestError, match="neighbours must be"):
        neighbour_graph(three_people, threshold=0.5, k=k)
    with pytest.raises(InvalidRequestError, match="neighbours must be"):
        ClusterSettings(neighbours=k)


def test_density_does_not_chain_two_people_through_one_stray_face():
    # two tight persons (faces 0-3 and 4-7) and a stray face 8 with one weak edge to each
    weights = np.zeros((9, 9))
    weights[:4, :4] = weights[4:8, 4:8] = 0.9
    weights[8, 0] = weights[0, 8] = 0.62
    weights[8, 4] = weights[4, 8] = 0.61
    np.fill_diagonal(weights, 0)
    graph, faces = csr_matrix(weights), Faces(np.eye(9))
    assert len(set(cluster(graph, faces, ClusterSettings("components", 0.5)))) == 1  # chained
    labels = cluster(graph, faces, ClusterSettings("density", 0.5, min_neighbours=3))
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0]  # the stray face joins its closest core face's person


def test_mutual_keeps_only_edges_found_from_both_ends():
    graph = csr_matrix(np.array([[0, 0.9, 0.8], [0.9, 0, 0], [0, 0.7, 0]]))
    assert sorted(zip(*mutual(graph).nonzero())) == [(0, 1), (1, 0)]
    assert cluster(graph, Faces(np.eye(3)), ClusterSettings("mutual", 0.5)).tolist() == [0, 0, 1]


def test_average_linkage_does_not_chain_through_one_stray_face(three_people):
    bridge = unit([three_people[3] + three_people[4]])  # alike one face of person 0 and one of person 1
    vectors = np.vstack([three_people, bridge])
    graph, faces = neighbour_graph(vectors, threshold=0.5), Faces(vectors)
    components = cluster(graph, faces, ClusterSettings("components", 0.5))
    assert components[0] == components[4]
    labels = cluster(graph, faces, ClusterSettings("average", 0.5))
    assert len({labels[0], labels[4], labels[8]}) == 3


def test_average_links_only_faces_connected_at_the_connect_bar(three_people):
    rng = np.random.default_rng(1)
    # a newcomer somewhat alike every face of person 0, and clearly alike none of them
    newcomer = unit([three_people[:4].mean(axis=0) / np.linalg.norm(three_people[:4].mean(axis=0)) + unit(rng.normal(size=(1, 16)))[0]])
    vectors = np.vstack([three_people, newcomer])
    similarities = three_people[:4] @ newcomer[0]
    assert similarities.mean() > 0.5 and similarities.max() < 0.8  # the premise
    graph, faces = neighbour_graph(vectors, threshold=0.3), Faces(vectors)
    joined = cluster(graph, faces, ClusterSettings("average", 0.5, connect_threshold=None, poor_threshold=None))
    apart = cluster(graph, faces, ClusterSettings("average", 0.5, connect_threshold=0.8, poor_threshold=None))
    assert joined[12] == joined[0] and apart[12] != apart[0]
    assert len(set(apart[:12])) == 3  # person 0 itself holds at 0.8


def test_average_linkage_bounds_the_size_it_links_exactly(three_people, monkeypatch):
    import facegraph.clustering as module

    monkeypatch.setattr(module, "MAX_LINKAGE_FACES", 3)  # every person is too big for the matrix
    graph, faces = neighbour_graph(three_people, threshold=0.5), Faces(three_people)
    labels = cluster(graph, faces, ClusterSettings("average", 0.5))
    # a component too big for the matrix is linked over the graph: each person stays whole
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]


def test_linkage_over_the_graph_is_scipys_average_linkage_on_a_complete_graph():
    from scipy.cluster.hierarchy import fcluster, linkage

    from facegraph.clustering import quality_levels
    from facegraph.sparse_linkage import average_linkage

    vectors, _ = synthetic_faces(300, seed=3)
    rng = np.random.default_rng(3)
    settings = ClusterSettings("average", 0.3, poor_threshold=0.2, quality_range=(18.0, 26.0))
    quality = 18.0 + rng.integers(0, 33, size=len(vectors)) * 0.25  # on the quality levels: no rounding
    faces = Faces(vectors, quality=quality)
    level, shifts = quality_levels(faces, settings)
    similarity = vectors @ vectors.T + settings.similarity_shift(quality[:, None], quality[None, :])
    complete = csr_matrix(np.triu(np.maximum(similarity, 1e-3), 1))
    groups = average_linkage(complete, vectors, 0.3, pins=np.full(len(vectors), -1), photos=np.arange(len(vectors)),
                             level=level, shifts=shifts)
    distances = np.clip(1.0 - similarity, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    expected = fcluster(linkage(distances[np.triu_indices(len(vectors), 1)], "average"), t=0.7, criterion="distance")
    assert len(set(expected)) > 10
    assert len(set(zip(groups, expected))) == len(set(groups)) == len(set(expected))  # the same partition


def test_the_merge_pass_joins_persons_that_are_each_others_nearest(three_people):
    labels = np.array([0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])  # person 0 cut in two
    merged = merge_nearest_persons(labels, Faces(three_people), 0.5)
    assert merged[0] == merged[2] and len(set(merged)) == 3
    photos = np.arange(12)
    photos[[0, 2]] = 100  # ... unless the two halves share a photo
    assert len(set(merge_nearest_persons(labels, Faces(three_people, photos), 0.5))) == 4


def test_merge_suggestions_rank_the_cut_person_first_and_leave_out_split_pairs(three_people):
    labels = np.array([0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])
    ids = ["person_a", "person_b", "person_c", "person_d"]
    [first, *rest] = suggest_merges(labels, Faces(three_people), ids, limit=3)
    assert set(first.person_ids) == {"person_a", "person_b"} and first.face_counts == (2, 2)
    assert first.similarity >= first.average_similarity and first.closest_similarity >= first.average_similarity
    assert all(first.similarity >= other.similarity for other in rest)
    kept_apart = {frozenset(("person_a", "person_b"))}
    assert all(set(s.person_ids) != {"person_a", "person_b"}
               for s in suggest_merges(labels, Faces(three_people), ids, limit=10, kept_apart=kept_apart))


def test_approximate_graph_finds_nearly_every_exact_neighbour_and_is_reproducible():
    vectors, _ = synthetic_faces(6000)  # persons of 1 to 400 faces, as ArcFace embeds them
    exact = neighbour_graph(vectors, threshold=0.2, k=10, approximate=False)
    approximate = neighbour_graph(vectors, threshold=0.2, k=10, approximate=True)
    assert approximate.diagonal().max() == 0 and approximate.data.min() >= 0.2
    assert np.diff(approximate.indptr).max() <= 10
    rows, cols = approximate.nonzero()
    np.testing.assert_allclose(approximate[rows, cols].A1, np.einsum("ij,ij->i", vectors[rows], vectors[cols]), atol=1e-5)
    found = exact.multiply(approximate > 0).nnz / exact.nnz
    print(f"approximate graph: {found:.4f} of the exact k nearest found")
    assert found >= 0.95
    again = neighbour_graph(vectors, threshold=0.2, k=10, approximate=True)
    assert (again != approximate).nnz == 0  # the same faces give the same graph, run after run
    by_size = neighbour_graph(vectors, threshold=0.2, k=10)  # 6,000 faces: below APPROXIMATE_FROM, so exact
    assert (by_size != exact).nnz == 0


def test_knn_graph_drops_missing_self_and_weak_neighbours():
    neighbours = np.array([[1, 2, -1], [0, 1, 2], [0, -1, -1]])
    similarities = np.array([[0.9, 0.1, 0.0], [0.9, 1.0, 0.5], [0.1, 0.0, 0.0]], dtype=np.float32)
    graph = knn_graph(neighbours, similarities, threshold=0.3)
    assert sorted(zip(*graph.nonzero())) == [(0, 1), (1, 0), (1, 2)]


def test_infomap_runs_after_the_approximate_graph_in_one_process():
    """faiss and infomap share SWIG's iterator type: in the wrong order of loading, infomap crashes the process."""
    import subprocess
    import sys

    script = """
import numpy as np
from facegraph.cluster_settings import ClusterSettings
from facegraph.clustering import cluster
from facegraph.constraints import Faces
from facegraph.neighbours import neighbour_graph
rng = np.random.default_rng(0)
centres = rng.normal(size=(30, 64))
vectors = np.repeat(centres, 40, axis=0) + 0.3 * rng.normal(size=(1200, 64))
vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
faces = Faces(vectors)
settings = ClusterSettings(method="infomap", threshold=0.5, poor_threshold=None)
first = cluster(neighbour_graph(vectors, threshold=0.5, approximate=False), faces, settings)
second = cluster(neighbour_graph(vectors, threshold=0.5, approximate=True), faces, settings)
print(len(set(first)), len(set(second)))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["30", "30"]
