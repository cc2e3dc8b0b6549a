"""Binary detection metrics computed from two score histograms (positives, negatives).

Every function takes `pos` and `neg`: int64 counts per score level (see `binning.py`) of the
positive and negative samples. For misclassification detection the positives are the accurate
pixels and the score is the confidence; for anomaly segmentation the positives are the anomalous
pixels and the score is `1 - confidence` (the confidence histograms reversed).

At threshold level `k` the predicted positives are the samples with level >= k, so
`tp[k] = sum(pos[k:])`, `fp[k] = sum(neg[k:])`. With positive = accurate and predicted
positive = certain, `p(a, c) = tp / total`, precision = `p(a,c) / p(c)`, recall = `p(a,c) / p(a)`.

Conventions for degenerate inputs (documented, tested):
- precision (and F) at a threshold with no predicted positive is NaN and never the maximum;
- no positives at all: recall is 0 everywhere, MaxF is 0, AP is 0, AUROC and FPR95 are NaN;
- no negatives at all: precision is 1, AP is 1, AUROC and FPR95 are NaN.
AP is scikit-learn's `average_precision_score` (step-wise sum of precision times recall
increments over the distinct scores, no interpolation); AUROC is the trapezoidal area under the
ROC curve through the distinct scores (ties count one half, like scikit-learn); FPR95 is the
false-positive rate at the highest threshold whose true-positive rate reaches 0.95.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uncertainty_seg_node.metrics.binning import gamma_for_level, level_values


@dataclass(frozen=True)
class DetectionCurves:
    """Per-threshold quantities, indexed by score level (ascending threshold)."""

    thresholds: np.ndarray  # float64 (L,): the score of each level
    tp: np.ndarray  # int64 (L,): positives with level >= k
    fp: np.ndarray  # int64 (L,): negatives with level >= k
    precision: np.ndarray  # float64 (L,), NaN where nothing is predicted positive
    recall: np.ndarray  # float64 (L,)
    fbeta: np.ndarray  # float64 (L,), NaN where precision is
    p_ac: np.ndarray  # float64 (L,): tp / all samples (p(a, c) for misclassification)
    beta: float


@dataclass(frozen=True)
class MaxF:
    """The best F-beta over all thresholds and the operating point that reaches it."""

    fbeta: float
    level: int
    gamma: float  # `score > gamma` reproduces the predicted-positive set at `level`
    precision: float
    recall: float
    p_ac: float


def _check(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos = np.asarray(pos, dtype=np.int64)
    neg = np.asarray(neg, dtype=np.int64)
    if pos.shape != neg.shape or pos.ndim != 1:
        raise ValueError(f"histograms must be 1-D of equal length: {pos.shape}, {neg.shape}")
    return pos, neg


def cumulative_counts(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tp, fp): counts of positives / negatives with level >= k, for every level k."""
    pos, neg = _check(pos, neg)
    tp = np.cumsum(pos[::-1])[::-1]
    fp = np.cumsum(neg[::-1])[::-1]
    return tp, fp


def detection_curves(pos: np.ndarray, neg: np.ndarray, beta: float = 0.5) -> DetectionCurves:
    """Precision, recall, F-beta and p(a, c) at every threshold level."""
    tp, fp = cumulative_counts(pos, neg)
    tp_f = tp.astype(np.float64)
    predicted = tp_f + fp
    total = float(tp[0] + fp[0]) if tp.size else 0.0
    positives = float(tp[0]) if tp.size else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp_f / predicted, np.nan)
        recall = tp_f / positives if positives > 0 else np.zeros_like(tp_f)
        b2 = beta * beta
        denom = b2 * precision + recall
        fbeta = np.where(denom > 0, (1 + b2) * precision * recall / denom, 0.0)
        fbeta = np.where(np.isnan(precision), np.nan, fbeta)
        p_ac = tp_f / total if total > 0 else np.full_like(tp_f, np.nan)
    return DetectionCurves(
        thresholds=level_values(tp.size),
        tp=tp,
        fp=fp,
        precision=precision,
        recall=recall,
        fbeta=fbeta,
        p_ac=p_ac,
        beta=beta,
    )


def max_fbeta(pos: np.ndarray, neg: np.ndarray, beta: float = 0.5) -> MaxF:
    """The best F-beta over all thresholds (ties: the lowest threshold, i.e. most recall)."""
    curves = detection_curves(pos, neg, beta)
    if np.all(np.isnan(curves.fbeta)):
        nan = float("nan")
        return MaxF(nan, 0, nan, nan, nan, nan)
    level = int(np.nanargmax(curves.fbeta))
    return MaxF(
        fbeta=float(curves.fbeta[level]),
        level=level,
        gamma=gamma_for_level(level, curves.tp.size),
        precision=float(curves.precision[level]),
        recall=float(curves.recall[level]),
        p_ac=float(curves.p_ac[level]),
    )


def _distinct_points(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (tp, fp) at the occupied levels, from the highest score down."""
    pos, neg = _check(pos, neg)
    occupied = (pos + neg) > 0
    tp = np.cumsum(pos[::-1][occupied[::-1]])
    fp = np.cumsum(neg[::-1][occupied[::-1]])
    return tp, fp


def average_precision(pos: np.ndarray, neg: np.ndarray) -> float:
    """AP as scikit-learn's `average_precision_score` defines it (area under the PR steps)."""
    tp, fp = _distinct_points(pos, neg)
    if tp.size == 0:
        return float("nan")
    positives = float(tp[-1])
    if positives == 0:
        return 0.0
    precision = tp / (tp + fp).astype(np.float64)
    recall = tp / positives
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Area under the ROC curve (trapezoidal, ties count one half); NaN if a class is empty."""
    tp, fp = _distinct_points(pos, neg)
    if tp.size == 0 or tp[-1] == 0 or fp[-1] == 0:
        return float("nan")
    tpr = np.concatenate([[0.0], tp / float(tp[-1])])
    fpr = np.concatenate([[0.0], fp / float(fp[-1])])
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def fpr_at_tpr(pos: np.ndarray, neg: np.ndarray, tpr_target: float = 0.95) -> float:
    """FPR at the highest threshold whose TPR reaches `tpr_target` (FPR95 by default)."""
    tp, fp = _distinct_points(pos, neg)
    if tp.size == 0 or tp[-1] == 0 or fp[-1] == 0:
        return float("nan")
    tpr = tp / float(tp[-1])
    # k / n is correctly rounded, so an exact 0.95 ratio compares equal to the literal 0.95.
    index = int(np.argmax(tpr >= tpr_target))
    return float(fp[index] / float(fp[-1]))


def level_for_precision(pos: np.ndarray, neg: np.ndarray, target: float) -> int | None:
    """The lowest threshold level whose precision reaches `target` (most recall), or None."""
    curves = detection_curves(pos, neg)
    with np.errstate(invalid="ignore"):
        ok = np.nan_to_num(curves.precision, nan=-1.0) >= target
    if not ok.any():
        return None
    return int(np.argmax(ok))


def gamma_for_precision(pos: np.ndarray, neg: np.ndarray, target: float) -> float | None:
    """The gamma (for `score > gamma`) with the most recall among those reaching `target`.

    Precision of the certain pixels is not monotone in gamma, so this scans every threshold.
    None when no threshold reaches the target.
    """
    level = level_for_precision(pos, neg, target)
    return None if level is None else gamma_for_level(level, np.asarray(pos).size)
