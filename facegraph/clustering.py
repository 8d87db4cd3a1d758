"""Grouping faces into persons: a clustering of the neighbour graph of the embeddings (`neighbours.py`).

Plain numpy/scipy over arrays, with no store: `persons.py` feeds it the collection's vectors and writes back what
it returns. `ClusterSettings` says how (method, τ, the graph's k, each method's own parameters); every method in
`METHODS` takes `(graph, faces, settings)` and returns a label per face, and `cluster` then makes any method's
result respect the corrections and photos (`constraints.enforce`) and, if asked, merges persons that are each
other's nearest (`person_merges`).
"""

from __future__ import annotations

import random
from contextlib import contextmanager

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from facegraph.cluster_settings import ClusterSettings
from facegraph.constraints import Faces, enforce, pin_edges
from facegraph.person_merges import merge_nearest_persons
from facegraph.sparse_linkage import QUALITY_LEVELS, Seeds, average_linkage

MAX_LINKAGE_FACES = 4000  # average linkage holds a component's full similarity matrix: bound its size
SEED = 0  # the randomised methods (whispers, infomap, leiden) run seeded, so the same input gives the same persons


# ---- the neighbour graph ---------------------------------------------------------------------------------------

def at_threshold(graph: csr_matrix, threshold: float) -> csr_matrix:
    """The neighbour graph at a higher threshold: the same k best edges, minus those below it (so one graph built
    at the lowest τ serves a whole sweep)."""
    kept = graph.copy()
    kept.data[kept.data < threshold] = 0
    kept.eliminate_zeros()
    return kept


def undirected(graph: csr_matrix) -> csr_matrix:
    """An edge kept from either end counts (the union of the kNN lists)."""
    return graph.maximum(graph.T).tocsr()


def mutual(graph: csr_matrix) -> csr_matrix:
    """Only edges kept from both ends (each face is among the other's k nearest)."""
    return graph.minimum(graph.T).tocsr()


# ---- the methods: (graph, faces, settings) -> a label per face --------------------------------------------------

def cluster_components(graph: csr_matrix, faces: Faces, settings: ClusterSettings) -> np.ndarray:
    """The seed's method: connected components of the neighbour graph."""
    return connected_components(undirected(graph), directed=False)[1]


def cluster_density(graph: csr_matrix, faces: Faces, settings: ClusterSettings) -> np.ndarray:
    """Core-face linking (as Immich and DBSCAN do): a face with at least `min_neighbours` neighbours in the graph
    is a core face, and only core faces link to each other; any other face joins its most similar core
    neighbour, or stays alone. One stray edge between two persons no longer chains them unless both ends are
    dense."""
    graph = undirected(graph)
    core = np.diff(graph.indptr) >= settings.min_neighbours
    edges = graph.tocoo()
    between_cores = core[edges.row] & core[edges.col]
    to_core = ~core[edges.row] & core[edges.col]
    # each non-core face keeps only its strongest edge to a core face
    order = np.lexsort((-edges.data, edges.row))
    best = np.zeros(len(edges.data), dtype=bool)
    candidates = order[to_core[order]]
    first = np.ones(len(candidates), dtype=bool)
    first[1:] = edges.row[candidates][1:] != edges.row[candidates][:-1]
    best[candidates[first]] = True
    keep = between_cores | best
    pruned = coo_matrix((edges.data[keep], (edges.row[keep], edges.col[keep])), shape=graph.shape)
    return connected_components(pruned, directed=False)[1]


def cluster_mutual(graph: csr_matrix, faces: Faces, settings: ClusterSettings) -> np.ndarray:
    """Connected components of the mutual-kNN graph: an edge counts only if each face is among the other's k
    nearest, which cuts the edges a crowded person sends to outsiders."""
    return connected_components(mutual(graph), directed=False)[1]


def cluster_average(graph: csr_matrix, faces: Faces, settings: ClusterSettings) -> np.ndarray:
    """Average linkage inside each connected component: two groups of faces join only if their faces are, on
    average, at least τ alike, so one stray edge cannot chain two persons.

    The components are those of the edges that reach `connect_bar`. One of up to MAX_LINKAGE_FACES faces is
    clustered exactly on its own faces' similarities (scipy); a larger one (a person of thousands of faces, or a
    chain of look-alikes) is linked over the graph's edges (`sparse_linkage`), which needs no matrix: the same
    averages, though only groups the graph links are compared. So a large person is linked as a small one is, not
    cut apart. Faces pinned to one person start as one group; two faces of one photo, or kept apart by an answer,
    count as unalike as faces can be.
    """
    threshold, pinned, photos = settings.threshold, faces.pins, faces.photo_numbers
    apart, local, none_apart = faces.apart_pairs, np.full(len(faces), -1), np.empty((0, 2), np.int64)
    level, shifts = quality_levels(faces, settings)
    labels = np.empty(len(faces), dtype=np.int64)
    next_label = 0
    connected = graph if settings.connect_bar == threshold else at_threshold(graph, settings.connect_bar)
    for members in _components(connected):
        kept_apart = _pairs_within(apart, members, local) if len(apart) else none_apart
        if len(members) == 1:
            groups = np.zeros(1, dtype=np.int64)
        elif len(members) > MAX_LINKAGE_FACES:
            groups = average_linkage(graph[members][:, members], faces.vectors[members], threshold,
                                     pins=pinned[members], photos=photos[members], level=level[members], shifts=shifts,
                                     apart=kept_apart)
        else:
            vectors, shift = faces.vectors[members], 0.0
            if faces.quality is not None:
                shift = settings.similarity_shift(faces.quality[members][:, None], faces.quality[members][None, :])
            distances = np.clip(1.0 - vectors @ vectors.T - shift, 0.0, 2.0).astype(np.float64)
            owners = pinned[members]
            distances[photos[members][:, None] == photos[members][None, :]] = 2.0
            distances[kept_apart[:, 0], kept_apart[:, 1]] = distances[kept_apart[:, 1], kept_apart[:, 0]] = 2.0
            distances[(owners[:, None] == owners[None, :]) & (owners[:, None] >= 0)] = 0.0
            np.fill_diagonal(distances, 0.0)
            groups = fcluster(linkage(distances[np.triu_indices(len(members), 1)], method="average"),
                              t=1.0 - threshold, criterion="distance")
        groups = np.unique(groups, return_inverse=True)[1].reshape(-1)
        labels[members] = next_label + groups
        next_label += groups.max() + 1
    return labels


def _pairs_within(pairs: np.ndarray, members: np.ndarray, local: np.ndarray) -> np.ndarray:
    """The pairs (of faces) with both faces among `members`, numbered as `members` number them; `local` is a
    scratch array of -1 per face, left as it was."""
    local[members] = np.arange(len(members))
    inside = local[pairs[(local[pairs[:, 0]] >= 0) & (local[pairs[:, 1]] >= 0)]]
    local[members] = -1
    return inside


def quality_levels(faces: Faces, settings: ClusterSettings) -> tuple[np.ndarray, np.ndarray]:
    """Each face's quality level (0 poor .. QUALITY_LEVELS clear) and what a pair whose poorer face is at each
    level adds to its cosine (`similarity_shift`), for linkage that sums shifts by level."""
    if settings.poor_threshold is None or faces.quality is None:
        return np.zeros(len(faces), dtype=np.int64), np.zeros(1)
    steps = level_qualities(settings.quality_range)
    return quality_level(faces.quality, settings.quality_range), settings.similarity_shift(steps, steps)


def quality_level(quality, quality_range) -> np.ndarray:
    """The level (0 .. QUALITY_LEVELS) of each quality score within `quality_range`."""
    poor, clear = quality_range
    clearness = np.clip((np.asarray(quality, dtype=np.float64) - poor) / (clear - poor), 0.0, 1.0)
    return np.rint(clearness * QUALITY_LEVELS).astype(np.int64)


def level_qualities(quality_range) -> np.ndarray:
    """The quality score of each level."""
    poor, clear = quality_range
    return poor + (clear - poor) * np.arange(QUALITY_LEVELS + 1) / QUALITY_LEVELS


def _components(graph: csr_matrix) -> list[np.ndarray]:
    """The graph's connected components, each as an array of faces."""
    labels = connected_components(undirected(graph), directed=False)[1]
    order = np.argsort(labels, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)


@contextmanager
def _seeded_igraph():
    """igraph draws from Python's `random`: give it a seeded generator of its own for one call."""
    import igraph

    igraph.set_random_number_generator(random.Random(SEED))
    try:
        yield igraph
    finally:
        igraph.set_random_number_generator(random)


def _edge_list(graph: csr_matrix) -> tuple[list, list, list]:
    """Each undirected edge once, as (rows, cols, weights) lists for the graph libraries."""
    edges = undirected(graph).tocoo()
    upper = edges.row < edges.col
    return edges.row[upper].tolist(), edges.col[upper].tolist(), edges.data[upper].tolist()


def _igraph(ig, graph: csr_matrix):
    rows, cols, weights = _edge_list(graph)
    g = ig.Graph(n=graph.shape[0], edges=list(zip(rows, cols)))
    g.es["weight"] = weights
    return g


def cluster_whispers(graph: csr_matrix, faces: Faces, settings: ClusterSettings) -> np.ndarray:
    """Chinese whispers: each face takes the person its neighbours' edge weights favour most, until no face
    changes (igraph's weighted label propagation, seeded)."""
    with _seeded_igraph() as ig:
        return np.array(_igraph(ig, graph).community_label_propagation(weights="weight").membership)


def cluster_infomap(graph: csr_matrix, faces: Faces, settings: ClusterSettings) -> np.ndarray:
    """Map-equation communities (the `infomap` package, two-level, seeded): persons are the groups a random walk
    on the weighted graph stays in longest, as in FaceMap."""
    from infomap import Infomap

    infomap = Infomap(two_level=True, silent=True, seed=SEED + 1, num_trials=1)
    infomap.add_nodes(range(graph.shape[0]))
    infomap.add_links(zip(*_edge_list(graph)))
    labels = np.arange(graph.shape[0]) + graph.shape[0]  # faces without a link stay alone
    infomap.run()
    for node, module in infomap.get_modules().items():  # not `run().modules()`: its SWIG iterator can crash beside faiss
        labels[node] = module
    return labels


def cluster_leiden(graph: csr_matrix, faces: Faces, settings: ClusterSettings) -> np.ndarray:
    """Leiden with the constant Potts model (`leidenalg`): a group holds together when its faces' edge weights
    beat `resolution` per pair of faces."""
    import leidenalg

    with _seeded_igraph() as ig:
        partition = leidenalg.find_partition(_igraph(ig, graph), leidenalg.CPMVertexPartition, weights="weight",
                                             resolution_parameter=settings.resolution, seed=SEED)
    return np.array(partition.membership)


METHODS = {"components": cluster_components, "average": cluster_average, "density": cluster_density,
           "mutual": cluster_mutual, "whispers": cluster_whispers, "infomap": cluster_infomap,
           "leiden": cluster_leiden}


def cluster(graph: csr_matrix, faces: Faces, settings: ClusterSettings) -> np.ndarray:
    """A label per face (0, 1, ... in order of each person's first face) by `settings.method`, respecting the
    corrections and photos in `faces` (see `constraints`), then the merge pass if `settings` asks for one.

    `graph` is a neighbour graph down to `settings.lowest_threshold` or lower: its edges are shifted for quality
    and cut at τ here."""

    graph = linkable(graph, faces, settings)
    labels = enforce(METHODS[settings.method](graph, faces, settings), graph, faces)
    if settings.merge_threshold is not None:
        labels = merge_nearest_persons(labels, faces, settings.merge_threshold)
    return renumber(labels)


def linkable(graph: csr_matrix, faces: Faces, settings: ClusterSettings) -> csr_matrix:
    """The graph a method clusters: its edges shifted for quality and cut at τ, and faces pinned to one person
    linked."""
    if settings.poor_threshold is not None and faces.quality is not None:
        graph = graph.tocoo()
        graph.data = graph.data + settings.similarity_shift(faces.quality[graph.row], faces.quality[graph.col])
        graph = graph.tocsr()
    graph = at_threshold(graph, settings.threshold)
    return (graph + pin_edges(faces.pins)).tocsr() if faces.pinned is not None else graph


def cluster_beside(graph: csr_matrix, faces: Faces, seeds: Seeds, seed_edges: coo_matrix, seed_pins: np.ndarray,
                   settings: ClusterSettings) -> np.ndarray:
    """Average linkage of `faces` beside large persons that stay as they are (`seeds`: their sums, counts and
    quality levels, as their records keep them), without reading their faces: a label per face, then per seed.

    `graph` links the faces; `seed_edges` (faces x seeds) each face's shifted similarity to the nearest face of a
    seed it has among its neighbours; `seed_pins` each seed's number among the pinned persons of `faces.pins`
    (faces pinned to a seed's person join it). Parts are cut at the connect bar as in `cluster_average`; each is
    linked over the graph, a seed being too large for the matrix."""
    n, m = len(faces), len(seed_pins)
    if settings.poor_threshold is None or faces.quality is None:  # no quality levels: one level for every face
        seeds = Seeds(seeds.sums, seeds.counts, seeds.counts[:, None])
    pinned_to_seed = np.flatnonzero(np.isin(faces.pins, seed_pins) & (faces.pins >= 0))
    seed_of_pin = dict(zip(seed_pins.tolist(), range(m)))
    to_seed = seed_edges.tocoo()
    rows = np.r_[to_seed.row, pinned_to_seed]
    cols = n + np.r_[to_seed.col, [seed_of_pin[p] for p in faces.pins[pinned_to_seed]]].astype(np.int64)
    weights = np.r_[to_seed.data, np.ones(len(pinned_to_seed))]
    keep = weights >= settings.threshold
    whole = linkable(graph, faces, settings).tocoo()
    rows, cols = np.r_[whole.row, rows[keep]], np.r_[whole.col, cols[keep]]
    weights = np.r_[whole.data, weights[keep]]
    nodes = csr_matrix((weights, (rows, cols)), shape=(n + m, n + m))
    part = connected_components(undirected(at_threshold(nodes, settings.connect_bar)), directed=False)[1]
    inside = part[rows] == part[cols]
    nodes = csr_matrix((weights[inside], (rows[inside], cols[inside])), shape=(n + m, n + m))
    level, shifts = quality_levels(faces, settings)
    photos = np.r_[faces.photo_numbers, faces.photo_numbers.max(initial=-1) + 1 + np.arange(m)]
    return average_linkage(nodes, faces.vectors, settings.threshold, pins=np.r_[faces.pins, seed_pins],
                           photos=photos, level=level, shifts=shifts, apart=faces.apart_pairs, seeds=seeds)


def renumber(labels: np.ndarray) -> np.ndarray:
    """Labels 0, 1, 2, ... in order of each cluster's first face, so equal partitions get equal labels."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]
