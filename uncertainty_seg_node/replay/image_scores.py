"""Image-level uncertainty from a per-pixel confidence map, and rank correlation to check it.

UAAL (seed 001) scales per-pixel uncertainty by a power before pooling so that a few very
uncertain regions weigh more than a faint haze of doubt; its supplementary material finds an
exponent of 2 best. With `u = 1 - confidence` the image scores here are
    mean:  mean(u)        uaal:  mean(u ** 2)
Both are in [0, 1]; a higher score means the frame is more worth labelling.
"""

from __future__ import annotations

import numpy as np

IMAGE_SCORES = ("mean", "uaal")
UAAL_EXPONENT = 2.0


def image_uncertainty(
    confidence: np.ndarray, method: str = "uaal", *, exponent: float = UAAL_EXPONENT
) -> float:
    """Pool a confidence map (any shape, values in [0, 1]) into one image-level uncertainty."""
    if method not in IMAGE_SCORES:
        raise ValueError(f"unknown image score {method!r}; choose one of {IMAGE_SCORES}")
    if confidence.size == 0:
        raise ValueError("empty confidence map")
    uncertainty = 1.0 - np.clip(confidence.astype(np.float64, copy=False), 0.0, 1.0)
    if method == "mean":
        return float(uncertainty.mean())
    return float(np.mean(uncertainty**exponent))


def image_uncertainties(confidence: np.ndarray) -> tuple[float, float]:
    """(mean, uaal) in one pass over a float32 map: the two image scores of every frame."""
    if confidence.size == 0:
        raise ValueError("empty confidence map")
    u = 1.0 - np.clip(np.asarray(confidence, dtype=np.float32), 0.0, 1.0)
    n = float(u.size)
    return float(u.sum(dtype=np.float64) / n), float(np.vdot(u, u) / n)


def rankdata(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (scipy.stats.rankdata 'average')."""
    values = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    start = 0
    n = len(values)
    while start < n:
        stop = start + 1
        while stop < n and sorted_values[stop] == sorted_values[start]:
            stop += 1
        ranks[order[start:stop]] = (start + stop + 1) / 2.0  # mean of ranks start+1..stop
        start = stop
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (Pearson on average ranks); NaN when a side is constant."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"spearman needs equal lengths, got {x.size} and {y.size}")
    if x.size < 2:
        return float("nan")
    rx = rankdata(x) - (x.size + 1) / 2.0
    ry = rankdata(y) - (y.size + 1) / 2.0
    denom = np.sqrt(np.sum(rx * rx) * np.sum(ry * ry))
    if denom == 0.0:
        return float("nan")
    return float(np.sum(rx * ry) / denom)
