"""Clustering metrics over label arrays. Every `*_score` returns a float to maximise.

All take `labels_true, labels_pred` (one entry per scored face: its identity and its person) and build on the
contingency matrix, as scikit-learn's cluster metrics do.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix


def check_labels(labels_true, labels_pred) -> tuple[np.ndarray, np.ndarray]:
    """Both label arrays as 1-D numpy arrays of one length, or a ValueError naming the argument."""
    labels_true, labels_pred = np.asarray(labels_true), np.asarray(labels_pred)
    if labels_true.ndim != 1:
        raise ValueError(f"labels_true must be 1D: shape is {labels_true.shape}")
    if labels_pred.ndim != 1:
        raise ValueError(f"labels_pred must be 1D: shape is {labels_pred.shape}")
    if labels_true.shape != labels_pred.shape:
        raise ValueError(f"labels_true and labels_pred must have the same length, got {len(labels_true)} and {len(labels_pred)}")
    return labels_true, labels_pred


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def pairwise_scores(labels_true, labels_pred) -> tuple[float, float, float]:
    """Precision, recall and F1 over pairs of faces: a pair is positive when both faces share a person.

    >>> pairwise_scores([0, 0, 1, 1], [0, 0, 0, 1])
    (0.3333333333333333, 0.5, 0.4)
    """
    labels_true, labels_pred = check_labels(labels_true, labels_pred)
    table = contingency_matrix(labels_true, labels_pred, sparse=True)
    together = float((table.data * (table.data - 1)).sum() / 2)
    rows, cols = np.asarray(table.sum(axis=1)).ravel(), np.asarray(table.sum(axis=0)).ravel()
    true_pairs, pred_pairs = float((rows * (rows - 1)).sum() / 2), float((cols * (cols - 1)).sum() / 2)
    # no pairs at all on one side: nothing to get wrong there
    precision = together / pred_pairs if pred_pairs else 1.0
    recall = together / true_pairs if true_pairs else 1.0
    return precision, recall, _f1(precision, recall)


def bcubed_scores(labels_true, labels_pred) -> tuple[float, float, float]:
    """BCubed precision, recall and F1: per face, the share of its person that is its identity (precision) and of
    its identity that is its person (recall), averaged over faces.

    >>> bcubed_scores([0, 0, 1, 1], [0, 0, 0, 1])
    (0.6666666666666666, 0.75, 0.7058823529411765)
    """
    labels_true, labels_pred = check_labels(labels_true, labels_pred)
    if len(labels_true) == 0:
        return 1.0, 1.0, 1.0  # empty data: nothing wrong
    table = contingency_matrix(labels_true, labels_pred, sparse=True).tocoo()
    rows, cols = np.asarray(table.sum(axis=1)).ravel(), np.asarray(table.sum(axis=0)).ravel()
    # each face in cell (i, j) has precision n_ij / |pred j| and recall n_ij / |true i|; weight cells by n_ij
    precision = float((table.data**2 / cols[table.col]).sum() / len(labels_true))
    recall = float((table.data**2 / rows[table.row]).sum() / len(labels_true))
    return precision, recall, _f1(precision, recall)


def nmi_score(labels_true, labels_pred) -> float:
    """Normalised mutual information (arithmetic mean), as scikit-learn computes it."""
    return float(normalized_mutual_info_score(*check_labels(labels_true, labels_pred)))


def singleton_share(labels_pred) -> float:
    """Share of persons that hold a single face."""
    _, sizes = np.unique(np.asarray(labels_pred), return_counts=True)
    return float((sizes == 1).mean()) if len(sizes) else 0.0
