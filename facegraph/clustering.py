"""Grouping faces into persons: a neighbour graph over the embeddings, then a clustering of that graph.

Plain numpy/scipy over arrays, with no store: `persons.py` feeds it the collection's vectors and writes back what
it returns.

Corrections enter as `pinned`: for each face, the number of the person a correction pinned it to, or -1. Faces
pinned to one person always end together, faces pinned to different persons never do, and unpinned faces follow
their edges, the strongest first.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

DEFAULT_NEIGHBOURS = 10


def neighbour_graph(vectors: np.ndarray, *, threshold: float, k: int = DEFAULT_NEIGHBOURS,
                    block_size: int = 1024) -> csr_matrix:
    """The k-nearest-neighbour graph of unit `vectors`, keeping edges of cosine similarity >= `threshold`.

    Exact: similarities are computed `block_size` rows at a time, so memory stays bounded, and only those above
    the threshold are ranked. Returns a symmetric sparse matrix of similarities without self-loops.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    vectors = np.asarray(vectors, dtype=np.float32)
    rows, cols, sims = [], [], []
    for start in range(0, len(vectors), block_size):
        block = vectors[start : start + block_size] @ vectors.T
        np.fill_diagonal(block[:, start:], -np.inf)  # no self-loops
        r, c = np.nonzero(block >= threshold)
        rows.append(r + start)
        cols.append(c)
        sims.append(block[r, c])
    return graph_from_edges(np.concatenate(rows), np.concatenate(cols), np.concatenate(sims), len(vectors), k=k)


def graph_from_edges(rows: np.ndarray, cols: np.ndarray, sims: np.ndarray, n: int, *, k: int) -> csr_matrix:
    """Keep each face's `k` most similar edges, then make the graph symmetric (an edge kept from either end counts)."""
    order = np.lexsort((-sims, rows))
    rows, cols, sims = rows[order], cols[order], sims[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows)
    keep = rank < k
    directed = coo_matrix((sims[keep], (rows[keep], cols[keep])), shape=(n, n)).tocsr()
    return directed.maximum(directed.T).tocsr()


def cluster_components(graph: csr_matrix, pinned: np.ndarray | None = None) -> np.ndarray:
    """The seed's method: connected components of the neighbour graph, under the corrections in `pinned`.

    Returns a label per face, numbered in order of each cluster's first face.
    """
    n = graph.shape[0]
    pinned = np.full(n, -1) if pinned is None else np.asarray(pinned)
    graph = (graph + _pin_edges(pinned, n)).tocsr()
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


METHODS = {"components": cluster_components}
