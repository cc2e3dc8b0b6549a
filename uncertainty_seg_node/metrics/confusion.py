"""Confusion matrix (K x K, int64, rows = ground truth, columns = prediction) and IoU from it.

mIoU convention: a class that appears neither in the ground truth nor in the predictions of the
whole evaluated set has an undefined IoU (0 / 0); it is reported as NaN per class and left out of
the mean. A class that is predicted but never present (or present but never predicted) has IoU 0
and counts. This is the usual dataset-level mIoU (one confusion matrix over all pixels).
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(
    labels: np.ndarray, predictions: np.ndarray, num_classes: int
) -> np.ndarray:
    """Counts of (label, prediction) pairs; both arrays hold ids in [0, num_classes) only."""
    # int32 arithmetic is about twice as fast as int64 for the usual few classes.
    dtype = np.int32 if num_classes * num_classes < 2**31 else np.int64
    labels = np.asarray(labels).ravel().astype(dtype)
    predictions = np.asarray(predictions).ravel().astype(dtype)
    if labels.shape != predictions.shape:
        raise ValueError(f"{labels.size} labels but {predictions.size} predictions")
    index = labels * num_classes + predictions
    counts = np.bincount(index, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def per_class_iou(confusion: np.ndarray) -> np.ndarray:
    """IoU of each class, TP / (TP + FP + FN); NaN for classes absent from GT and prediction."""
    confusion = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def mean_iou(confusion: np.ndarray) -> float:
    """Mean IoU over the classes present in GT or prediction; NaN if there are none."""
    iou = per_class_iou(confusion)
    if np.all(np.isnan(iou)):
        return float("nan")
    return float(np.nanmean(iou))


def pixel_accuracy(confusion: np.ndarray) -> float:
    """Fraction of pixels predicted correctly; NaN with no pixels."""
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total else float("nan")
