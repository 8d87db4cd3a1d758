"""Average linkage over the neighbour graph, for a part of the collection too large for a full similarity matrix.

Two groups of faces join when an edge of the graph links them and their faces are, on average over every pair of
them, at least τ alike. That average needs no matrix: for unit vectors it is the dot product of the two groups'
vector sums over |A|·|B|, and the quality-aware shift adds up the same way over a histogram of quality levels.

Groups merge in rounds. With `epsilon` 0, every two groups that are each other's most alike neighbour merge at
once (reciprocal nearest neighbours, as in RAC: Sumengen et al., "Scaling Hierarchical Agglomerative Clustering to
Billion-sized Datasets", 2021), which on a complete graph gives exactly the groups of scipy's average linkage cut
at τ. But a large person then takes one neighbour a round, and a round reads every edge: 20,000 faces of one
person took six minutes. So, as in approximate HAC (Dhulipala et al., "Hierarchical Agglomerative Graph Clustering
in Nearly-Linear Time", ICML 2021; "TeraHAC", 2024), a merge need only be (1+ε)-good: its linkage is within a
factor 1 + ε of the best linkage either side has. Each round every group points at its most alike neighbour
among its good edges, and a group (the hub) takes at once every group that points at it (its leaves): a star. A
star is checked as a whole: each leaf's linkage to the rest of its star must still reach τ and be good, or the
leaf waits a round. So a large person takes a whole band of its neighbours a round, and a part of any size is
linked in a few hundred rounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.sparse import csr_matrix, triu

QUALITY_LEVELS = 32  # quality-aware shifts are summed per level: at most (τ - poor_threshold) / 64 off
PAIR_BLOCK = 1024  # group pairs compared a step
EPSILON = 0.1  # how far below the best linkage of either side a merge may be: see `evaluation.linkage_epsilon`


@dataclass(frozen=True)
class Seeds:
    """Groups that exist before the linkage starts (large persons, from the centroids their records keep), one
    node each after the faces: their vector sums, face counts and faces per quality level."""

    sums: np.ndarray  # (m, d)
    counts: np.ndarray  # (m,)
    levels: np.ndarray  # (m, QUALITY_LEVELS + 1)


class _Groups:
    """The groups of faces while they merge: sizes, vector sums (of groups of two or more faces, in rows of `sums`
    allocated as groups grow) and quality histograms, each group named by its first face (or seed)."""

    def __init__(self, vectors: np.ndarray, group: np.ndarray, level: np.ndarray, shifts: np.ndarray,
                 seeds: Seeds | None = None):
        n, faces = len(group), len(vectors)
        self.vectors, self.group = vectors, group
        self.size = np.bincount(group[:faces], minlength=n)
        self.levels = np.zeros((n, len(shifts)))
        np.add.at(self.levels, (group[:faces], level), 1)
        self.row_of = np.full(n, -1)
        self.sums = np.zeros((16, vectors.shape[1]))
        self.used = 0
        summed = self.size > 1  # a group of one face is summed by its vector; a seed's group always has a row
        if seeds is not None:
            np.add.at(self.size, group[faces:], seeds.counts)
            np.add.at(self.levels, group[faces:], seeds.levels)
            summed[group[faces:]] = True
        multi = np.flatnonzero(summed)
        self._new_rows(multi, np.zeros((len(multi), vectors.shape[1])))
        members = np.flatnonzero(self.row_of[group[:faces]] >= 0)
        np.add.at(self.sums, self.row_of[group[members]], vectors[members])
        if seeds is not None:
            np.add.at(self.sums, self.row_of[group[faces:]], seeds.sums)
        # what each group's faces add to the shift of a pair, per quality level of the other side's faces: kept as
        # the groups merge (it adds up), so a pair's shift is one dot product
        self.shifting = self.levels @ shifts[np.minimum.outer(np.arange(len(shifts)), np.arange(len(shifts)))]

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
            result[start : start + PAIR_BLOCK] = self._linkage(self.sum_of(x), self.shifting[x], self.size[x],
                                                               self.sum_of(y), self.levels[y], self.size[y])
        return result

    def star_linkage(self, hubs: np.ndarray, leaves: np.ndarray) -> np.ndarray:
        """For each leaf[i] of a star around hubs[i]: its average shifted cosine to the rest of the star."""
        stars, star = np.unique(hubs, return_inverse=True)
        total, levels = self.sum_of(stars), self.levels[stars].copy()
        np.add.at(total, star, self.sum_of(leaves))
        np.add.at(levels, star, self.levels[leaves])
        size = self.size[stars] + np.bincount(star, weights=self.size[leaves], minlength=len(stars)).astype(np.int64)
        result = np.empty(len(leaves))
        for start in range(0, len(leaves), PAIR_BLOCK):
            x, s = leaves[start : start + PAIR_BLOCK], star[start : start + PAIR_BLOCK]
            own = self.sum_of(x)
            result[start : start + PAIR_BLOCK] = self._linkage(own, self.shifting[x], self.size[x], total[s] - own,
                                                               levels[s] - self.levels[x], size[s] - self.size[x])
        return result

    @staticmethod
    def _linkage(sum_a, shifting_a, size_a, sum_b, levels_b, size_b) -> np.ndarray:
        dots = np.einsum("ij,ij->i", sum_a, sum_b) + np.einsum("ij,ij->i", shifting_a, levels_b)
        return dots / (size_a * size_b)

    def merge(self, hubs: np.ndarray, leaves: np.ndarray) -> np.ndarray:
        """Merge each group leaves[i] into hubs[i] (a hub may take several); returns the map from old group names
        to new ones."""
        added = self.sum_of(leaves)
        lone = np.unique(hubs[self.row_of[hubs] < 0])
        self._new_rows(lone, self.vectors[lone])
        np.add.at(self.sums, self.row_of[hubs], added)
        np.add.at(self.size, hubs, self.size[leaves])
        for kept in (self.levels, self.shifting):
            np.add.at(kept, hubs, kept[leaves])
            kept[leaves] = 0
        self.row_of[leaves] = -1
        if self.used > 2 * np.count_nonzero(self.row_of >= 0) + 1024:  # rows of merged groups: reuse the space
            live = np.flatnonzero(self.row_of >= 0)
            rows = self.sums[self.row_of[live]]
            self.used, self.row_of[live] = 0, -1
            self._new_rows(live, rows)
        rename = np.arange(len(self.size))
        rename[leaves] = hubs
        self.group = rename[self.group]
        return rename

    def _new_rows(self, ids: np.ndarray, sums: np.ndarray) -> None:
        if self.used + len(ids) > len(self.sums):
            grown = np.zeros((max(2 * len(self.sums), self.used + len(ids)), self.sums.shape[1]))
            grown[: self.used] = self.sums[: self.used]
            self.sums = grown
        self.row_of[ids] = self.used + np.arange(len(ids))
        self.sums[self.used : self.used + len(ids)] = sums
        self.used += len(ids)


def average_linkage(graph: csr_matrix, vectors: np.ndarray, threshold: float, *, pins: np.ndarray,
                    photos: np.ndarray, level: np.ndarray, shifts: np.ndarray,
                    apart: np.ndarray | None = None, epsilon: float | None = None,
                    on_round: Callable[[np.ndarray, np.ndarray], None] | None = None,
                    seeds: Seeds | None = None) -> np.ndarray:
    """A group label per face. `level[i]` is face i's quality level and `shifts[k]` what a pair whose poorer face
    is at level k adds to its cosine; faces with one pin start as one group, and two groups holding different
    pins, a face each of one photo, or a face each of a pair in `apart` (m, 2) never join. `epsilon` (None:
    `EPSILON`) 0 links exactly; above it, every merge is (1+ε)-good (see the module's docstring). `on_round(hubs, leaves)` is told
    each round's merges (group leaves[i] into hubs[i], each group named by a face), to check them. `seeds`: groups
    that exist already, nodes len(vectors) + i of the graph (and of `pins` and `photos`), as large as they are."""
    n, epsilon = graph.shape[0], EPSILON if epsilon is None else epsilon
    group = np.arange(n)
    pinned = np.flatnonzero(pins >= 0)
    order = pinned[np.lexsort((pinned, pins[pinned]))]
    firsts = np.r_[True, pins[order][1:] != pins[order][:-1]] if len(order) else np.zeros(0, bool)
    group[order] = order[firsts][np.cumsum(firsts) - 1]
    groups = _Groups(vectors, group, level, shifts, seeds)
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
        kept_apart = np.minimum(first, second) * n + np.maximum(first, second)
        allowed = ((similarity >= threshold) & ~np.isin(a * n + b, kept_apart)
                   & ~((pin[a] >= 0) & (pin[b] >= 0) & (pin[a] != pin[b])))
        candidates = np.flatnonzero(allowed)
        best = np.full(n, -np.inf)
        np.maximum.at(best, a[candidates], similarity[candidates])
        np.maximum.at(best, b[candidates], similarity[candidates])
        bar = np.maximum(_within(best, epsilon), threshold)  # what a merge of each group must reach
        hubs, leaves = _stars(a, b, similarity, candidates, bar, groups.size, n, exact=epsilon == 0)
        if not len(leaves):
            return groups.group
        hubs, leaves = _checked(groups, hubs, leaves, bar, pin, kept_apart, n)
        if on_round is not None:
            on_round(hubs, leaves)
        np.maximum.at(pin, hubs, pin[leaves])
        rename = groups.merge(hubs, leaves)
        changed = np.zeros(n, dtype=bool)
        changed[hubs] = True
        a, b, similarity = _group_edges(rename[a], rename[b], n, similarity)
        redo = changed[a] | changed[b]
        similarity[redo] = groups.similarity(a[redo], b[redo])


def _within(best: np.ndarray, epsilon: float) -> np.ndarray:
    """The least linkage within a factor 1 + ε of `best` (on the side of less alike, whatever its sign)."""
    return np.where(best >= 0, best / (1 + epsilon), best * (1 + epsilon))


def _stars(a, b, similarity, candidates, bar, size, n, *, exact: bool) -> tuple[np.ndarray, np.ndarray]:
    """A round's merges as (hub, leaf) pairs. Each group points at its most alike neighbour among the edges good
    for both ends (ties by names, so the order is total); of two groups that point at each other, the smaller
    (then the later named) is the leaf. A group leaves into the group it points at unless that one leaves too.
    `exact`: only groups that point at each other merge (RAC)."""
    good = candidates[(similarity[candidates] >= bar[a[candidates]]) & (similarity[candidates] >= bar[b[candidates]])]
    ranked = good[np.lexsort((b[good], a[good], -similarity[good]))]
    source, target = np.r_[a[ranked], b[ranked]], np.r_[b[ranked], a[ranked]]
    rank = np.r_[np.arange(len(ranked)), np.arange(len(ranked))]
    by_source = np.lexsort((rank, source))
    first = np.r_[True, source[by_source][1:] != source[by_source][:-1]] if len(by_source) else np.zeros(0, bool)
    points_at = np.full(n, -1)
    points_at[source[by_source][first]] = target[by_source][first]
    pointing = np.flatnonzero(points_at >= 0)
    other = points_at[pointing]
    mutual = points_at[other] == pointing
    stays = mutual & ((size[pointing] > size[other]) | ((size[pointing] == size[other]) & (pointing < other)))
    leaving = np.zeros(n, dtype=bool)
    leaving[pointing[~stays]] = True
    leaves = pointing[leaving[pointing] & ~leaving[points_at[pointing]]]
    if exact:
        leaves = leaves[points_at[points_at[leaves]] == leaves]
    return points_at[leaves], leaves


def _checked(groups: _Groups, hubs, leaves, bar, pin, kept_apart, n) -> tuple[np.ndarray, np.ndarray]:
    """The star merges whose every leaf still reaches its bar and its hub's in the whole star, and whose leaves
    hold neither different pins nor a face each of one photo; a leaf that fails waits a round (the leaf most
    alike its hub never fails alone, so each star keeps at least that one)."""
    while True:
        crowded = np.bincount(hubs, minlength=n)[hubs] > 1
        if not crowded.any():
            return hubs, leaves
        star_hubs, star_leaves = hubs[crowded], leaves[crowded]
        linkage = groups.star_linkage(star_hubs, star_leaves)
        fails = (linkage < bar[star_leaves]) | (linkage < bar[star_hubs]) | _conflicts(star_hubs, star_leaves, pin,
                                                                                        kept_apart, n)
        if not fails.any():
            return hubs, leaves
        top = _most_alike_leaf(groups, star_hubs, star_leaves)
        top_fails = np.zeros(n, dtype=bool)
        top_fails[star_hubs[fails & top]] = True  # that star is cut back to its top leaf
        dropped = np.zeros(n, dtype=bool)
        dropped[star_leaves[~top & (fails | top_fails[star_hubs])]] = True
        keep = ~dropped[leaves]
        hubs, leaves = hubs[keep], leaves[keep]


def _most_alike_leaf(groups: _Groups, hubs, leaves) -> np.ndarray:
    """Whether each leaf is the one most alike its hub (ties by names)."""
    similarity = groups.similarity(hubs, leaves)
    order = np.lexsort((leaves, -similarity, hubs))
    top = np.zeros(len(leaves), dtype=bool)
    top[order[np.r_[True, hubs[order][1:] != hubs[order][:-1]]]] = True
    return top


def _conflicts(hubs, leaves, pin, kept_apart, n) -> np.ndarray:
    """Whether each leaf of a star is kept from another leaf of it: different pins, or a pair of faces of one
    photo (or kept apart by an answer) between them (each against its hub was ruled out already)."""
    clash = np.zeros(len(leaves), dtype=bool)
    pinned = pin[leaves] >= 0
    if pinned.any():
        # two leaves of one hub with different pins: both wait
        key = hubs[pinned] * (pin.max() + 2) + pin[leaves[pinned]]
        per_hub = np.unique(np.unique(key) // (pin.max() + 2), return_counts=True)
        several = per_hub[0][per_hub[1] > 1]
        clash[pinned] = np.isin(hubs[pinned], several)
    star_of = np.full(n, -1)
    star_of[leaves] = hubs
    first, second = kept_apart // n, kept_apart % n
    between = (star_of[first] >= 0) & (star_of[first] == star_of[second])
    clash |= np.isin(leaves, np.r_[first[between], second[between]])
    return clash


def _group_edges(a: np.ndarray, b: np.ndarray, n: int, similarity: np.ndarray | None = None) -> tuple:
    """Edges between groups, each once (smaller name first), none from a group to itself."""
    a, b = np.minimum(a, b), np.maximum(a, b)
    between = a != b
    _, first = np.unique(a[between] * n + b[between], return_index=True)
    kept = np.flatnonzero(between)[first]
    return a[kept], b[kept], (None if similarity is None else similarity[kept])


def _same_photo_pairs(photos: np.ndarray) -> np.ndarray:
    """Every pair of faces (i, j) of one photo."""
    order = np.argsort(photos, kind="stable")
    starts = np.flatnonzero(np.r_[True, photos[order][1:] != photos[order][:-1]])
    ends = np.r_[starts[1:], len(photos)]
    pairs = [order[s:e][np.array(np.triu_indices(e - s, 1))].T for s, e in zip(starts, ends) if e - s > 1]
    return np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64)
