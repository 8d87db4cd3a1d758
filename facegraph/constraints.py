"""The facts a clustering must respect, whatever its method: corrections and photos.

- Faces pinned to one person by a correction end in one person.
- Faces pinned to different persons never do.
- Two faces of one photo are two people, unless a correction pinned both to one person (a reflection, a photo of
  a photo).
- Two faces a person said are not one person (an answer "no", `facegraph.answers`) are two people, likewise.

`enforce` repairs any clustering to respect them: it moves pinned faces to their person's cluster, then splits
every cluster holding a conflict by a union-find over its edges, strongest first, that refuses each union a
constraint forbids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix


@dataclass(frozen=True)
class Faces:
    """What clustering knows of the faces, beside the graph: their vectors and the facts they must respect."""

    vectors: np.ndarray  # (n, d) unit vectors
    photos: np.ndarray | None = None  # (n,) photo number of each face, or None when photos are not known
    pinned: np.ndarray | None = None  # (n,) number of the person a correction pinned the face to, or -1
    quality: np.ndarray | None = None  # (n,) quality_score of each face, for quality-aware linking
    apart: np.ndarray | None = None  # (m, 2) pairs of faces that an answer keeps in different persons

    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def pins(self) -> np.ndarray:
        return np.full(len(self), -1) if self.pinned is None else np.asarray(self.pinned)

    @property
    def photo_numbers(self) -> np.ndarray:
        """Each face's photo number; without photos, every face its own photo (no same-photo constraint)."""
        return np.arange(len(self)) if self.photos is None else np.asarray(self.photos)

    @property
    def apart_pairs(self) -> np.ndarray:
        return np.empty((0, 2), np.int64) if self.apart is None else np.asarray(self.apart, np.int64).reshape(-1, 2)

    def cannot_link(self, members: np.ndarray) -> list[set[int]]:
        """The tags of each of `members`, two faces sharing one never in one person: its photo, and one tag per
        pair it is kept apart in (numbered after the photos)."""
        photos = self.photo_numbers
        tags = [{int(photos[m])} for m in members]
        if len(self.apart_pairs):
            row, first = {int(m): n for n, m in enumerate(members)}, int(photos.max()) + 1
            for n, pair in enumerate(self.apart_pairs.tolist()):
                for face in pair:
                    if face in row:
                        tags[row[face]].add(first + n)
        return tags


def photo_numbers(image_ids) -> np.ndarray:
    """A number per face for its photo (equal image ids, equal numbers)."""
    return np.unique(np.asarray(image_ids), return_inverse=True)[1].reshape(-1)


def pin_edges(pinned: np.ndarray) -> csr_matrix:
    """Edges of weight 2 (above any similarity) chaining the faces pinned to each person, in both directions."""
    n = len(pinned)
    faces = np.flatnonzero(pinned >= 0)
    faces = faces[np.argsort(pinned[faces], kind="stable")]
    same = pinned[faces[1:]] == pinned[faces[:-1]]
    rows, cols = faces[:-1][same], faces[1:][same]
    return coo_matrix((np.full(2 * len(rows), 2.0), (np.r_[rows, cols], np.r_[cols, rows])), shape=(n, n)).tocsr()


def enforce(labels: np.ndarray, graph: csr_matrix, faces: Faces) -> np.ndarray:
    """`labels` changed as little as the constraints need; returns new labels (not renumbered)."""
    labels = np.array(labels, dtype=np.int64)
    pinned, photos, apart = faces.pins, faces.photo_numbers, faces.apart_pairs
    # each pinned person's faces go to the cluster that holds most of them
    for person in np.unique(pinned[pinned >= 0]):
        members = np.flatnonzero(pinned == person)
        values, counts = np.unique(labels[members], return_counts=True)
        labels[members] = values[np.argmax(counts)]
    undirected = graph.maximum(graph.T).tocsr()
    next_label = labels.max() + 1 if len(labels) else 0
    bad = set(conflicting_clusters(labels, pinned, photos).tolist())
    bad |= set(labels[apart[:, 0]][labels[apart[:, 0]] == labels[apart[:, 1]]].tolist())
    for cluster in sorted(bad):
        members = np.flatnonzero(labels == cluster)
        parts = constrained_union(undirected[members][:, members], pinned[members], faces.cannot_link(members))
        labels[members] = next_label + parts
        next_label += parts.max() + 1
    return labels


def conflicting_clusters(labels: np.ndarray, pinned: np.ndarray, photos: np.ndarray) -> np.ndarray:
    """Labels of the clusters holding two differently pinned faces, or two faces of one photo not pinned together."""
    has_pin = pinned >= 0
    label_pins = np.unique(np.c_[labels[has_pin], pinned[has_pin]], axis=0)
    values, counts = np.unique(label_pins[:, 0], return_counts=True)
    bad = set(values[counts > 1].tolist())
    # same photo, same cluster: a conflict unless both faces are pinned to one person
    key = np.c_[labels, photos, np.where(has_pin, pinned, -1 - np.arange(len(labels)))]
    unique = np.unique(key, axis=0)
    pairs, counts = np.unique(unique[:, :2], axis=0, return_counts=True)
    bad |= set(pairs[counts > 1, 0].tolist())
    return np.array(sorted(bad), dtype=np.int64)


def constrained_union(graph: csr_matrix, pinned: np.ndarray, tags: list[set[int]]) -> np.ndarray:
    """Parts of one cluster: union-find over its edges, strongest first, then over a weak chain through all its
    faces (a cluster need not be connected by edges), refusing any union of two differently pinned groups or of
    two groups with a cannot-link tag in common (`Faces.cannot_link`: a photo, an answer). Faces pinned to one
    person start as one group. Returns 0-based part labels."""
    n = graph.shape[0]
    parent = np.arange(n)
    owner = pinned.copy()
    photo_sets = [set(t) for t in tags]

    def find(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def union(a: int, b: int, forced: bool = False) -> None:
        a, b = find(a), find(b)
        if a == b:
            return
        if not forced and ((owner[a] >= 0 and owner[b] >= 0 and owner[a] != owner[b]) or not photo_sets[a].isdisjoint(photo_sets[b])):
            return
        if len(photo_sets[a]) < len(photo_sets[b]):
            a, b = b, a
        parent[b] = a
        owner[a] = max(owner[a], owner[b])
        photo_sets[a] |= photo_sets[b]

    for person in np.unique(pinned[pinned >= 0]):
        first, *rest = np.flatnonzero(pinned == person)
        for other in rest:
            union(first, other, forced=True)
    edges = graph.tocoo()
    for index in np.argsort(-edges.data, kind="stable"):
        union(int(edges.row[index]), int(edges.col[index]))
    for node in range(1, n):
        union(node - 1, node)
    roots = np.array([find(node) for node in range(n)])
    return np.unique(roots, return_inverse=True)[1].reshape(-1)
