"""`Evaluator`: streaming, fixed-memory accumulation of every metric over predictions vs labels.

torchmetrics-style: `update()` per frame adds to fixed-size states (two score histograms of
`num_bins` levels, a K x K confusion matrix, 15 calibration bins, a few counters), `compute()`
turns them into the figures, `merge()` adds another evaluator's states (per-domain evaluators
combined into one). Each state is declared once, with `_state` (as torchmetrics' `add_state`),
so `merge` adds every one of them. Memory does not grow with the number of pixels or frames.

Pixels whose label is `ignore_index` are left out of everything except the anomaly metrics.
Anomaly metrics (when an anomaly mask is given): positive = anomalous pixel (whatever its
label, usually ignore), negative = non-anomalous pixel with a valid label; the anomaly score is
`1 - confidence`. Void pixels that are not anomalous are excluded.

The "at gamma" figures (certain fraction, precision / recall / p(a,c) of the certain pixels,
uncertainty-error Dice) are exact counts of `confidence > gamma` when the evaluator is given a
gamma, and otherwise read from the histograms at `gamma_at_maxf05` (quantised to the bin grid).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.gamma import check_gamma
from uncertainty_seg_node.metrics import calibration, confusion, detection
from uncertainty_seg_node.metrics.binning import DEFAULT_NUM_BINS, quantize
from uncertainty_seg_node.metrics.overlap import dice_from_counts

BETA = 0.5  # F0.5: precision matters more than recall (seed 000, Sec. V-E)
_State = TypeVar("_State", np.ndarray, int, calibration.CalibrationState)


class Evaluator:
    """Accumulates misclassification-detection, calibration, segmentation and anomaly metrics."""

    def __init__(
        self,
        num_classes: int,
        ignore_index: int = 255,
        gamma: float | None = None,
        *,
        class_names: Sequence[str] | None = None,
        num_bins: int = DEFAULT_NUM_BINS,
        calibration_bins: int = calibration.DEFAULT_CALIBRATION_BINS,
    ) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names for {num_classes} classes")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.gamma = None if gamma is None else check_gamma(gamma)
        self.class_names = None if class_names is None else tuple(class_names)
        self.num_bins = num_bins
        self._states: list[str] = []
        # hist[0] = inaccurate pixels per confidence level, hist[1] = accurate ones.
        self.hist = self._state("hist", np.zeros((2, num_bins), np.int64))
        # anomaly_hist[0] = normal valid pixels, [1] = anomalous pixels, per confidence level.
        self.anomaly_hist = self._state("anomaly_hist", np.zeros((2, num_bins), np.int64))
        self.confusion = self._state("confusion",
                                     np.zeros((num_classes, num_classes), np.int64))
        self.calibration = self._state("calibration",
                                       calibration.CalibrationState.empty(calibration_bins))
        self.certain = self._state("certain", 0)  # confidence > gamma (only with a fixed gamma)
        self.certain_accurate = self._state("certain_accurate", 0)
        self.frames = self._state("frames", 0)
        self.anomaly_frames = self._state("anomaly_frames", 0)

    def _state(self, name: str, initial: _State) -> _State:
        """Declare the state NAME (merged by `merge`); returns INITIAL for the attribute."""
        self._states.append(name)
        return initial

    # -- accumulation ------------------------------------------------------------------------
    def update(
        self,
        class_ids: np.ndarray,
        confidence: np.ndarray,
        labels: np.ndarray,
        anomaly: np.ndarray | None = None,
    ) -> None:
        """Add one frame (or any batch of pixels); all arrays share one shape (label resolution).

        `class_ids`: predicted ids in [0, K); `confidence`: float in [0, 1]; `labels`: ids in
        [0, K) or `ignore_index`; `anomaly`: optional bool mask of out-of-distribution pixels.
        """
        class_ids = np.asarray(class_ids)
        confidence = np.asarray(confidence)
        labels = np.asarray(labels)
        if not (class_ids.shape == confidence.shape == labels.shape):
            raise ValueError(
                f"shapes differ: class_ids {class_ids.shape}, confidence {confidence.shape}, "
                f"labels {labels.shape}"
            )
        if anomaly is not None and np.shape(anomaly) != labels.shape:
            raise ValueError(f"anomaly mask {np.shape(anomaly)} vs labels {labels.shape}")
        self._check_values(class_ids, confidence, labels)

        levels = quantize(confidence, self.num_bins)
        valid = (labels != self.ignore_index).ravel()
        label_v = labels.ravel()[valid]
        pred_v = class_ids.ravel()[valid]
        accurate = pred_v == label_v
        self.hist += np.bincount(
            accurate.astype(np.int64) * self.num_bins + levels[valid], minlength=2 * self.num_bins
        ).reshape(2, self.num_bins)
        self.confusion += confusion.confusion_matrix(label_v, pred_v, self.num_classes)
        conf_v = confidence.ravel()[valid]
        self.calibration.update(conf_v, accurate)
        if self.gamma is not None:
            certain = conf_v > self.gamma
            self.certain += int(certain.sum())
            self.certain_accurate += int(np.sum(certain & accurate))
        if anomaly is not None:
            positive = np.asarray(anomaly, dtype=bool).ravel()
            counted = positive | valid
            self.anomaly_hist += np.bincount(
                positive[counted].astype(np.int64) * self.num_bins + levels[counted],
                minlength=2 * self.num_bins,
            ).reshape(2, self.num_bins)
            self.anomaly_frames += 1
        self.frames += 1

    def _check_values(
        self, class_ids: np.ndarray, confidence: np.ndarray, labels: np.ndarray
    ) -> None:
        if class_ids.size == 0:
            return
        if class_ids.min() < 0 or class_ids.max() >= self.num_classes:
            raise ValueError(
                f"predicted class ids span {class_ids.min()}..{class_ids.max()}, "
                f"outside 0..{self.num_classes - 1}"
            )
        bad = (labels != self.ignore_index) & ((labels < 0) | (labels >= self.num_classes))
        if bad.any():
            values = sorted({int(v) for v in np.unique(labels[bad])[:10]})
            raise UserError(
                f"labels hold ids {values} outside the {self.num_classes} classes "
                f"0..{self.num_classes - 1} and ignore {self.ignore_index}; map them to the "
                "model's classes (class-map YAML) or to the ignore id"
            )
        low, high = float(np.min(confidence)), float(np.max(confidence))
        if not (low >= -1e-6 and high <= 1.0 + 1e-6):  # also catches NaN
            raise ValueError(f"confidence spans {low}..{high}; expected values in [0, 1]")

    def merge(self, other: Evaluator) -> Evaluator:
        """Add `other`'s accumulated states to this one (same classes, bins and gamma)."""
        same = (
            other.num_classes == self.num_classes
            and other.num_bins == self.num_bins
            and other.ignore_index == self.ignore_index
            and other.gamma == self.gamma
            and other.calibration.count.size == self.calibration.count.size
        )
        if not same:
            raise ValueError("cannot merge evaluators with different classes, bins or gamma")
        for name in self._states:
            mine, theirs = getattr(self, name), getattr(other, name)
            if isinstance(mine, calibration.CalibrationState):
                mine.merge(theirs)
            else:
                setattr(self, name, mine + theirs)
        return self

    # -- results -----------------------------------------------------------------------------
    @property
    def num_pixels(self) -> int:
        """Valid (non-ignore) pixels seen so far."""
        return int(self.hist.sum())

    def gamma_for_precision(self, target: float) -> float | None:
        """The gamma with most recall whose certain pixels reach precision `target`, or None."""
        return detection.gamma_for_precision(self.hist[1], self.hist[0], target)

    def compute(self) -> dict[str, Any]:
        """Every figure as a flat dict (NaN where undefined, e.g. no valid pixel seen)."""
        pos, neg = self.hist[1], self.hist[0]
        best = detection.max_fbeta(pos, neg, BETA)
        iou = confusion.per_class_iou(self.confusion)
        names = self.class_names or tuple(str(i) for i in range(self.num_classes))
        result: dict[str, Any] = {
            "num_pixels": self.num_pixels,
            "frames": self.frames,
            "miou": confusion.mean_iou(self.confusion),
            "accuracy": confusion.pixel_accuracy(self.confusion),
            "per_class_iou": {name: float(v) for name, v in zip(names, iou)},
            "maxf05": best.fbeta,
            "p_ac_at_maxf05": best.p_ac,
            "precision_at_maxf05": best.precision,
            "recall_at_maxf05": best.recall,
            "gamma_at_maxf05": best.gamma,
            "aupr": detection.average_precision(pos, neg),
            "auroc": detection.auroc(pos, neg),
            "fpr95": detection.fpr_at_tpr(pos, neg, 0.95),
            "ece": calibration.expected_calibration_error(self.calibration),
            "mce": calibration.maximum_calibration_error(self.calibration),
        }
        result.update(self._at_gamma(best))
        if self.anomaly_frames:
            apos, aneg = self.anomaly_hist[1][::-1], self.anomaly_hist[0][::-1]
            result.update(
                anomaly_pixels=int(self.anomaly_hist[1].sum()),
                anomaly_auroc=detection.auroc(apos, aneg),
                anomaly_ap=detection.average_precision(apos, aneg),
                anomaly_fpr95=detection.fpr_at_tpr(apos, aneg, 0.95),
            )
        return result

    def _at_gamma(self, best: detection.MaxF) -> dict[str, Any]:
        total = self.num_pixels
        accurate = int(self.hist[1].sum())
        if self.gamma is not None:
            gamma, source = self.gamma, "given"
            certain, certain_accurate = self.certain, self.certain_accurate
        else:
            gamma, source = best.gamma, "maxf05"
            tp, fp = detection.cumulative_counts(self.hist[1], self.hist[0])
            certain = int(tp[best.level] + fp[best.level]) if total else 0
            certain_accurate = int(tp[best.level]) if total else 0
        nan = float("nan")
        if total == 0:
            return {"gamma": gamma, "gamma_source": source, "certain_fraction": nan,
                    "precision_at_gamma": nan, "recall_at_gamma": nan, "p_ac_at_gamma": nan,
                    "f05_at_gamma": nan, "dice": nan}
        precision = certain_accurate / certain if certain else nan
        recall = certain_accurate / accurate if accurate else 0.0
        b2 = BETA * BETA
        if certain == 0:
            f05 = nan
        elif precision + recall == 0:
            f05 = 0.0
        else:
            f05 = (1 + b2) * precision * recall / (b2 * precision + recall)
        errors = total - accurate
        uncertain = total - certain
        uncertain_errors = errors - (certain - certain_accurate)
        return {
            "gamma": gamma,
            "gamma_source": source,
            "certain_fraction": certain / total,
            "precision_at_gamma": precision,
            "recall_at_gamma": recall,
            "p_ac_at_gamma": certain_accurate / total,
            "f05_at_gamma": f05,
            "dice": dice_from_counts(uncertain_errors, uncertain, errors),
        }

    def curves(self) -> dict[str, np.ndarray]:
        """Arrays for plots: detection curves per threshold level and the reliability diagram."""
        c = detection.detection_curves(self.hist[1], self.hist[0], BETA)
        total = max(self.num_pixels, 1)
        rel = calibration.reliability(self.calibration)
        out = {
            "thresholds": c.thresholds,
            "precision": c.precision,
            "recall": c.recall,
            "f05": c.fbeta,
            "p_ac": c.p_ac,
            "certain_fraction": (c.tp + c.fp) / float(total),
            "reliability_edges": rel.edges,
            "reliability_accuracy": rel.accuracy,
            "reliability_confidence": rel.confidence,
            "reliability_count": rel.count,
        }
        if self.anomaly_frames:
            # ROC of the anomaly score 1 - confidence, one point per level (highest score first).
            apos, aneg = self.anomaly_hist[1][::-1], self.anomaly_hist[0][::-1]
            tp, fp = detection.cumulative_counts(apos, aneg)
            out["anomaly_tpr"] = tp[::-1] / max(float(tp[0]), 1.0)
            out["anomaly_fpr"] = fp[::-1] / max(float(fp[0]), 1.0)
        return out
