"""Calibration: expected / maximum calibration error and reliability-diagram data (Guo et al.).

Equal-width bins over [0, 1] (15 by default); bin i holds confidences in (i/n, (i+1)/n], the
first bin also holds exactly 0. Per bin the state keeps the pixel count, the sum of confidences
(float64) and the number of accurate pixels: three fixed-size arrays, exact for any data size
(no quantisation of the confidence, unlike the detection histograms).

ECE = sum_i (n_i / N) |acc_i - conf_i|; MCE = max over non-empty bins of |acc_i - conf_i|.
Both are NaN when no pixel was seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_CALIBRATION_BINS = 15


def bin_edges(num_bins: int = DEFAULT_CALIBRATION_BINS) -> np.ndarray:
    """The num_bins + 1 bin edges, 0 and 1 included."""
    return np.linspace(0.0, 1.0, num_bins + 1)


def bin_index(confidence: np.ndarray, num_bins: int = DEFAULT_CALIBRATION_BINS) -> np.ndarray:
    """Bin of each confidence: i such that confidence lies in (edge_i, edge_i+1] (0 in bin 0)."""
    conf = np.asarray(confidence).ravel()
    if conf.dtype != np.float32:
        conf = conf.astype(np.float64)
    edges = bin_edges(num_bins)
    index = np.ceil(conf * num_bins).astype(np.int64) - 1
    np.clip(index, 0, num_bins - 1, out=index)
    # ceil() can be one bin off next to an edge; correct against the float64 edges so the
    # result is exactly "edge_i < confidence <= edge_i+1" (a searchsorted, ~20x faster).
    index -= (index > 0) & (conf <= edges[index])
    index += (index < num_bins - 1) & (conf > edges[np.minimum(index + 1, num_bins)])
    return index


@dataclass
class CalibrationState:
    """Fixed-size accumulators of the reliability diagram."""

    count: np.ndarray  # int64 (n,)
    conf_sum: np.ndarray  # float64 (n,)
    correct: np.ndarray  # int64 (n,)

    @classmethod
    def empty(cls, num_bins: int = DEFAULT_CALIBRATION_BINS) -> CalibrationState:
        """All-zero state with `num_bins` bins."""
        zeros = np.zeros(num_bins, np.int64)
        return cls(zeros, np.zeros(num_bins, np.float64), zeros.copy())

    def update(self, confidence: np.ndarray, accurate: np.ndarray) -> None:
        """Add pixels: confidence in [0, 1] and whether each prediction was accurate."""
        n = self.count.size
        index = bin_index(confidence, n)
        self.count += np.bincount(index, minlength=n)
        self.conf_sum += np.bincount(
            index, weights=np.asarray(confidence, np.float64).ravel(), minlength=n
        )
        hits = np.bincount(index, weights=np.asarray(accurate).ravel(), minlength=n)
        self.correct += hits.astype(np.int64)

    def merge(self, other: CalibrationState) -> None:
        """Add another state's counts (same number of bins)."""
        if other.count.size != self.count.size:
            raise ValueError("cannot merge calibration states with different bin counts")
        self.count += other.count
        self.conf_sum += other.conf_sum
        self.correct += other.correct


@dataclass(frozen=True)
class Reliability:
    """Reliability diagram: per-bin accuracy and mean confidence (NaN for empty bins)."""

    edges: np.ndarray
    accuracy: np.ndarray
    confidence: np.ndarray
    count: np.ndarray


def reliability(state: CalibrationState) -> Reliability:
    """Per-bin accuracy, mean confidence and count."""
    count = state.count.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = np.where(count > 0, state.correct / count, np.nan)
        confidence = np.where(count > 0, state.conf_sum / count, np.nan)
    return Reliability(bin_edges(count.size), accuracy, confidence, state.count.copy())


def expected_calibration_error(state: CalibrationState) -> float:
    """ECE: count-weighted mean |accuracy - confidence| over the bins; NaN with no data."""
    total = state.count.sum()
    if total == 0:
        return float("nan")
    gap = np.abs(state.correct - state.conf_sum)  # = n_i * |acc_i - conf_i|
    return float(gap.sum() / total)


def maximum_calibration_error(state: CalibrationState) -> float:
    """MCE: the largest |accuracy - confidence| over the non-empty bins; NaN with no data."""
    rel = reliability(state)
    occupied = state.count > 0
    if not occupied.any():
        return float("nan")
    return float(np.max(np.abs(rel.accuracy[occupied] - rel.confidence[occupied])))
