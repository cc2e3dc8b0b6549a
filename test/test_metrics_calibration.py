"""Calibration bins at their edges, ECE/MCE against brute force, confusion matrix / IoU."""

from __future__ import annotations

import numpy as np
import pytest

from uncertainty_seg_node.metrics import (
    CalibrationState,
    confusion_matrix,
    expected_calibration_error,
    maximum_calibration_error,
    mean_iou,
    per_class_iou,
    reliability,
    uncertainty_error_dice,
)
from uncertainty_seg_node.metrics.calibration import bin_index


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bin_index_is_left_open_right_closed_at_edges(dtype: type) -> None:
    edges = np.linspace(0, 1, 16)
    conf = np.concatenate([
        edges, np.nextafter(edges, 2.0), np.nextafter(edges, -1.0),
        np.random.default_rng(0).random(2000),
    ]).astype(dtype)
    conf = np.clip(conf, 0, 1)
    ref = np.array([
        0 if c <= edges[1] else next(i for i in range(15) if edges[i] < c <= edges[i + 1])
        for c in conf.astype(np.float64)
    ])
    assert np.array_equal(bin_index(conf), ref)


def test_ece_mce_and_reliability_brute_force() -> None:
    rng = np.random.default_rng(1)
    conf = rng.random(5000)
    accurate = rng.random(5000) < conf**2  # over-confident
    state = CalibrationState.empty()
    for part in np.array_split(np.arange(5000), 3):
        state.update(conf[part], accurate[part])
    edges = np.linspace(0, 1, 16)
    gaps, weights = [], []
    for i in range(15):
        inside = (conf > edges[i]) & (conf <= edges[i + 1])
        gaps.append(abs(accurate[inside].mean() - conf[inside].mean()))
        weights.append(inside.mean())
    assert expected_calibration_error(state) == pytest.approx(np.dot(gaps, weights), abs=1e-12)
    assert maximum_calibration_error(state) == pytest.approx(max(gaps), abs=1e-12)
    rel = reliability(state)
    assert rel.count.sum() == 5000 and np.all(rel.confidence <= rel.edges[1:] + 1e-12)
    assert np.isnan(expected_calibration_error(CalibrationState.empty()))


def test_confusion_and_iou_brute_force() -> None:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 4, 500)
    preds = np.where(rng.random(500) < 0.6, labels, rng.integers(0, 4, 500))
    preds[preds == 3] = 2  # class 3 never predicted -> IoU 0, still counted
    cm = confusion_matrix(labels, preds, 6)  # classes 4, 5 absent -> NaN, not counted
    for i in range(6):
        for j in range(6):
            assert cm[i, j] == np.sum((labels == i) & (preds == j))
    iou = per_class_iou(cm)
    assert iou[3] == 0.0 and np.isnan(iou[4]) and np.isnan(iou[5])
    ref = [np.sum((labels == c) & (preds == c)) / np.sum((labels == c) | (preds == c))
           for c in range(4)]
    assert mean_iou(cm) == pytest.approx(np.mean(ref))
    assert np.isnan(mean_iou(np.zeros((3, 3), np.int64)))


def test_dice() -> None:
    conf = np.array([0.1, 0.2, 0.9, 0.8, 0.3])
    accurate = np.array([False, True, True, False, False])
    # uncertain = {0, 1, 4}, error = {0, 3, 4} -> 2 * 2 / 6
    assert uncertainty_error_dice(conf, accurate, 0.5) == pytest.approx(4 / 6)
    assert uncertainty_error_dice(np.array([0.9]), np.array([True]), 0.5) == 1.0
