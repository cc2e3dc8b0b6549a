"""Histogram detection metrics against scikit-learn and brute force on small random inputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from uncertainty_seg_node.metrics import (
    auroc,
    average_precision,
    detection_curves,
    fpr_at_tpr,
    gamma_for_precision,
    max_fbeta,
)
from uncertainty_seg_node.metrics.binning import gamma_for_level, histogram, quantize

B = 10_000


def _data(seed: int, n: int = 3000, on_grid: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if on_grid:
        # Few distinct levels so that ties happen, all exactly on the bin grid.
        scores = rng.choice(rng.integers(0, B, size=200), size=n) / (B - 1)
    else:
        scores = rng.random(n)
    labels = rng.random(n) < 0.2 + 0.7 * scores  # informative but imperfect
    return scores, labels


def _hists(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return histogram(scores[labels], B), histogram(scores[~labels], B)


def _brute_max_f05(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    best, best_pac = -1.0, float("nan")
    for t in np.unique(scores):
        certain = scores >= t
        tp = np.sum(certain & labels)
        precision = tp / certain.sum()
        recall = tp / labels.sum()
        f = 0.0 if tp == 0 else 1.25 * precision * recall / (0.25 * precision + recall)
        if f > best:
            best, best_pac = f, tp / scores.size
    return best, best_pac


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_agreement_on_grid(seed: int) -> None:
    scores, labels = _data(seed)
    pos, neg = _hists(scores, labels)
    assert average_precision(pos, neg) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-12
    )
    assert auroc(pos, neg) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    assert fpr_at_tpr(pos, neg) == pytest.approx(fpr[np.argmax(tpr >= 0.95)], abs=1e-12)

    precision, recall, thresholds = precision_recall_curve(labels, scores)
    curves = detection_curves(pos, neg)
    levels = quantize(thresholds, B)
    np.testing.assert_allclose(curves.precision[levels], precision[:-1], atol=1e-12)
    np.testing.assert_allclose(curves.recall[levels], recall[:-1], atol=1e-12)

    best = max_fbeta(pos, neg)
    f_ref, pac_ref = _brute_max_f05(scores, labels)
    assert best.fbeta == pytest.approx(f_ref, abs=1e-12)
    assert best.p_ac == pytest.approx(pac_ref, abs=1e-12)
    # The gamma reproduces the operating point with the method's strict `conf > gamma`.
    certain = scores > best.gamma
    tp = np.sum(certain & labels)
    f_gamma = 1.25 * (tp / certain.sum()) * (tp / labels.sum()) / (
        0.25 * tp / certain.sum() + tp / labels.sum()
    )
    assert f_gamma == pytest.approx(best.fbeta, abs=1e-12)


@pytest.mark.parametrize("seed", [3, 4])
def test_close_agreement_off_grid(seed: int) -> None:
    scores, labels = _data(seed, on_grid=False)
    pos, neg = _hists(scores, labels)
    assert average_precision(pos, neg) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-3
    )
    assert auroc(pos, neg) == pytest.approx(roc_auc_score(labels, scores), abs=1e-3)
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    assert fpr_at_tpr(pos, neg) == pytest.approx(fpr[np.argmax(tpr >= 0.95)], abs=1e-2)
    f_ref, _ = _brute_max_f05(scores, labels)
    assert max_fbeta(pos, neg).fbeta == pytest.approx(f_ref, abs=1e-3)


def test_gamma_for_precision_has_most_recall_among_precise_thresholds() -> None:
    scores, labels = _data(5)
    pos, neg = _hists(scores, labels)
    target = 0.95
    gamma = gamma_for_precision(pos, neg, target)
    assert gamma is not None
    certain = scores > gamma
    assert np.mean(labels[certain]) >= target
    # Every lower distinct threshold misses the target.
    for t in np.unique(scores[scores <= gamma]):
        below = scores >= t
        assert np.mean(labels[below]) < target
    assert gamma_for_precision(pos, neg, 1.01) is None


def test_degenerate_inputs() -> None:
    scores = np.linspace(0, 1, 11)
    all_pos = histogram(scores, B), np.zeros(B, np.int64)
    assert average_precision(*all_pos) == 1.0
    assert max_fbeta(*all_pos).fbeta == 1.0
    assert max_fbeta(*all_pos).p_ac == 1.0
    assert np.isnan(auroc(*all_pos)) and np.isnan(fpr_at_tpr(*all_pos))
    none_pos = np.zeros(B, np.int64), histogram(scores, B)
    assert average_precision(*none_pos) == 0.0
    assert max_fbeta(*none_pos).fbeta == 0.0
    assert np.isnan(auroc(*none_pos))
    empty = np.zeros(B, np.int64), np.zeros(B, np.int64)
    assert np.isnan(average_precision(*empty)) and np.isnan(max_fbeta(*empty).fbeta)
    # Perfect separation.
    perfect = histogram(np.array([0.9, 0.8]), B), histogram(np.array([0.1, 0.2]), B)
    assert auroc(*perfect) == 1.0 and fpr_at_tpr(*perfect) == 0.0
    assert max_fbeta(*perfect).fbeta == 1.0 and 0.2 < max_fbeta(*perfect).gamma < 0.8


def test_binning_grid_and_gamma() -> None:
    assert quantize(np.array([0.0, 1.0, 0.5, -0.2, 1.3]), 11).tolist() == [0, 10, 5, 0, 10]
    with pytest.raises(ValueError, match="NaN"):
        quantize(np.array([np.nan]))
    assert gamma_for_level(0, 11) == 0.0
    assert gamma_for_level(5, 11) == pytest.approx(0.45)
    # The grid is symmetric: level(1 - s) == B - 1 - level(s).
    s = np.random.default_rng(0).integers(0, B, 100) / (B - 1)
    assert np.array_equal(quantize(1 - s), B - 1 - quantize(s))
