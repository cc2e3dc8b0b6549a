"""`uncertainty-seg bench-node` in a short mode: it runs the node and reports what it promises.

No timing is asserted (benchmarks print ratios; they are not timed tests), only that the
figures exist, are consistent with each other and that the overload phase counted drops.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("rclpy")

from uncertainty_seg_node.cli.main import main  # noqa: E402

pytestmark = pytest.mark.ros


def test_bench_node_short_run(tmp_path: Path, node_model: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    log = tmp_path / "node.log"
    code = main(["bench-node", "--model", str(node_model), "--size", "60x80", "--frames", "8",
                 "--rate", "400", "--overload-seconds", "0.5", "--json", str(out),
                 "--node-log", str(log)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "overhead" in printed and "dropped (busy)" in printed
    result = json.loads(out.read_text())
    # backend auto: the fastest gated pair where OpenVINO is installed (timed on this machine),
    # else ONNX Runtime; the result says which and why, and so does the node's start-up log.
    served = result["backend"]
    if importlib.util.find_spec("openvino"):
        said = "backend auto: the fastest gated pair"
        assert served in ("onnxruntime", "openvino") and f": {served} " in result["selection"]
    else:
        said = "backend auto: onnxruntime"
        assert served == "onnxruntime"
    assert said in result["selection"] and said in log.read_text(), result["selection"]
    assert result["image_size"] == [60, 80]
    assert result["backend_predict_ms"]["n"] == 8
    assert result["node_e2e_ms"]["n"] + result["lost_frames"] == 8
    assert result["node_e2e_ms"]["n"] >= 6
    node, direct = result["node_e2e_ms"]["median_ms"], result["backend_predict_ms"]["median_ms"]
    assert result["ratio_e2e_over_predict"] == pytest.approx(node / direct, rel=1e-3)
    assert result["overhead_ms"] == pytest.approx(node - direct, abs=1e-2)
    overload = result["overload"]
    assert overload["published"] > 0 and overload["dropped_busy"] is not None
    assert overload["published"] + overload["dropped_busy"] == overload["received_by_node"]
    assert overload["received_by_node"] <= overload["sent"]
    assert result["node_exit_code"] == 0
    memory = result["node_memory"]
    assert 0 < memory["rss_mb"] <= memory["peak_rss_mb"]
    assert memory["torch_mapped"] is False  # an ONNX model is served without torch
    assert result["node_start_to_first_output_s"] > 0
    assert "start to first output" in printed and "peak" in printed


def test_bench_node_refuses_a_missing_model(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench-node", "--model", str(tmp_path / "none.onnx"), "--frames", "2"])
    assert code == 2
    assert "none.onnx" in capsys.readouterr().err
