"""Grouping faces into persons: a neighbour graph over the embeddings, then a clustering of that graph.

Plain numpy/scipy over arrays, with no store: `persons.py` feeds it the collection's vectors and writes back what
it returns.

Corrections enter as `pinned`: for each face, the number of the person a correction pinned it to, or -1. Faces
pinned to one person always end together, faces pinned to different persons never do, and unpinned faces follow
their edges, the strongest first.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

DEFAULT_NEIGHBOURS = 10
DEFAULT_MIN_NEIGHBOURS = 3
MAX_LINKAGE_FACES = 4000  # average linkage holds a component's full similarity matrix: bound its size


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")


def check_threshold(threshold: float) -> None:
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")


def neighbour_graph(vectors: np.ndarray, *, threshold: float, k: int = DEFAULT_NEIGHBOURS,
                    block_size: int = 1024) -> csr_matrix:
    """The k-nearest-neighbour graph of unit `vectors`, keeping edges of cosine similarity >= `threshold`.

    Exact: similarities are computed `block_size` rows at a time (memory stays bounded) and only for pairs i < j
    (half the work), and only those above the threshold are ranked. Returns a directed sparse matrix: row i holds
    the similarities of face i's (at most) `k` nearest faces, without self-loops.
    """
    check_threshold(threshold)
    vectors = np.asarray(vectors, dtype=np.float32)
    n = len(vectors)
    rows, cols, sims = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
    for start in range(0, n, block_size):
        end = min(start + block_size, n)
        block = vectors[start:end] @ vectors[start:].T
        block[np.tril_indices(end - start)] = -np.inf  # pairs i >= j are counted from the other end, or are self
        r, c = np.nonzero(block >= threshold)
        rows.append(r + start)
        cols.append(c + start)
        sims.append(block[r, c])
    rows, cols, sims = np.concatenate(rows), np.concatenate(cols), np.concatenate(sims)
    return graph_from_edges(np.concatenate([rows, cols]), np.concatenate([cols, rows]), np.concatenate([sims, sims]), n, k=k)


def graph_from_edges(rows: np.ndarray, cols: np.ndarray, sims: np.ndarray, n: int, *, k: int) -> csr_matrix:
    """The directed graph of each face's `k` most similar edges among the candidate edges given."""
    order = np.lexsort((-sims, rows))
    rows, cols, sims = rows[order], cols[order], sims[order]
    keep = np.arange(len(rows)) - np.searchsorted(rows, rows) < k  # rank within the row
    return coo_matrix((sims[keep], (rows[keep], cols[keep])), shape=(n, n)).tocsr()


def undirected(graph: csr_matrix) -> csr_matrix:
    """An edge kept from either end counts (the union of the kNN lists)."""
    return graph.maximum(graph.T).tocsr()


def mutual(graph: csr_matrix) -> csr_matrix:
    """Only edges kept from both ends (each face is among the other's k nearest)."""
    return graph.minimum(graph.T).tocsr()


def cluster_components(graph: csr_matrix, pinned: np.ndarray | None = None) -> np.ndarray:
    """The seed's method: connected components of the neighbour graph, under the corrections in `pinned`.

    Returns a label per face, numbered in order of each cluster's first face.
    """
    n = graph.shape[0]
    pinned = np.full(n, -1) if pinned is None else np.asarray(pinned)
    graph = undirected(graph + _pin_edges(pinned, n))
    _, labels = connected_components(graph, directed=False)
    # Components that hold faces pinned to two or more persons are split by linkage with cannot-link constraints.
    for component in np.unique(labels):
        members = np.flatnonzero(labels == component)
        if len(np.unique(pinned[members][pinned[members] >= 0])) > 1:
            labels[members] = labels.max() + 1 + _constrained_linkage(graph[members][:, members], pinned[members])
    return _renumber(labels)


def _pin_edges(pinned: np.ndarray, n: int) -> csr_matrix:
    """Edges of weight 2 (above any similarity) chaining the faces pinned to each person."""
    faces = np.flatnonzero(pinned >= 0)
    faces = faces[np.argsort(pinned[faces], kind="stable")]
    same = pinned[faces[1:]] == pinned[faces[:-1]]
    rows, cols = faces[:-1][same], faces[1:][same]
    return coo_matrix((np.full(len(rows), 2.0), (rows, cols)), shape=(n, n)).tocsr()


def _constrained_linkage(graph: csr_matrix, pinned: np.ndarray) -> np.ndarray:
    """Union-find over the edges, strongest first, refusing any union of two differently pinned groups."""
    edges = graph.tocoo()
    parent = np.arange(graph.shape[0])
    owner = pinned.copy()

    def find(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for index in np.argsort(-edges.data, kind="stable"):
        a, b = find(edges.row[index]), find(edges.col[index])
        if a == b or (owner[a] >= 0 and owner[b] >= 0 and owner[a] != owner[b]):
            continue
        parent[b] = a
        owner[a] = max(owner[a], owner[b])
    return np.array([find(node) for node in range(len(parent))])


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Labels 0, 1, 2, ... in order of each cluster's first face, so equal partitions get equal labels."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse]


def confidences(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each face's `person_confidence`: its cosine similarity to the mean direction of the *other* faces of its
    person, clipped to [0, 1]; 0 for a person of one face (no evidence either way)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    sums = np.zeros((labels.max() + 1 if len(labels) else 0, vectors.shape[1]))
    np.add.at(sums, labels, vectors)
    others = sums[labels] - vectors
    norms = np.linalg.norm(others, axis=1)
    similarity = np.einsum("ij,ij->i", vectors, others) / np.maximum(norms, 1e-12)
    sizes = np.bincount(labels)[labels] if len(labels) else np.zeros(0, int)
    return np.where(sizes > 1, np.clip(similarity, 0.0, 1.0), 0.0)


def cluster_density(graph: csr_matrix, pinned: np.ndarray | None = None, *,
                    min_neighbours: int = DEFAULT_MIN_NEIGHBOURS) -> np.ndarray:
    """Core-face linking (as Immich and DBSCAN do): a face with at least `min_neighbours` neighbours in the graph
    is a core face, and only core faces link to each other; any other face joins its most similar core
    neighbour, or stays alone. One stray edge between two persons no longer chains them unless both ends are
    dense."""
    graph = undirected(graph)
    core = np.diff(graph.indptr) >= min_neighbours
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
    pruned = coo_matrix((edges.data[keep], (edges.row[keep], edges.col[keep])), shape=graph.shape).tocsr()
    return cluster_components(pruned, pinned)


def cluster_mutual(graph: csr_matrix, pinned: np.ndarray | None = None) -> np.ndarray:
    """Connected components of the mutual-kNN graph: an edge counts only if each face is among the other's k
    nearest, which cuts the edges a crowded person sends to outsiders."""
    return cluster_components(mutual(graph), pinned)


def cluster_average(graph: csr_matrix, pinned: np.ndarray | None, vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Average linkage inside each connected component: two groups of faces join only if their faces are, on
    average, at least `threshold` alike, so one stray edge cannot chain two persons.

    Components come from the graph (with pins); each is clustered exactly on its own faces' similarities.
    Faces pinned to one person start as one group; faces pinned to different persons never end in one.
    """
    n = graph.shape[0]
    pinned = np.full(n, -1) if pinned is None else np.asarray(pinned)
    labels = np.empty(n, dtype=np.int64)
    next_label = 0
    for members in _linkable_parts(graph, pinned, threshold):
        if len(members) == 1:
            labels[members] = next_label
            next_label += 1
            continue
        distances = np.clip(1.0 - vectors[members] @ vectors[members].T, 0.0, 2.0).astype(np.float64)
        owners = pinned[members]
        pinned_together = (owners[:, None] == owners[None, :]) & (owners[:, None] >= 0)
        distances[pinned_together] = 0.0  # a correction's faces are one group from the start
        np.fill_diagonal(distances, 0.0)
        groups = fcluster(linkage(distances[np.triu_indices(len(members), 1)], method="average"),
                          t=1.0 - threshold, criterion="distance")
        labels[members] = next_label + groups - 1
        next_label += groups.max()
    # the pins of different persons must still be apart: split any group holding two, along the graph's edges
    return _renumber(cluster_components(_within_groups(undirected(graph), labels), pinned))


def _linkable_parts(graph: csr_matrix, pinned: np.ndarray, threshold: float) -> list[np.ndarray]:
    """The graph's components (with pins), each as an array of faces. A component larger than
    MAX_LINKAGE_FACES (a chain at a low threshold) is cut again at a threshold raised in steps of 0.02 until
    its parts fit."""
    labels = cluster_components(graph, pinned)
    order = np.argsort(labels, kind="stable")
    parts = []
    for members in np.split(order, np.flatnonzero(np.diff(labels[order])) + 1):
        if len(members) <= MAX_LINKAGE_FACES or threshold >= 1.0:
            parts.append(members)
            continue
        sub = graph[members][:, members].tocsr()
        sub.data[sub.data < threshold + 0.02] = 0
        sub.eliminate_zeros()
        parts += [members[part] for part in _linkable_parts(sub, pinned[members], threshold + 0.02)]
    return parts


def _within_groups(graph: csr_matrix, labels: np.ndarray) -> csr_matrix:
    """The graph's edges whose two faces are in the same group, plus a chain of weak edges holding each group
    together (an average-linkage group need not be connected by kNN edges)."""
    edges = graph.tocoo()
    inside = labels[edges.row] == labels[edges.col]
    order = np.argsort(labels, kind="stable")
    same = labels[order[1:]] == labels[order[:-1]]
    chain_rows, chain_cols = order[:-1][same], order[1:][same]
    rows = np.concatenate([edges.row[inside], chain_rows])
    cols = np.concatenate([edges.col[inside], chain_cols])
    data = np.concatenate([edges.data[inside], np.full(len(chain_rows), 1e-6)])
    return coo_matrix((data, (rows, cols)), shape=graph.shape).tocsr()


# name -> clustering of a neighbour graph, under pins
METHODS = {"components": cluster_components, "average": cluster_average, "density": cluster_density,
           "mutual": cluster_mutual}


def cluster(graph: csr_matrix, method: str, pinned: np.ndarray | None = None, *, vectors: np.ndarray,
            threshold: float, min_neighbours: int = DEFAULT_MIN_NEIGHBOURS) -> np.ndarray:
    """Cluster a neighbour graph with the named method, passing each method only the parameters it takes."""
    check_method(method)
    if method == "average":
        return cluster_average(graph, pinned, vectors, threshold)
    if method == "density":
        return cluster_density(graph, pinned, min_neighbours=min_neighbours)
    return METHODS[method](graph, pinned)
