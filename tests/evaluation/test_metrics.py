"""Metrics: hand-computed cases, and properties every metric must have (as scikit-learn's test_common does)."""

import numpy as np
import pytest

from evaluation.metrics import bcubed_scores, check_labels, nmi_score, pairwise_scores, singleton_share

SCORES = {
    "pairwise_f1": lambda t, p: pairwise_scores(t, p)[2],
    "pairwise_precision": lambda t, p: pairwise_scores(t, p)[0],
    "pairwise_recall": lambda t, p: pairwise_scores(t, p)[1],
    "bcubed_f1": lambda t, p: bcubed_scores(t, p)[2],
    "bcubed_precision": lambda t, p: bcubed_scores(t, p)[0],
    "bcubed_recall": lambda t, p: bcubed_scores(t, p)[1],
    "nmi": nmi_score,
}
SYMMETRIC = ["pairwise_f1", "bcubed_f1", "nmi"]  # swapping truth and prediction gives the same value

rng = np.random.default_rng(0)
RANDOM_TRUE, RANDOM_PRED = rng.integers(0, 6, 60), rng.integers(0, 8, 60)


def test_hand_computed_pairwise():
    # truth {0,1,2} {3,4}; prediction {0,1} {2,3,4}: true pairs 3+1=4, predicted pairs 1+3=4, shared: (0,1), (3,4)
    assert pairwise_scores([0, 0, 0, 1, 1], [5, 5, 7, 7, 7]) == (0.5, 0.5, 0.5)


def test_hand_computed_bcubed():
    # per face precision: 1, 1, 1/3, 2/3, 2/3; recall: 2/3, 2/3, 1/3, 1, 1
    precision, recall, f1 = bcubed_scores([0, 0, 0, 1, 1], [5, 5, 7, 7, 7])
    assert precision == pytest.approx((1 + 1 + 1 / 3 + 2 / 3 + 2 / 3) / 5)
    assert recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 + 1) / 5)
    assert f1 == pytest.approx(2 * precision * recall / (precision + recall))


def test_all_singletons_have_perfect_precision_and_poor_recall():
    truth = [0, 0, 0, 0, 1, 1]
    assert pairwise_scores(truth, range(6)) == (1.0, 0.0, 0.0)
    precision, recall, _ = bcubed_scores(truth, range(6))
    assert precision == 1.0 and recall == pytest.approx((4 * 0.25 + 2 * 0.5) / 6)
    assert singleton_share(range(6)) == 1.0 and singleton_share([0, 0, 1]) == 0.5


@pytest.mark.parametrize("name", sorted(SCORES))
def test_perfect_clustering_scores_one_whatever_the_label_names(name):
    assert SCORES[name]([0, 0, 1, 2, 2], ["b", "b", "a", "c", "c"]) == pytest.approx(1.0)


@pytest.mark.parametrize("name", sorted(SCORES))
def test_permuting_label_names_changes_nothing(name):
    permuted = np.array([3, 7, 1, 0, 5, 2, 4, 6])[RANDOM_PRED]
    assert SCORES[name](RANDOM_TRUE, permuted) == pytest.approx(SCORES[name](RANDOM_TRUE, RANDOM_PRED))


@pytest.mark.parametrize("name", sorted(SCORES))
def test_scores_are_python_floats_in_the_unit_interval(name):
    value = SCORES[name](RANDOM_TRUE, RANDOM_PRED)
    assert type(value) is float and 0.0 <= value <= 1.0


@pytest.mark.parametrize("name", SYMMETRIC)
def test_symmetric_scores(name):
    assert SCORES[name](RANDOM_TRUE, RANDOM_PRED) == pytest.approx(SCORES[name](RANDOM_PRED, RANDOM_TRUE))


def test_wrong_input_is_refused_with_the_argument_named():
    with pytest.raises(ValueError, match=r"labels_true must be 1D: shape is \(2, 2\)"):
        check_labels([[0, 1], [1, 0]], [0, 1])
    with pytest.raises(ValueError, match="labels_pred must be 1D"):
        bcubed_scores([0, 1], [[0], [1]])
    with pytest.raises(ValueError, match="same length, got 3 and 2"):
        pairwise_scores([0, 1, 1], [0, 1])
