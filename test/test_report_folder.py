"""Report folder from a streaming evaluation: metrics equal scikit-learn's, files, HTML page."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from uncertainty_seg_node.classes import CITYSCAPES_PALETTE
from uncertainty_seg_node.replay.evaluation import ReplayEvaluation
from uncertainty_seg_node.replay.report import write_report

sklearn_metrics = pytest.importorskip("sklearn.metrics")

K = 4


def _frames(seed: int, n: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        labels = rng.integers(0, K, (6, 10)).astype(np.uint8)
        labels[0, :3] = 255
        ids = np.where(rng.random((6, 10)) < 0.7, labels, rng.integers(0, K, (6, 10)))
        ids = np.where(labels == 255, 0, ids).astype(np.uint8)
        # Quantised to the metric grid so histogram metrics are exact.
        conf = rng.random((6, 10))
        conf = np.where(ids == labels, np.sqrt(conf), conf)
        conf = (np.round(conf * 9999) / 9999).astype(np.float32)
        anomaly = np.zeros((6, 10), bool)
        anomaly[0, :3] = True
        frames.append({"labels": labels, "ids": ids, "conf": conf, "anomaly": anomaly})
    return frames


def test_report_metrics_equal_sklearn_and_pages_are_written(tmp_path: Path) -> None:
    evaluation = ReplayEvaluation(K, CITYSCAPES_PALETTE[:K], gamma=0.5, examples_per_domain=2)
    day, fog = _frames(0, 5), _frames(1, 4)
    index = 0
    for domain, frames in (("day", day), ("fog", fog)):
        for f in frames:
            image = np.zeros((6, 10, 3), np.uint8)
            evaluation.add(index=index, stamp_ns=10**18 + index * 10**8, image=image,
                           class_ids=f["ids"], confidence=f["conf"], certain=f["conf"] > 0.5,
                           labels=f["labels"], anomaly=f["anomaly"], domain=domain)
            index += 1
    # One unlabelled frame: recorded, not evaluated.
    evaluation.add(index=index, stamp_ns=10**18 + index * 10**8, image=None,
                   class_ids=day[0]["ids"], confidence=day[0]["conf"],
                   certain=day[0]["conf"] > 0.5, domain="day")

    doc = write_report(tmp_path, evaluation, facts={"bag": "x", "frames": index + 1})
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["run"]["frames"] == 10 and saved["labelled"] is True
    assert set(saved["domains"]) == {"day", "fog"}
    assert saved["frames"] == 9  # evaluated frames

    def reference(frames: list[dict[str, np.ndarray]]) -> tuple[float, float]:
        valid = np.concatenate([f["labels"].ravel() != 255 for f in frames])
        accurate = np.concatenate([(f["ids"] == f["labels"]).ravel() for f in frames])[valid]
        conf = np.concatenate([f["conf"].ravel() for f in frames])[valid]
        return (sklearn_metrics.average_precision_score(accurate, conf),
                sklearn_metrics.roc_auc_score(accurate, conf))

    ap, auc = reference(day + fog)
    assert saved["aupr"] == pytest.approx(ap, abs=1e-9)
    assert saved["auroc"] == pytest.approx(auc, abs=1e-9)
    ap_fog, auc_fog = reference(fog)
    assert saved["domains"]["fog"]["aupr"] == pytest.approx(ap_fog, abs=1e-9)
    assert saved["domains"]["fog"]["auroc"] == pytest.approx(auc_fog, abs=1e-9)
    assert doc["maxf05"] == saved["maxf05"]
    for key in ("miou", "maxf05", "p_ac_at_maxf05", "fpr95", "ece", "mce", "dice",
                "per_class_iou", "anomaly_auroc"):
        assert key in saved

    rows = list(csv.DictReader((tmp_path / "frames.csv").open()))
    assert len(rows) == 10
    assert rows[-1]["labelled"] == "False" and rows[-1]["error_rate"] == ""
    assert float(rows[0]["error_rate"]) > 0

    for name in ("f05_vs_pac.png", "reliability.png", "frames_over_time.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    examples = sorted((tmp_path / "examples").glob("*.png"))
    assert 3 <= len(examples) <= 5  # first frame + 2 per domain
    page = (tmp_path / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 3 + len(examples)
    assert not re.search(r"src=['\"](?!data:)", page)  # nothing loaded from elsewhere
    assert "MaxF0.5" in page and "fog" in page


def test_unlabelled_report_has_no_metrics_but_a_page(tmp_path: Path) -> None:
    evaluation = ReplayEvaluation(K, CITYSCAPES_PALETTE[:K], gamma=0.5)
    conf = np.full((4, 4), 0.3, np.float32)
    for i in range(3):
        evaluation.add(index=i, stamp_ns=i, image=np.zeros((4, 4, 3), np.uint8),
                       class_ids=np.zeros((4, 4), np.uint8), confidence=conf, certain=conf > 0.5)
    doc = write_report(tmp_path, evaluation, facts={}, warnings=["no labels"])
    assert doc["labelled"] is False and "maxf05" not in doc
    assert (tmp_path / "frames_over_time.png").is_file()
    assert not (tmp_path / "f05_vs_pac.png").exists()
    assert "no labels" in (tmp_path / "index.html").read_text()
    rows = list(csv.DictReader((tmp_path / "frames.csv").open()))
    assert float(rows[0]["certain_fraction"]) == 0.0
    assert float(rows[0]["uncertainty_uaal"]) == pytest.approx(0.49)
