"""gamma / temperature calibration: choice against brute force, writing into every model type."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from inference_fixtures import CLASS_NAMES, PALETTE, camera_image, labelled_folder, tiny_checkpoint

from uncertainty_seg_node.calibration.gamma_search import calibrate_gamma
from uncertainty_seg_node.calibration.temperature import nll
from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.deploy import PostProcessing
from uncertainty_seg_node.export.onnx_export import export_onnx
from uncertainty_seg_node.inference.ort_backend import OrtPredictor
from uncertainty_seg_node.inference.torch_backend import TorchPredictor
from uncertainty_seg_node.metrics import Evaluator
from uncertainty_seg_node.model.artifact import (
    ExportInfo,
    read_onnx_metadata,
    read_sidecar,
    write_sidecar,
)
from uncertainty_seg_node.model.checkpoint import load_checkpoint
from uncertainty_seg_node.model.rewrite import write_calibration


def _informative_evaluator(seed: int = 0) -> tuple[Evaluator, np.ndarray, np.ndarray]:
    """Confidences on the 1e-4 grid, accurate with probability = confidence (calibrated)."""
    rng = np.random.default_rng(seed)
    conf = rng.integers(0, 10_000, 20_000) / 9_999.0
    accurate = rng.random(conf.size) < conf
    labels = rng.integers(0, 3, conf.size).astype(np.uint8)
    ids = np.where(accurate, labels, (labels + 1) % 3).astype(np.uint8)
    evaluator = Evaluator(3, gamma=0.5)
    evaluator.update(ids, conf.astype(np.float32), labels)
    return evaluator, conf, accurate


def _f05(precision: float, recall: float) -> float:
    return 1.25 * precision * recall / (0.25 * precision + recall)


def test_gamma_at_maxf05_and_at_target_precision_match_brute_force() -> None:
    evaluator, conf, accurate = _informative_evaluator()
    best_f, thresholds = 0.0, np.unique(conf)
    for g in thresholds[::7]:
        certain = conf >= g
        precision = accurate[certain].mean()
        recall = (certain & accurate).sum() / accurate.sum()
        best_f = max(best_f, _f05(precision, recall))
    result = calibrate_gamma(evaluator)
    assert result.gamma_source == "maxf05"
    assert result.maxf05.f05 == pytest.approx(best_f, abs=2e-3)
    certain = conf > result.gamma
    assert accurate[certain].mean() == pytest.approx(result.maxf05.precision, abs=1e-9)
    assert (certain & accurate).sum() / accurate.sum() == pytest.approx(result.maxf05.recall)
    assert result.previous.gamma == 0.5
    assert result.previous.certain_fraction == pytest.approx((conf > 0.5).mean())

    target = calibrate_gamma(evaluator, target_precision=0.9)
    certain = conf > target.gamma
    assert accurate[certain].mean() >= 0.9
    assert target.at_gamma.precision == pytest.approx(accurate[certain].mean())
    lower = conf > target.gamma - 2e-4  # one more grid level: precision drops below target
    assert accurate[lower].mean() < 0.9 or lower.sum() == certain.sum()
    assert target.gamma > result.gamma and target.gamma_at_precision == target.gamma
    hopeless = Evaluator(3)
    hopeless.update(np.array([0, 1, 1, 0], np.uint8), np.full(4, 0.9, np.float32),
                    np.zeros(4, np.uint8))
    with pytest.raises(UserError, match=r"no gamma reaches a precision of 0.99.*best is 0.5000"):
        calibrate_gamma(hopeless, target_precision=0.99)


def test_nll_matches_torch_cross_entropy() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 4, (500, 5)).astype(np.float32)
    labels = rng.integers(0, 5, 500)
    for t in (0.5, 1.0, 3.0):
        expected = torch.nn.functional.cross_entropy(torch.from_numpy(logits) / t,
                                                     torch.from_numpy(labels))
        assert nll(logits, labels, t) == pytest.approx(float(expected), rel=1e-5)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("calib")
    checkpoint = tiny_checkpoint(root / "m.pt", class_names=CLASS_NAMES, palette=PALETTE)
    onnx_path = root / "m.onnx"
    export_onnx(checkpoint, onnx_path, parity=False,
                post=PostProcessing(score_method="temperature", with_logits=True))
    return {"checkpoint": checkpoint, "onnx": onnx_path,
            "data": labelled_folder(root / "data")}


def test_write_calibration_into_checkpoint_onnx_and_engine(models: dict[str, Path],
                                                           tmp_path: Path) -> None:
    out = write_calibration(models["checkpoint"], tmp_path / "c.pt", gamma=0.81, temperature=2.0,
                            record={"data": "x"})
    config = load_checkpoint(out).config
    assert config.default_gamma == 0.81 and config.temperature == 2.0
    assert config.provenance["calibration"]["data"] == "x"
    assert config.provenance["seed"] == 0  # earlier provenance kept

    onnx_out = write_calibration(models["onnx"], tmp_path / "c.onnx", gamma=0.6, temperature=3.0)
    config, info = read_onnx_metadata(onnx_out)
    assert config.default_gamma == 0.6 and info.temperature == 3.0
    init = {i.name: i for i in onnx.load(str(onnx_out)).graph.initializer}["temperature"]
    assert float(onnx.numpy_helper.to_array(init)) == 3.0
    # The rewritten graph computes softmax(logits / 3).max: same as torch at T = 3.
    image = camera_image()
    reference = TorchPredictor.from_checkpoint(models["checkpoint"], score_method="temperature",
                                               temperature=3.0).predict(image)
    rewritten = OrtPredictor(onnx_out).predict(image)
    assert rewritten.gamma == 0.6
    assert np.abs(rewritten.confidence - reference.confidence).max() <= 1e-4
    original = OrtPredictor(models["onnx"]).predict(image)
    assert np.abs(original.confidence - reference.confidence).max() > 1e-3

    engine = tmp_path / "m.engine"
    engine.write_bytes(b"engine bytes")
    write_sidecar(engine, model_config_for("tiny"), ExportInfo(score_method="msp"),
                  {"key": {}})
    write_calibration(engine, gamma=0.7)
    assert read_sidecar(engine)[0].default_gamma == 0.7
    write_sidecar(engine, model_config_for("tiny"), ExportInfo(score_method="temperature"), {})
    with pytest.raises(UserError, match="compiled in"):
        write_calibration(engine, temperature=2.0)
    with pytest.raises(UserError, match="same file type"):
        write_calibration(models["checkpoint"], tmp_path / "x.onnx", gamma=0.5)
    with pytest.raises(UserError, match="outside"):
        write_calibration(models["checkpoint"], gamma=1.5)


def test_cli_calibrate_onnx_with_temperature(models: dict[str, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out, report = tmp_path / "cal.onnx", tmp_path / "cal.json"
    code = main(["calibrate", "--model", str(models["onnx"]), "--data", str(models["data"]),
                 "--fit-temperature", "--out", str(out), "--json", str(report)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "MaxF0.5" in text and "temperature" in text and f"wrote {out}" in text
    result = json.loads(report.read_text())
    assert result["nll_after"] <= result["nll_before"] + 1e-9
    config, info = read_onnx_metadata(out)
    assert config.default_gamma == pytest.approx(result["gamma"])
    assert info.temperature == pytest.approx(result["temperature"])
    assert config.provenance["calibration"]["frames"] == 3
    assert read_onnx_metadata(models["onnx"])[0].default_gamma == 0.3  # source untouched


def test_cli_calibrate_checkpoint_in_place_and_errors(models: dict[str, Path], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint = tmp_path / "m.pt"
    checkpoint.write_bytes(models["checkpoint"].read_bytes())
    assert main(["calibrate", "--model", str(checkpoint), "--data", str(models["data"])]) == 0
    config = load_checkpoint(checkpoint).config
    assert config.provenance["calibration"]["gamma_source"] == "maxf05"
    capsys.readouterr()
    assert main(["calibrate", "--model", str(checkpoint), "--data", str(models["data"]),
                 "--target-precision", "0"]) == 2
    assert "target precision 0.0 must be in (0, 1]" in capsys.readouterr().err
    plain = tmp_path / "plain.onnx"
    export_onnx(models["checkpoint"], plain, parity=False)
    assert main(["calibrate", "--model", str(plain), "--data", str(models["data"]),
                 "--fit-temperature", "--dry-run"]) == 2
    assert "--with-logits" in capsys.readouterr().err
