"""evaluate_predictor and `uncertainty-seg evaluate` end to end: real tiny model, real files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.data import LabelledSample, open_labelled
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.evaluation import evaluate_predictor
from uncertainty_seg_node.inference.torch_backend import TorchPredictor
from uncertainty_seg_node.model import build_segmenter
from uncertainty_seg_node.model.checkpoint import save_checkpoint

SIZE = (56, 112)
REQUIRED = ("miou", "maxf05", "p_ac_at_maxf05", "aupr", "auroc", "fpr95", "ece")


def _write_cityscapes(root: Path, count: int = 3, shape: tuple[int, int] = (60, 100)) -> Path:
    """A tiny Cityscapes-format folder (val split, one city) with anomaly masks."""
    rng = np.random.default_rng(0)
    images = root / "leftImg8bit" / "val" / "town"
    labels = root / "gtFine" / "val" / "town"
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    for i in range(count):
        name = f"town_{i:06d}_000019"
        image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        label = np.zeros(shape, np.uint8)
        label[: shape[0] // 3] = 10  # sky
        label[shape[0] // 3 : 2 * shape[0] // 3] = 2  # building
        label[2 * shape[0] // 3 :] = 0  # road
        label[:4] = 255
        anomaly = np.zeros(shape, np.uint8)
        anomaly[-12:, 10:30] = 255
        label[anomaly > 0] = 255
        cv2.imwrite(str(images / f"{name}_leftImg8bit.png"), image[..., ::-1])
        cv2.imwrite(str(labels / f"{name}_gtFine_labelTrainIds.png"), label)
        cv2.imwrite(str(labels / f"{name}_gtFine_anomaly.png"), anomaly)
    return root


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_cityscapes(tmp_path_factory.mktemp("cs"))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = build_segmenter(model_config_for("tiny", input_size=SIZE, default_gamma=0.2))
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt", model)


def test_evaluate_predictor_matches_sklearn(dataset_dir: Path, checkpoint: Path) -> None:
    predictor = TorchPredictor.from_checkpoint(checkpoint)
    dataset = open_labelled(dataset_dir)
    result = evaluate_predictor(predictor, dataset, gamma=0.15, progress=False)
    assert result["frames"] == 3 and result["backend"] == "torch"
    assert result["model"] == str(checkpoint) and result["gamma_source"] == "given"
    for key in REQUIRED:
        assert math.isfinite(result[key]), key
    # Same pixels, brute force.
    conf, acc, anomaly_score, anomaly_label = [], [], [], []
    for sample in dataset:
        pred = predictor.predict(sample.image, gamma=0.15)
        valid = sample.labels != 255
        conf.append(pred.confidence[valid])
        acc.append(pred.class_ids[valid] == sample.labels[valid])
        counted = valid | sample.anomaly
        anomaly_score.append(1 - pred.confidence[counted])
        anomaly_label.append(sample.anomaly[counted])
    c, a = np.concatenate(conf), np.concatenate(acc)
    assert result["num_pixels"] == c.size
    assert result["accuracy"] == pytest.approx(a.mean())
    assert result["certain_fraction"] == pytest.approx(np.mean(c > 0.15))
    assert result["aupr"] == pytest.approx(average_precision_score(a, c), abs=1e-3)
    assert result["auroc"] == pytest.approx(roc_auc_score(a, c), abs=1e-3)
    s, y = np.concatenate(anomaly_score), np.concatenate(anomaly_label)
    assert result["anomaly_auroc"] == pytest.approx(roc_auc_score(y, s), abs=1e-3)
    assert result["anomaly_ap"] == pytest.approx(average_precision_score(y, s), abs=1e-3)
    # max_frames and the model's default gamma.
    short = evaluate_predictor(predictor, dataset, progress=False, max_frames=1)
    assert short["frames"] == 1 and short["gamma"] == 0.2
    assert short["gamma_source"] == "model default"


def test_evaluate_predictor_refuses_bad_input(checkpoint: Path) -> None:
    predictor = TorchPredictor.from_checkpoint(checkpoint)
    image = np.zeros((40, 60, 3), np.uint8)
    bad = [LabelledSample("frame_7", image, np.zeros((40, 50), np.uint8))]
    with pytest.raises(UserError, match=r"frame_7.*40x50.*40x60"):
        evaluate_predictor(predictor, bad, progress=False)
    with pytest.raises(UserError, match="empty"):
        evaluate_predictor(predictor, [], progress=False)


def test_cli_evaluate_writes_json(
    dataset_dir: Path, checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "metrics.json"
    curves = tmp_path / "curves.npz"
    rc = main(["evaluate", "--model", str(checkpoint), "--data", str(dataset_dir),
               "--json", str(out), "--curves", str(curves), "--no-progress"])
    assert rc == 0
    result = json.loads(out.read_text())
    for key in (*REQUIRED, "mce", "gamma_at_maxf05", "accuracy", "certain_fraction", "dice",
                "per_class_iou", "num_pixels", "anomaly_auroc", "anomaly_ap", "anomaly_fpr95",
                "frames", "model", "backend"):
        assert key in result, key
    assert 0.0 <= result["maxf05"] <= 1.0 and 0.0 <= result["ece"] <= 1.0
    assert set(result["per_class_iou"]) >= {"road", "sky", "building"}
    assert "MaxF0.5 @ p(a,c)" in capsys.readouterr().out
    with np.load(curves) as data:
        assert data["precision"].shape == data["thresholds"].shape


def test_cli_evaluate_errors(
    dataset_dir: Path, checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.pt"
    assert main(["evaluate", "--model", str(missing), "--data", str(dataset_dir)]) == 2
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["evaluate", "--model", str(checkpoint), "--data", str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    # Labels of another size than their image.
    bad = _write_cityscapes(tmp_path / "bad", count=1)
    label = next((bad / "gtFine").rglob("*_labelTrainIds.png"))
    cv2.imwrite(str(label), np.zeros((30, 50), np.uint8))
    assert main(["evaluate", "--model", str(checkpoint), "--data", str(bad),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert label.name in err and err.count("\n") == 1


def test_cli_evaluate_onnx_matches_checkpoint(
    dataset_dir: Path, checkpoint: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    from uncertainty_seg_node.export.onnx_export import export_onnx

    onnx_path = export_onnx(checkpoint, tmp_path / "tiny.onnx", parity=False).path
    results = {}
    for name, model, backend in (("torch", checkpoint, "auto"),
                                 ("ort", onnx_path, "onnxruntime")):
        out = tmp_path / f"{name}.json"
        assert main(["evaluate", "--model", str(model), "--data", str(dataset_dir),
                     "--json", str(out), "--no-progress", "--backend", backend]) == 0
        results[name] = json.loads(out.read_text())
    torch_res, ort_res = results["torch"], results["ort"]
    assert ort_res["backend"] == "onnxruntime" and ort_res.keys() >= set(REQUIRED)
    assert ort_res["num_pixels"] == torch_res["num_pixels"]
    for key in ("accuracy", "miou", "maxf05", "aupr", "auroc", "ece"):
        assert ort_res[key] == pytest.approx(torch_res[key], abs=2e-3), key
