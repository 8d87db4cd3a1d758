"""Average linkage over the neighbour graph, for a part of the collection too large for a full similarity matrix.

Two groups of faces join when an edge of the graph links them and their faces are, on average over every pair of
them, at least τ alike. That average needs no matrix: for unit vectors it is the dot product of the two groups'
vector sums over |A|·|B|, and the quality-aware shift adds up the same way over a histogram of quality levels.
Groups merge in rounds: every two groups that are each other's most alike neighbour merge at once (reciprocal
nearest neighbours, as in RAC: Sumengen et al., "Scaling Hierarchical Agglomerative Clustering to Billion-sized
Datasets", 2021), which on a complete graph gives exactly the groups of scipy's average linkage cut at τ.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix, triu

QUALITY_LEVELS = 32  # quality-aware shifts are summed per level: at most (τ - poor_threshold) / 64 off
PAIR_BLOCK = 65536  # group pairs compared a step


class _Groups:
    """The groups of faces while they merge: sizes, vector sums (of groups of two or more faces) and quality
    histograms, each group named by its first face."""

    def __init__(self, vectors: np.ndarray, group: np.ndarray, level: np.ndarray, shifts: np.ndarray):
        n = len(vectors)
        self.vectors, self.group = vectors, group
        self.size = np.bincount(group, minlength=n)
        self.levels = np.zeros((n, len(shifts)), dtype=np.int32)
        np.add.at(self.levels, (group, level), 1)
        self.pair_shift = shifts[np.minimum.outer(np.arange(len(shifts)), np.arange(len(shifts)))]
        self.row_of = np.full(n, -1)
        multi = np.flatnonzero(self.size > 1)
        self.row_of[multi] = np.arange(len(multi))
        self.sums = np.zeros((len(multi), vectors.shape[1]))
        members = np.flatnonzero(self.size[group] > 1)
        np.add.at(self.sums, self.row_of[group[members]], vectors[members])

    def sum_of(self, ids: np.ndarray) -> np.ndarray:
        out = np.empty((len(ids), self.vectors.shape[1]))
        rows = self.row_of[ids]
        multi = rows >= 0
        out[multi] = self.sums[rows[multi]]
        out[~multi] = self.vectors[ids[~multi]]
        return out

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The average shifted cosine over every pair of faces of groups a[i] and b[i]."""
        result = np.empty(len(a))
        for start in range(0, len(a), PAIR_BLOCK):
            x, y = a[start : start + PAIR_BLOCK], b[start : start + PAIR_BLOCK]
            dots = np.einsum("ij,ij->i", self.sum_of(x), self.sum_of(y))
            shift = np.einsum("ij,ij->i", self.levels[x] @ self.pair_shift, self.levels[y])
            result[start : start + PAIR_BLOCK] = (dots + shift) / (self.size[x] * self.size[y])
        return result

    def merge(self, keep: np.ndarray, gone: np.ndarray) -> np.ndarray:
        """Merge each group gone[i] into keep[i]; returns the map from old group names to new ones."""
        merged = self.sum_of(keep) + self.sum_of(gone)
        self.size[keep] += self.size[gone]
        self.levels[keep] += self.levels[gone]
        self.levels[gone] = 0
        others = np.flatnonzero(self.row_of >= 0)
        others = others[~np.isin(others, np.r_[keep, gone])]
        self.sums = np.concatenate([self.sums[self.row_of[others]], merged])
        self.row_of[:] = -1
        self.row_of[others] = np.arange(len(others))
        self.row_of[keep] = len(others) + np.arange(len(keep))
        rename = np.arange(len(self.size))
        rename[gone] = keep
        self.group = rename[self.group]
        return rename


def average_linkage(graph: csr_matrix, vectors: np.ndarray, threshold: float, *, pins: np.ndarray,
                    photos: np.ndarray, level: np.ndarray, shifts: np.ndarray,
                    apart: np.ndarray | None = None) -> np.ndarray:
    """A group label per face. `level[i]` is face i's quality level and `shifts[k]` what a pair whose poorer face
    is at level k adds to its cosine; faces with one pin start as one group, and two groups holding different
    pins, a face each of one photo, or a face each of a pair in `apart` (m, 2) never join."""
    n = len(vectors)
    group = np.arange(n)
    pinned = np.flatnonzero(pins >= 0)
    order = pinned[np.lexsort((pinned, pins[pinned]))]
    firsts = np.r_[True, pins[order][1:] != pins[order][:-1]] if len(order) else np.zeros(0, bool)
    group[order] = order[firsts][np.cumsum(firsts) - 1]
    groups = _Groups(vectors, group, level, shifts)
    pin = np.full(n, -1)
    pin[group[pinned]] = pins[pinned]
    photo_pairs = _same_photo_pairs(photos)
    if apart is not None and len(apart):
        photo_pairs = np.concatenate([photo_pairs, np.asarray(apart, np.int64).reshape(-1, 2)])

    edges = triu(graph.maximum(graph.T), k=1).tocoo()
    a, b, similarity = _group_edges(group[edges.row], group[edges.col], n)
    similarity = groups.similarity(a, b)
    while True:
        first, second = groups.group[photo_pairs[:, 0]], groups.group[photo_pairs[:, 1]]
        apart = np.minimum(first, second) * n + np.maximum(first, second)
        allowed = ((similarity >= threshold) & ~np.isin(a * n + b, apart)
                   & ~((pin[a] >= 0) & (pin[b] >= 0) & (pin[a] != pin[b])))
        keep, gone = _reciprocal_pairs(a, b, similarity, np.flatnonzero(allowed), n)
        if not len(keep):
            return groups.group
        pin[keep] = np.maximum(pin[keep], pin[gone])
        rename = groups.merge(keep, gone)
        changed = np.zeros(n, dtype=bool)
        changed[keep] = True
        a, b, similarity = _group_edges(rename[a], rename[b], n, similarity)
        redo = changed[a] | changed[b]
        similarity[redo] = groups.similarity(a[redo], b[redo])


def _group_edges(a: np.ndarray, b: np.ndarray, n: int, similarity: np.ndarray | None = None) -> tuple:
    """Edges between groups, each once (smaller name first), none from a group to itself."""
    a, b = np.minimum(a, b), np.maximum(a, b)
    between = a != b
    _, first = np.unique(a[between] * n + b[between], return_index=True)
    kept = np.flatnonzero(between)[first]
    return a[kept], b[kept], (None if similarity is None else similarity[kept])


def _reciprocal_pairs(a, b, similarity, candidates, n) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of groups that are each other's most alike candidate neighbour (ties by names, so the order is total
    and the most alike pair of all is always one); returns (first group, second group) with first < second."""
    ranked = candidates[np.lexsort((b[candidates], a[candidates], -similarity[candidates]))]
    source, target = np.r_[a[ranked], b[ranked]], np.r_[b[ranked], a[ranked]]
    rank = np.r_[np.arange(len(ranked)), np.arange(len(ranked))]
    by_source = np.lexsort((rank, source))
    first = np.r_[True, source[by_source][1:] != source[by_source][:-1]] if len(by_source) else np.zeros(0, bool)
    best = np.full(n, -1)
    best[source[by_source][first]] = target[by_source][first]
    keep = np.flatnonzero(best >= 0)
    keep = keep[(best[best[keep]] == keep) & (keep < best[keep])]
    return keep, best[keep]


def _same_photo_pairs(photos: np.ndarray) -> np.ndarray:
    """Every pair of faces (i, j) of one photo."""
    order = np.argsort(photos, kind="stable")
    starts = np.flatnonzero(np.r_[True, photos[order][1:] != photos[order][:-1]])
    ends = np.r_[starts[1:], len(photos)]
    pairs = [order[s:e][np.array(np.triu_indices(e - s, 1))].T for s, e in zip(starts, ends) if e - s > 1]
    return np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64)
