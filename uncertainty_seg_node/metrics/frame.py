"""Per-frame summaries (for plots over time and for ranking frames), computed directly."""

from __future__ import annotations

import numpy as np


def frame_summary(
    class_ids: np.ndarray,
    confidence: np.ndarray,
    labels: np.ndarray | None,
    gamma: float,
    ignore_index: int = 255,
    certain: np.ndarray | None = None,
) -> dict[str, float]:
    """Error rate, certain fraction, accuracy of the certain pixels and mean confidence.

    With labels, every figure is over the valid (non-ignore) pixels; without labels (`None`),
    only `certain_fraction` and `mean_confidence` are defined (over all pixels) and the rest are
    NaN. `certain` means `confidence > gamma`, unless a mask is given (the node's own
    `~/certain_mask` in live evaluation). `certain_accuracy` is NaN when nothing is certain.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    nan = float("nan")
    if labels is None:
        valid = np.ones(confidence.shape, dtype=bool)
    else:
        labels = np.asarray(labels)
        if labels.shape != confidence.shape or np.shape(class_ids) != confidence.shape:
            raise ValueError(
                f"shapes differ: class_ids {np.shape(class_ids)}, confidence "
                f"{confidence.shape}, labels {labels.shape}"
            )
        valid = labels != ignore_index
    conf = confidence[valid]
    n = int(conf.size)
    mask = confidence > gamma if certain is None else np.asarray(certain, dtype=bool)
    certain = mask[valid]
    summary = {
        "num_pixels": float(n),
        "certain_fraction": float(certain.mean()) if n else nan,
        "mean_confidence": float(conf.mean()) if n else nan,
        "error_rate": nan,
        "certain_accuracy": nan,
    }
    if labels is not None and n:
        accurate = np.asarray(class_ids)[valid] == labels[valid]
        summary["error_rate"] = float(1.0 - accurate.mean())
        if certain.any():
            summary["certain_accuracy"] = float(accurate[certain].mean())
    return summary
