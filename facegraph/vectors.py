"""Sums and similarities of groups of face vectors: the arithmetic that clustering, centroids, merge suggestions and
the persons API share, below all of them."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix

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
