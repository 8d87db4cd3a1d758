"""Average linkage over the graph (`sparse_linkage`): exact at ε = 0, every merge (1+ε)-good above it, and the
corrections, the photo rule and poor faces kept as they are."""

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import csr_matrix

from evaluation.synthetic_faces import synthetic_faces
from evaluation.metrics import bcubed_scores
from facegraph import clustering
from facegraph.cluster_settings import ClusterSettings
from facegraph.clustering import cluster, quality_levels
from facegraph.constraints import Faces
from facegraph.neighbours import neighbour_graph
from facegraph.persons import FaceGraph
from facegraph.sparse_linkage import average_linkage

SETTINGS = ClusterSettings("average", 0.3, poor_threshold=0.2, quality_range=(18.0, 26.0))


def on_levels(count: int, seed: int) -> np.ndarray:
    """Quality scores on the quality levels (so the levels' shifts are exact), poor to clear."""
    return 18.0 + np.random.default_rng(seed).integers(0, 33, size=count) * 0.25


def shifted(vectors: np.ndarray, quality: np.ndarray, settings: ClusterSettings = SETTINGS) -> np.ndarray:
    return vectors @ vectors.T + settings.similarity_shift(quality[:, None], quality[None, :])


def linked(graph, vectors, quality, *, epsilon, photos=None, pins=None, on_round=None, settings=SETTINGS):
    faces = Faces(vectors, quality=quality)
    level, shifts = quality_levels(faces, settings)
    n = len(vectors)
    return average_linkage(graph, vectors, settings.threshold, level=level, shifts=shifts, epsilon=epsilon,
                           photos=np.arange(n) if photos is None else photos,
                           pins=np.full(n, -1) if pins is None else pins, on_round=on_round)


def scipy_average(similarity: np.ndarray, threshold: float) -> np.ndarray:
    distances = np.clip(1.0 - similarity, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    return fcluster(linkage(distances[np.triu_indices(len(distances), 1)], "average"), t=1 - threshold,
                    criterion="distance")


def same_partition(a, b) -> bool:
    return len(set(zip(a, b))) == len(set(a)) == len(set(b))


def test_at_epsilon_zero_it_is_scipys_average_linkage_on_random_faces():
    vectors, _ = synthetic_faces(300, seed=3)
    quality = on_levels(len(vectors), 3)
    similarity = shifted(vectors, quality)
    complete = csr_matrix(np.triu(np.maximum(similarity, 1e-3), 1))  # every pair an edge
    groups = linked(complete, vectors, quality, epsilon=0.0)
    expected = scipy_average(similarity, SETTINGS.threshold)
    assert len(set(expected)) > 10
    assert same_partition(groups, expected)


def test_at_epsilon_zero_it_is_scipys_average_linkage_on_real_faces(five_celebs_indexed):
    folder, _ = five_celebs_indexed
    with FaceGraph(folder, pipeline=lambda: None) as graph:
        read = graph.collection.read_faces()
    vectors = read.vectors.astype(np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    settings = ClusterSettings()  # the default, with its quality-aware bars
    quality = clustering.level_qualities(settings.quality_range)[clustering.quality_level(read.quality,
                                                                                           settings.quality_range)]
    similarity = shifted(vectors, quality, settings)
    complete = csr_matrix(np.triu(np.maximum(similarity, 1e-3), 1))
    groups = linked(complete, vectors, quality, epsilon=0.0, settings=settings)
    expected = scipy_average(similarity, settings.threshold)
    assert 5 <= len(set(expected)) < len(vectors) / 2  # five people, and the faces of their photos' backgrounds
    assert same_partition(groups, expected)


@pytest.mark.parametrize("epsilon", [0.1, 0.3])
def test_above_zero_every_merge_is_good_within_its_factor(epsilon):
    """Each round's merges, checked against the groups rebuilt from the faces: every leaf's average similarity
    to the rest of its star reaches τ and is within 1 + ε of the best linkage the leaf and its hub had."""
    vectors, truth = synthetic_faces(400, seed=5)
    quality = on_levels(len(vectors), 5)
    photos = np.arange(len(vectors))
    first, second = np.arange(0, 200, 5), np.arange(200, 400, 5)
    apart = truth[first] != truth[second]
    photos[second[apart]] = photos[first[apart]]  # photos of two people
    similarity = shifted(vectors, quality)
    graph = neighbour_graph(vectors, threshold=0.1, k=10)
    edges = graph.maximum(graph.T).tocoo()
    label = np.arange(len(vectors))  # the group (named by a face) each face is in
    merges = []

    def check(hubs, leaves):
        members = {g: np.flatnonzero(label == g) for g in np.unique(label)}

        def link(x, y):
            return similarity[np.ix_(x, y)].mean()

        best = dict.fromkeys(members, -np.inf)
        for g, h in {(label[i], label[j]) for i, j in zip(edges.row, edges.col) if label[i] != label[j]}:
            one_photo = np.intersect1d(photos[members[g]], photos[members[h]]).size > 0
            if not one_photo and (value := link(members[g], members[h])) >= SETTINGS.threshold:
                best[g] = max(best[g], value)
        for hub in np.unique(hubs):
            star = np.concatenate([members[hub], *(members[leaf] for leaf in leaves[hubs == hub])])
            assert len(set(photos[star])) == len(star)  # no photo twice in a star
            for leaf in leaves[hubs == hub]:
                value = link(members[leaf], np.setdiff1d(star, members[leaf]))
                bound = max(SETTINGS.threshold, best[leaf] / (1 + epsilon), best[hub] / (1 + epsilon))
                assert value >= bound - 1e-9
                merges.append(len(leaves[hubs == hub]))
        for hub, leaf in zip(hubs, leaves):
            label[label == leaf] = hub

    groups = linked(graph, vectors, quality, epsilon=epsilon, photos=photos, on_round=check)
    assert max(merges) > 1  # stars of several leaves were made and checked
    assert same_partition(groups, label)
    exact = linked(graph, vectors, quality, epsilon=0.0, photos=photos)
    assert bcubed_scores(exact, groups)[2] > 0.99


def test_a_large_part_keeps_pins_photos_and_poor_faces(monkeypatch):
    """Linked over the graph (a part above the matrix's bound), at the default ε: faces pinned to one person stay
    together and to two stay apart, no person holds two faces of one photo, and poor faces join their person at
    the lower bar, as the exact linkage places them."""
    vectors, truth = synthetic_faces(600, seed=7)
    rng = np.random.default_rng(7)
    quality = np.where(rng.random(len(vectors)) < 0.2, 18.0, 30.0)  # a fifth of the faces poor
    biggest = np.flatnonzero(truth == np.bincount(truth).argmax())
    pinned = np.full(len(vectors), -1)
    pinned[biggest[:3]], pinned[biggest[3:6]] = 0, 1  # one person's faces pinned to two persons
    photos = np.arange(len(vectors))
    photos[biggest[6]] = photos[biggest[7]]  # and two of its faces in one photo
    faces = Faces(vectors, photos=photos, pinned=pinned, quality=quality)
    settings = ClusterSettings()
    graph = neighbour_graph(vectors, threshold=settings.lowest_threshold, k=settings.neighbours)
    monkeypatch.setattr(clustering, "MAX_LINKAGE_FACES", 0)
    labels = cluster(graph, faces, settings)
    assert len(set(labels[biggest[:3]])) == 1 and len(set(labels[biggest[3:6]])) == 1
    assert labels[biggest[0]] != labels[biggest[3]] and labels[biggest[6]] != labels[biggest[7]]
    for person in np.unique(labels):
        assert len(set(photos[labels == person])) == (labels == person).sum()
    import facegraph.sparse_linkage as module

    monkeypatch.setattr(module, "EPSILON", 0.0)
    exact = cluster(graph, faces, settings)
    assert bcubed_scores(exact, labels)[2] > 0.99


def test_a_seed_stands_for_its_faces():
    """New faces linked beside a large person given as one seed (its faces' sum, count and quality levels, as its
    record keeps them) land as they do beside the same faces given one by one, pinned together."""
    from facegraph.sparse_linkage import Seeds

    vectors, truth = synthetic_faces(500, seed=11)
    quality = on_levels(len(vectors), 11)
    person = np.flatnonzero(truth == np.bincount(truth).argmax())
    old, new = person[:-12], np.r_[person[-12:], np.flatnonzero(truth != truth[person[0]])[:40]]
    everyone = np.r_[old, new]
    graph = neighbour_graph(vectors[everyone], threshold=0.1, k=10).tocoo()
    pins = np.full(len(everyone), -1)
    pins[: len(old)] = 0
    by_faces = linked(graph.tocsr(), vectors[everyone], quality[everyone], epsilon=0.1, pins=pins)

    # the same, the old faces as one seed: each edge to an old face is an edge to the seed
    seed = len(new)
    node = np.r_[np.full(len(old), seed), np.arange(len(new))]
    rows, cols = node[graph.row], node[graph.col]
    keep = rows != cols
    seeded = csr_matrix((graph.data[keep], (rows[keep], cols[keep])), shape=(seed + 1, seed + 1))
    faces = Faces(vectors[new], quality=quality[new])
    level, shifts = quality_levels(faces, SETTINGS)
    old_levels = np.bincount(clustering.quality_level(quality[old], SETTINGS.quality_range),
                             minlength=len(shifts))
    seeds = Seeds(vectors[old].astype(np.float64).sum(axis=0)[None], np.array([len(old)]), old_levels[None])
    by_seed = average_linkage(seeded, vectors[new], SETTINGS.threshold, pins=np.r_[np.full(seed, -1), 0],
                              photos=np.arange(seed + 1), level=level, shifts=shifts, seeds=seeds)
    joined = by_faces[len(old):] == by_faces[0]
    assert 0 < joined.sum() < len(new)  # some new faces join the large person, some do not
    assert ((by_seed[:seed] == by_seed[seed]) == joined).all()
    assert same_partition(by_seed[:seed], by_faces[len(old):])
