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
from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from facegraph.constraints import Faces, enforce, pin_edges
from facegraph.errors import InvalidRequestError, check_at_least
from facegraph.neighbours import DEFAULT_NEIGHBOURS, check_neighbours, check_threshold
from facegraph.sparse_linkage import QUALITY_LEVELS, average_linkage

DEFAULT_MIN_NEIGHBOURS = 3
MAX_LINKAGE_FACES = 4000  # average linkage holds a component's full similarity matrix: bound its size
SEED = 0  # the randomised methods (whispers, infomap, leiden) run seeded, so the same input gives the same persons


@dataclass(frozen=True)
class ClusterSettings:
    """How faces are grouped into persons.

    `threshold` (τ) is the cosine similarity at which two faces may be linked; the graph keeps each face's
    `neighbours` nearest faces at or above it. `connect_threshold`, for `average`, is the similarity an edge needs
    to put two faces in one part of the graph, inside which groups join at an average of τ: a face must be clearly
    alike one face of a person before the average decides (None: τ does both). `min_neighbours` is `density`'s
    core-face bar, `resolution` is `leiden`'s CPM resolution. `merge_threshold`, if set, adds a second pass that merges two persons when each is
    the other's nearest and their mean directions are at least this alike.

    `approximate` says how the neighbour graph is found (`facegraph.neighbours`): exactly (False),
    approximately (True), or by size (None: approximate from `APPROXIMATE_FROM` faces).

    `poor_threshold`, if set, makes linking quality-aware: two faces of one person are less alike the poorer the
    poorer of them is (small, blurred), while faces of different persons are not more alike for it, so the bar
    for a pair falls from τ, where the poorer face's `quality_score` is `quality_range[1]` or more, to
    `poor_threshold` where it is `quality_range[0]` or less (linearly between). The range is ArcFace w600k_mbf's:
    the median labeled face scores 23 to 24 on the web sets and LFW, 21 on the degraded LFW (faces of 24 to 64
    pixels, blurred), and a tenth of those score under 19.
    """

    # The default: the best worst-set setting of the sweep on every labeled set (docs/chosen_default.json names its
    # MLflow run; README, "How the default was chosen").
    method: str = "average"
    threshold: float = 0.25
    neighbours: int = DEFAULT_NEIGHBOURS
    min_neighbours: int = DEFAULT_MIN_NEIGHBOURS
    resolution: float = 0.05
    merge_threshold: float | None = None
    connect_threshold: float | None = 0.39
    poor_threshold: float | None = 0.22
    quality_range: tuple[float, float] = (18.0, 26.0)
    approximate: bool | None = None

    def __post_init__(self):
        object.__setattr__(self, "quality_range", tuple(float(v) for v in self.quality_range))  # lists from JSON
        if self.method not in METHODS:
            raise InvalidRequestError(f"method must be one of {sorted(METHODS)}, got {self.method!r}")
        check_threshold(self.threshold)
        for name in ("merge_threshold", "connect_threshold", "poor_threshold"):
            if getattr(self, name) is not None:
                check_threshold(getattr(self, name), name)
        if not self.quality_range[0] < self.quality_range[1]:
            raise InvalidRequestError(f"quality_range must be (poor, clear) with poor < clear, got {self.quality_range}")
        check_neighbours(self.neighbours)
        check_at_least(self.min_neighbours, 1, "min_neighbours")
        if not self.resolution > 0:
            raise InvalidRequestError(f"resolution must be above 0, got {self.resolution}")

    def with_(self, **changes) -> "ClusterSettings":
        return replace(self, **changes)

    def parameters(self) -> dict:
        """The settings that shape this method's result (a method's own parameters only where it has them)."""
        own = {"density": ["min_neighbours"], "leiden": ["resolution"]}.get(self.method, [])
        keep = ["method", "threshold", "neighbours", *own] + (["merge_threshold"] if self.merge_threshold else [])
        keep += ["connect_threshold"] if self.method == "average" and self.connect_threshold is not None else []
        keep += ["poor_threshold", "quality_range"] if self.poor_threshold is not None else []
        keep += ["approximate"] if self.approximate is not None else []
        return {key: value for key, value in self.to_dict().items() if key in keep}

    def to_dict(self) -> dict:
        """Every setting as a plain value (a list, not a tuple), as JSON, MLflow params and Dagster metadata take
        them; `ClusterSettings(**settings.to_dict())` is the same settings."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @property
    def lowest_threshold(self) -> float:
        """The lowest cosine at which any pair may link: the neighbour graph must keep edges from here up."""
        return min(self.threshold, self.poor_threshold if self.poor_threshold is not None else 1.0)

    @property
    def connect_bar(self) -> float:
        """The (quality-shifted) cosine an edge needs to connect two faces: `connect_threshold` for `average`, if
        set and above τ, else τ."""
        if self.method != "average" or self.connect_threshold is None:
            return self.threshold
        return max(self.threshold, self.connect_threshold)

    def similarity_shift(self, quality_a: np.ndarray, quality_b: np.ndarray) -> np.ndarray:
        """What quality-aware linking adds to each pair's cosine, so that comparing it to τ compares the cosine
        to the pair's own bar (0 without `poor_threshold`)."""
        if self.poor_threshold is None:
            return np.zeros(np.broadcast(quality_a, quality_b).shape)
        poor, clear = self.quality_range
        clearness = np.clip((np.minimum(quality_a, quality_b) - poor) / (clear - poor), 0.0, 1.0)
        return (1.0 - clearness) * (self.threshold - self.poor_threshold)

    @property
    def variant(self) -> str:
        """The method with its own parameters, without τ: what a curve against τ is drawn for."""
        extra = {key: value for key, value in self.parameters().items() if key not in ("method", "threshold", "neighbours")}
        short = {"min_neighbours": "m", "resolution": "r", "merge_threshold": "merge", "connect_threshold": "connect",
                 "poor_threshold": "poor", "quality_range": "q", "approximate": "ann"}
        return " ".join([self.method] + [f"{short[key]}={_short(value)}" for key, value in extra.items()])

    @property
    def name(self) -> str:
        return f"{self.variant} tau={self.threshold:.2f}"


def _short(value) -> str:
    return "-".join(f"{v:g}" for v in value) if isinstance(value, list) else f"{value:g}"


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
    cut apart. Faces pinned to one person start as one group; two faces of one photo count as unalike as faces
    can be.
    """
    threshold, pinned, photos = settings.threshold, faces.pins, faces.photo_numbers
    level, shifts = quality_levels(faces, settings)
    labels = np.empty(len(faces), dtype=np.int64)
    next_label = 0
    connected = graph if settings.connect_bar == threshold else at_threshold(graph, settings.connect_bar)
    for members in _components(connected):
        if len(members) == 1:
            groups = np.zeros(1, dtype=np.int64)
        elif len(members) > MAX_LINKAGE_FACES:
            groups = average_linkage(graph[members][:, members], faces.vectors[members], threshold,
                                     pins=pinned[members], photos=photos[members], level=level[members], shifts=shifts)
        else:
            vectors, shift = faces.vectors[members], 0.0
            if faces.quality is not None:
                shift = settings.similarity_shift(faces.quality[members][:, None], faces.quality[members][None, :])
            distances = np.clip(1.0 - vectors @ vectors.T - shift, 0.0, 2.0).astype(np.float64)
            owners = pinned[members]
            distances[photos[members][:, None] == photos[members][None, :]] = 2.0
            distances[(owners[:, None] == owners[None, :]) & (owners[:, None] >= 0)] = 0.0
            np.fill_diagonal(distances, 0.0)
            groups = fcluster(linkage(distances[np.triu_indices(len(members), 1)], method="average"),
                              t=1.0 - threshold, criterion="distance")
        groups = np.unique(groups, return_inverse=True)[1].reshape(-1)
        labels[members] = next_label + groups
        next_label += groups.max() + 1
    return labels


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
    for node, module in dict(infomap.run().modules()).items():
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
    from facegraph.person_merges import merge_nearest_persons

    if settings.poor_threshold is not None and faces.quality is not None:
        graph = graph.tocoo()
        graph.data = graph.data + settings.similarity_shift(faces.quality[graph.row], faces.quality[graph.col])
        graph = graph.tocsr()
    graph = at_threshold(graph, settings.threshold)
    if faces.pinned is not None:
        graph = (graph + pin_edges(faces.pins)).tocsr()
    labels = enforce(METHODS[settings.method](graph, faces, settings), graph, faces)
    if settings.merge_threshold is not None:
        labels = merge_nearest_persons(labels, faces, settings.merge_threshold)
    return renumber(labels)


def renumber(labels: np.ndarray) -> np.ndarray:
    """Labels 0, 1, 2, ... in order of each cluster's first face, so equal partitions get equal labels."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


BLOCK = 65536  # faces a step: the float64 copies of a million vectors would take 4 GB at once


def label_sums(labels: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """The sum of the vectors of each label 0..max, in float64 (sparse products a block of faces at a time: far
    faster than `np.add.at`, and never a float64 copy of every vector)."""
    n_labels = labels.max() + 1 if len(labels) else 0
    sums = np.zeros((n_labels, vectors.shape[1]))
    for start in range(0, len(labels), BLOCK):
        part = labels[start : start + BLOCK]
        indicator = coo_matrix((np.ones(len(part)), (part, np.arange(len(part)))), shape=(n_labels, len(part)))
        sums += indicator.tocsr() @ np.asarray(vectors[start : start + BLOCK], dtype=np.float64)
    return sums


def confidences(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each face's `person_confidence`: its cosine similarity to the mean direction of the *other* faces of its
    person, clipped to [0, 1]; 0 for a person of one face (no evidence either way)."""
    sums, sizes = label_sums(labels, vectors), np.bincount(labels)
    result = np.zeros(len(labels))
    for start in range(0, len(labels), BLOCK):
        rows = slice(start, start + BLOCK)
        own = np.asarray(vectors[rows], dtype=np.float64)
        result[rows] = np.where(sizes[labels[rows]] > 1, confidence_towards(own, sums[labels[rows]] - own), 0.0)
    return result


def confidence_towards(own: np.ndarray, others_sum: np.ndarray) -> np.ndarray:
    """Each row of `own`'s cosine to the direction of the matching row of `others_sum`, clipped to [0, 1]."""
    similarity = np.einsum("ij,ij->i", own, others_sum) / np.maximum(np.linalg.norm(others_sum, axis=1), 1e-12)
    return np.clip(similarity, 0.0, 1.0)
