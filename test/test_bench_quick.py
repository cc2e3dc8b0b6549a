"""`uncertainty-seg bench --quick`: runs in seconds and its JSON holds every stage and ratio."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
from inference_fixtures import tiny_checkpoint

from uncertainty_seg_node.bench import latency_stats
from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.export.onnx_export import export_onnx

STAGE_KEYS = {"preprocess", "inference", "postprocess", "total", "network_alone"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("bench") / "tiny.pt", size=(28, 42))


def _finite_positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def test_quick_bench_json_has_stages_and_ratios(checkpoint: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    backends = "torch,onnxruntime" + (",tensorrt" if importlib.util.find_spec("tensorrt") is None
                                      else "")
    code = main(["bench", "--model", str(checkpoint), "--backends", backends,
                 "--size", "48x64", "--quick", "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "onnxruntime / torch eager" in text and "whole pipeline / network alone" in text
    result = json.loads(out.read_text())
    assert result["image_size"] == [48, 64] and result["input_size"] == [28, 42]
    assert result["iters"] == 5 and result["machine"]["cpus"] >= 1
    assert set(result["backends"]) == {"torch", "onnxruntime"}
    for entry in result["backends"].values():
        assert set(entry["stages"]) == STAGE_KEYS
        for stats in entry["stages"].values():
            assert stats["n"] == 5 and stats["p99_ms"] >= stats["median_ms"] >= stats["min_ms"]
        assert entry["stages"]["total"]["median_ms"] >= entry["stages"]["inference"]["min_ms"]
    ratios = result["ratios"]
    assert _finite_positive(ratios["onnxruntime_over_torch_eager"])
    assert _finite_positive(ratios["onnxruntime_over_torch_eager_pipeline"])
    for name in ("torch", "onnxruntime"):
        assert _finite_positive(ratios["pipeline_over_inference"][name])
        assert _finite_positive(ratios["pre_post_over_inference"][name])
    onnx_over_torch = (result["backends"]["onnxruntime"]["stages"]["network_alone"]["median_ms"]
                       / result["backends"]["torch"]["stages"]["network_alone"]["median_ms"])
    assert ratios["onnxruntime_over_torch_eager"] == pytest.approx(onnx_over_torch)
    if "tensorrt" in backends:
        assert "pip install tensorrt" in result["skipped"]["tensorrt"]


def test_onnx_model_finds_its_checkpoint_or_asks_for_one(
    checkpoint: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # A model records its checkpoint relative to the working directory (no machine paths), so
    # export and bench run from a folder above both files.
    monkeypatch.chdir(tmp_path_factory.getbasetemp())
    onnx_path = export_onnx(checkpoint, tmp_path / "m.onnx", parity=False).path
    out = tmp_path / "b.json"
    once = ["--iters", "1", "--warmup", "0"]
    assert main(["bench", "--model", str(onnx_path), "--size", "30x40", *once,
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["backends"]["torch"]["input_size"] == [28, 42]
    temporary = tmp_path / "gone" / "tmp.pt"
    temporary.parent.mkdir()
    temporary.write_bytes(checkpoint.read_bytes())
    lonely = export_onnx(temporary, tmp_path / "gone" / "lonely.onnx", parity=False).path
    temporary.unlink()  # neither the recorded checkpoint nor a sibling exists now
    capsys.readouterr()
    assert main(["bench", "--model", str(lonely), *once]) == 2
    assert "pass --checkpoint CKPT" in capsys.readouterr().err
    assert main(["bench", "--model", str(lonely), "--checkpoint", str(checkpoint), "--size",
                 "30x40", "--threads", "1", *once, "--json", str(out)]) == 0
    assert json.loads(out.read_text())["machine"]["onnxruntime_threads"] == 1
    assert main(["bench", "--model", str(lonely), "--backends", "vulkan"]) == 2
    assert "unknown backend 'vulkan'" in capsys.readouterr().err


def test_latency_stats_against_numpy() -> None:
    values = np.random.default_rng(0).exponential(5.0, 200)
    stats = latency_stats(values.tolist())
    assert stats["median_ms"] == pytest.approx(np.median(values))
    assert stats["p99_ms"] == pytest.approx(np.percentile(values, 99))
    assert stats["min_ms"] == values.min() and stats["n"] == 200
    with pytest.raises(ValueError):
        latency_stats([])
