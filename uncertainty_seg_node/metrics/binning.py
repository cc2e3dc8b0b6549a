"""Quantisation of scores in [0, 1] onto a fixed grid, so per-pixel metrics fit in fixed memory.

A score `s` maps to the level `round(s * (num_bins - 1))`, i.e. the grid is
`{k / (num_bins - 1) : k = 0..num_bins-1}`. The grid contains 0 and 1 exactly (float32 softmax
saturates at 1.0 often) and is symmetric, so the level of `1 - s` is `num_bins - 1 - level(s)`:
the anomaly score `1 - confidence` reuses the confidence histograms reversed. Scores already on
the grid are represented exactly, which makes the histogram metrics equal scikit-learn's on them.

Thresholds: a histogram threshold at level `k` declares "positive" every score with level >= k
(scikit-learn's `score >= threshold`). The method's certain mask is `confidence > gamma`; the
gamma that selects exactly the levels >= k is any value strictly between levels k-1 and k, and
`gamma_for_level` returns the midpoint.
"""

from __future__ import annotations

import numpy as np

DEFAULT_NUM_BINS = 10_000


def quantize(scores: np.ndarray, num_bins: int = DEFAULT_NUM_BINS) -> np.ndarray:
    """Scores in [0, 1] (values outside are clipped, NaN refused) -> int64 levels 0..num_bins-1."""
    if num_bins < 2:
        raise ValueError(f"num_bins must be at least 2, got {num_bins}")
    values = np.asarray(scores).ravel()
    if values.dtype != np.float32:  # float32 (the usual confidence) is computed as it is
        values = values.astype(np.float64)
    if values.size and np.isnan(values).any():
        raise ValueError("scores contain NaN; confidences must be finite numbers in [0, 1]")
    # Round half up: after the clip the values are >= 0.5, so truncation is floor.
    scaled = np.clip(values, 0.0, 1.0) * values.dtype.type(num_bins - 1) + values.dtype.type(0.5)
    return scaled.astype(np.int64)


def level_values(num_bins: int = DEFAULT_NUM_BINS) -> np.ndarray:
    """The score each level stands for: `k / (num_bins - 1)` (float64, ascending)."""
    return np.arange(num_bins, dtype=np.float64) / (num_bins - 1)


def histogram(scores: np.ndarray, num_bins: int = DEFAULT_NUM_BINS) -> np.ndarray:
    """Counts per level (int64, length num_bins) of the scores."""
    return np.bincount(quantize(scores, num_bins), minlength=num_bins).astype(np.int64)


def gamma_for_level(level: int, num_bins: int = DEFAULT_NUM_BINS) -> float:
    """The gamma for which `score > gamma` selects exactly the levels >= `level`.

    Level 0 (everything positive) gives 0.0: scores of exactly 0 then fall outside, which only
    matters for a degenerate model.
    """
    return float(max(0.0, (level - 0.5) / (num_bins - 1)))
