"""Evaluator (streaming) against scikit-learn and brute-force references; merge; edge cases."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.metrics import Evaluator, frame_summary, to_jsonable

K = 5
B = 10_000


def _frames(seed: int, count: int = 3, shape: tuple[int, int] = (24, 40), on_grid: bool = True):
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        labels = rng.integers(0, K, shape).astype(np.uint8)
        labels[rng.random(shape) < 0.1] = 255
        wrong = rng.random(shape) < 0.3
        preds = np.where(wrong, rng.integers(0, K, shape), labels).astype(np.uint8)
        preds[labels == 255] = rng.integers(0, K, int((labels == 255).sum()))
        raw = np.clip(rng.normal(np.where(wrong, 0.55, 0.8), 0.15), 0, 1)
        conf = (np.rint(raw * (B - 1)) / (B - 1) if on_grid else raw).astype(np.float64)
        anomaly = np.zeros(shape, bool)
        anomaly[:6, :8] = True
        labels[anomaly] = 255
        conf[anomaly] = np.clip(conf[anomaly] - 3000 / (B - 1), 0, 1)  # stays on the grid
        if on_grid:
            conf = np.rint(conf * (B - 1)) / (B - 1)
        frames.append((preds, conf, labels, anomaly))
    return frames


def _flat(frames):
    preds = np.concatenate([f[0].ravel() for f in frames])
    conf = np.concatenate([f[1].ravel() for f in frames])
    labels = np.concatenate([f[2].ravel() for f in frames])
    anomaly = np.concatenate([f[3].ravel() for f in frames])
    return preds, conf, labels, anomaly


def _brute_ece(conf: np.ndarray, accurate: np.ndarray, bins: int = 15) -> tuple[float, float]:
    edges = np.linspace(0, 1, bins + 1)
    ece, mce = 0.0, 0.0
    for i in range(bins):
        lo, hi = edges[i], edges[i + 1]
        inside = (conf > lo) & (conf <= hi) if i else (conf >= lo) & (conf <= hi)
        if inside.any():
            gap = abs(accurate[inside].mean() - conf[inside].mean())
            ece += inside.mean() * gap
            mce = max(mce, gap)
    return ece, mce


def _brute_miou(labels: np.ndarray, preds: np.ndarray) -> float:
    ious = []
    for c in range(K):
        inter = np.sum((labels == c) & (preds == c))
        union = np.sum((labels == c) | (preds == c))
        if union:
            ious.append(inter / union)
    return float(np.mean(ious))


def test_evaluator_matches_references() -> None:
    frames = _frames(0)
    ev = Evaluator(K, class_names=[f"c{i}" for i in range(K)])
    for preds, conf, labels, anomaly in frames:
        ev.update(preds, conf, labels, anomaly)
    out = ev.compute()
    preds, conf, labels, anomaly = _flat(frames)
    valid = labels != 255
    accurate = preds[valid] == labels[valid]
    c = conf[valid]
    assert out["num_pixels"] == valid.sum() and out["frames"] == 3
    assert out["aupr"] == pytest.approx(average_precision_score(accurate, c), abs=1e-12)
    assert out["auroc"] == pytest.approx(roc_auc_score(accurate, c), abs=1e-12)
    fpr, tpr, _ = roc_curve(accurate, c, drop_intermediate=False)
    assert out["fpr95"] == pytest.approx(fpr[np.argmax(tpr >= 0.95)], abs=1e-12)
    ece, mce = _brute_ece(c, accurate)
    assert out["ece"] == pytest.approx(ece, abs=1e-12)
    assert out["mce"] == pytest.approx(mce, abs=1e-12)
    assert out["miou"] == pytest.approx(_brute_miou(labels[valid], preds[valid]), abs=1e-12)
    assert out["accuracy"] == pytest.approx(accurate.mean())
    assert set(out["per_class_iou"]) == {f"c{i}" for i in range(K)}
    # Operating point at MaxF0.5, reproduced with conf > gamma.
    certain = c > out["gamma_at_maxf05"]
    assert out["p_ac_at_maxf05"] == pytest.approx(np.mean(certain & accurate), abs=1e-12)
    assert out["gamma_source"] == "maxf05"
    assert out["certain_fraction"] == pytest.approx(certain.mean(), abs=1e-12)
    # Anomaly: positives = anomalous pixels, negatives = valid normal pixels, score 1 - conf.
    counted = anomaly | valid
    assert out["anomaly_pixels"] == anomaly.sum()
    assert out["anomaly_auroc"] == pytest.approx(
        roc_auc_score(anomaly[counted], 1 - conf[counted]), abs=1e-12
    )
    assert out["anomaly_ap"] == pytest.approx(
        average_precision_score(anomaly[counted], 1 - conf[counted]), abs=1e-12
    )
    afpr, atpr, _ = roc_curve(anomaly[counted], 1 - conf[counted], drop_intermediate=False)
    assert out["anomaly_fpr95"] == pytest.approx(afpr[np.argmax(atpr >= 0.95)], abs=1e-12)
    json.dumps(to_jsonable(out), allow_nan=False)
    curves = ev.curves()
    assert curves["thresholds"].shape == curves["precision"].shape == (B,)
    assert curves["reliability_count"].sum() == valid.sum()
    assert np.nanmax(curves["f05"]) == pytest.approx(out["maxf05"])


def test_fixed_gamma_counts_are_exact_off_grid() -> None:
    frames = _frames(1, on_grid=False)
    gamma = 0.6123
    ev = Evaluator(K, gamma=gamma)
    for preds, conf, labels, _ in frames:
        ev.update(preds, conf, labels)
    out = ev.compute()
    preds, conf, labels, _ = _flat(frames)
    valid = labels != 255
    accurate = preds[valid] == labels[valid]
    c = conf[valid]
    certain = c > gamma
    assert out["gamma"] == gamma and out["gamma_source"] == "given"
    assert out["certain_fraction"] == pytest.approx(certain.mean(), abs=1e-12)
    assert out["precision_at_gamma"] == pytest.approx(accurate[certain].mean(), abs=1e-12)
    assert out["recall_at_gamma"] == pytest.approx(certain[accurate].mean(), abs=1e-12)
    uncertain, error = ~certain, ~accurate
    dice = 2 * np.sum(uncertain & error) / (uncertain.sum() + error.sum())
    assert out["dice"] == pytest.approx(dice, abs=1e-12)
    assert "anomaly_auroc" not in out
    ece, _ = _brute_ece(c, accurate)
    assert out["ece"] == pytest.approx(ece, abs=1e-12)
    assert out["aupr"] == pytest.approx(average_precision_score(accurate, c), abs=1e-3)


def test_merge_equals_single_pass() -> None:
    frames = _frames(2, count=4)
    whole, first, second = (Evaluator(K, gamma=0.5) for _ in range(3))
    for i, f in enumerate(frames):
        whole.update(*f)
        (first if i < 2 else second).update(*f)
    merged = first.merge(second).compute()
    single = whole.compute()
    assert merged.keys() == single.keys()
    for key, value in single.items():
        if isinstance(value, float):  # confidence sums may differ in the last bit
            assert merged[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key
        else:
            assert merged[key] == value, key
    with pytest.raises(ValueError, match="merge"):
        whole.merge(Evaluator(K, gamma=0.4))


def _same(a: object, b: object) -> bool:
    if dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):
        return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":  # sums in another order
        return bool(np.allclose(a, b, rtol=1e-12, atol=0.0))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def test_every_state_update_changes_is_declared_and_merged() -> None:
    """A state added to __init__ without `_state` would be left out of `merge`: caught here."""
    frames = _frames(3, count=2)
    fresh, updated = Evaluator(K, gamma=0.5), Evaluator(K, gamma=0.5)
    for f in frames:
        updated.update(*f)
    changed = {n for n, v in vars(updated).items() if not _same(vars(fresh)[n], v)}
    assert changed == set(updated._states), changed ^ set(updated._states)
    doubled = Evaluator(K, gamma=0.5)
    for _ in range(2):
        for f in frames:
            doubled.update(*f)
    merged = Evaluator(K, gamma=0.5).merge(updated).merge(updated)
    for name in doubled._states:
        assert _same(getattr(merged, name), getattr(doubled, name)), name


def test_edge_cases() -> None:
    empty = Evaluator(K).compute()
    assert empty["num_pixels"] == 0
    for key in ("miou", "maxf05", "aupr", "auroc", "fpr95", "ece", "dice", "certain_fraction"):
        assert np.isnan(empty[key]), key
    shape = (8, 8)
    labels = np.full(shape, 2, np.uint8)
    conf = np.full(shape, 0.9)
    perfect = Evaluator(K)
    perfect.update(labels.copy(), conf, labels)
    out = perfect.compute()
    assert out["maxf05"] == 1.0 and out["aupr"] == 1.0 and out["miou"] == 1.0
    assert np.isnan(out["auroc"]) and out["ece"] == pytest.approx(0.1)
    wrong = Evaluator(K)
    wrong.update(np.full(shape, 3, np.uint8), conf, labels)
    out = wrong.compute()
    assert out["maxf05"] == 0.0 and out["aupr"] == 0.0 and out["miou"] == 0.0
    assert out["accuracy"] == 0.0 and out["ece"] == pytest.approx(0.9)
    # All-ignore frame: counted as a frame, no pixels.
    ignored = Evaluator(K)
    ignored.update(labels, conf, np.full(shape, 255, np.uint8))
    assert ignored.compute()["num_pixels"] == 0
    with pytest.raises(UserError, match="outside the 5 classes"):
        Evaluator(K).update(labels, conf, np.full(shape, 7, np.uint8))
    with pytest.raises(ValueError, match="shapes differ"):
        Evaluator(K).update(labels, conf[:4], labels)
    with pytest.raises(ValueError, match="confidence"):
        Evaluator(K).update(labels, conf + 1, labels)


def test_frame_summary() -> None:
    preds, conf, labels, _ = _frames(3, count=1)[0]
    out = frame_summary(preds, conf, labels, gamma=0.6)
    valid = labels != 255
    accurate = preds[valid] == labels[valid]
    certain = conf[valid] > 0.6
    assert out["error_rate"] == pytest.approx(1 - accurate.mean())
    assert out["certain_fraction"] == pytest.approx(certain.mean())
    assert out["certain_accuracy"] == pytest.approx(accurate[certain].mean())
    assert out["mean_confidence"] == pytest.approx(conf[valid].mean())
    unlabelled = frame_summary(preds, conf, None, gamma=0.6)
    assert unlabelled["certain_fraction"] == pytest.approx(np.mean(conf > 0.6))
    assert np.isnan(unlabelled["error_rate"])
