"""Classification metrics agree with scikit-learn on random and edge-case inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from autoopt.exceptions import InvalidSpecError
from autoopt.metrics import accuracy, confusion_matrix, f1, precision, recall, top_k_accuracy


def _random_case(seed: int, n: int = 60, c: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, c, size=n), rng.normal(size=(n, c))


@pytest.mark.parametrize("seed", range(5))
def test_accuracy_matches_sklearn(seed: int) -> None:
    y, scores = _random_case(seed)
    expected = skm.accuracy_score(y, scores.argmax(1))
    assert accuracy(y, scores) == pytest.approx(expected)
    assert accuracy(torch.from_numpy(y), torch.from_numpy(scores)) == pytest.approx(expected)
    assert accuracy(y.tolist(), scores.argmax(1).tolist()) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_accuracy_matches_sklearn(seed: int, k: int) -> None:
    y, scores = _random_case(seed)
    expected = skm.top_k_accuracy_score(y, scores, k=k, labels=range(5))
    assert top_k_accuracy(y, torch.from_numpy(scores), k=k) == pytest.approx(expected)


def test_top_k_with_k_at_least_the_class_count_is_one() -> None:
    y, scores = _random_case(0, c=3)
    assert top_k_accuracy(y, scores, k=3) == 1.0
    assert top_k_accuracy(y, scores, k=10) == 1.0


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(precision, skm.precision_score), (recall, skm.recall_score), (f1, skm.f1_score)],
    ids=["precision", "recall", "f1"],
)
def test_macro_scores_match_sklearn(seed: int, ours, theirs) -> None:  # noqa: ANN001
    y, scores = _random_case(seed, n=25, c=6)  # small n: some classes are never predicted
    pred = scores.argmax(1)
    expected = theirs(y, pred, average="macro", zero_division=0)
    assert ours(y, scores) == pytest.approx(expected)
    assert ours(y, pred, labels=range(8)) == pytest.approx(
        theirs(y, pred, average="macro", zero_division=0, labels=range(8))
    )


def test_macro_scores_when_a_label_only_appears_in_predictions() -> None:
    y, pred = np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1])
    for ours, theirs in [(precision, skm.precision_score), (recall, skm.recall_score), (f1, skm.f1_score)]:
        assert ours(y, pred) == pytest.approx(theirs(y, pred, average="macro", zero_division=0))


@pytest.mark.parametrize("seed", range(3))
def test_confusion_matrix_matches_sklearn(seed: int) -> None:
    y, scores = _random_case(seed)
    pred = scores.argmax(1)
    np.testing.assert_array_equal(confusion_matrix(y, scores), skm.confusion_matrix(y, pred))
    labels = [4, 2, 0, 7]
    np.testing.assert_array_equal(
        confusion_matrix(y, pred, labels=labels), skm.confusion_matrix(y, pred, labels=labels)
    )


def test_confusion_matrix_rows_are_true_classes() -> None:
    cm = confusion_matrix([0, 0, 1], [1, 1, 1])
    assert cm.tolist() == [[0, 2], [0, 1]]
    assert cm.dtype == np.int64


def test_bad_inputs_are_refused_with_messages() -> None:
    with pytest.raises(InvalidSpecError, match=r"y_pred: expected 3 predictions \(one per target\); got 2"):
        accuracy([0, 1, 1], [0, 1])
    with pytest.raises(InvalidSpecError, match=r"y_pred: expected class indices \(N,\) or scores \(N, C\)"):
        accuracy([0], np.zeros((1, 2, 2)))
    with pytest.raises(InvalidSpecError, match=r"k: expected an integer >= 1; got 0"):
        top_k_accuracy([0], [[1.0, 0.0]], k=0)
    with pytest.raises(InvalidSpecError, match=r"y_score: expected scores of shape \(2, C\)"):
        top_k_accuracy([0, 1], [0, 1])
    with pytest.raises(InvalidSpecError, match="at least one sample"):
        f1([], [])
