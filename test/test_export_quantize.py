"""int8 dynamic quantisation of an exported model: metadata kept, and the ship test measured."""

from __future__ import annotations

from pathlib import Path

import pytest
from inference_fixtures import tiny_checkpoint

from uncertainty_seg_node.export.onnx_export import export_onnx
from uncertainty_seg_node.export.quantize import quantize_onnx
from uncertainty_seg_node.inference.factory import load_predictor
from uncertainty_seg_node.inference.quantize_check import quantization_check
from uncertainty_seg_node.model.artifact import read_onnx_metadata
from uncertainty_seg_node.synth import render_frames

SIZE = (112, 154)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("quant")
    checkpoint = tiny_checkpoint(root / "tiny.pt", size=SIZE)
    return export_onnx(checkpoint, root / "tiny.onnx", parity=False).path


def test_quantized_model_keeps_interface_and_metadata(exported: Path, tmp_path: Path) -> None:
    int8 = quantize_onnx(exported, tmp_path / "tiny.int8.onnx")
    config, _ = read_onnx_metadata(exported)
    config8, _ = read_onnx_metadata(int8)
    assert config8 == config
    import onnx

    ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
    assert "DynamicQuantizeLinear" in ops or "MatMulInteger" in ops
    prediction = load_predictor(int8).predict(render_frames("fog", 1, (60, 80), 0).__next__()
                                              .image)
    assert prediction.class_ids.shape == (60, 80)


def test_quantization_check_measures_agreement_aupr_and_speed(exported: Path,
                                                              tmp_path: Path) -> None:
    int8 = quantize_onnx(exported, tmp_path / "tiny.int8.onnx")
    frames = list(render_frames("city-day", 3, SIZE, 4))
    images, labels = [f.image for f in frames], [f.labels for f in frames]
    same = quantization_check(exported, exported, images, labels, threads=1, repeats=1)
    assert same["label_agreement"] == 1.0 and same["aupr_change"] == 0.0 and same["ships"]
    result = quantization_check(exported, int8, images, labels, threads=1, repeats=1)
    assert 0.5 < result["label_agreement"] <= 1.0
    assert 0.0 <= result["aupr_int8"] <= 1.0 and result["speedup"] > 0
    assert result["ships"] == (result["label_agreement"] >= 0.99
                               and result["aupr_change"] < 0.005)
    unlabelled = quantization_check(exported, int8, images, None, threads=1, repeats=1)
    assert "aupr_change" not in unlabelled and not unlabelled["ships"]
