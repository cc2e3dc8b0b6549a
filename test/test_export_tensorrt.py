"""TensorRT export without TensorRT: engine cache keys, stale-engine refusal, fp32 layer choice,
sidecar metadata, and the install hint. (The build itself needs TensorRT and a GPU.)"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import onnx
import pytest
from inference_fixtures import tiny_checkpoint

from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.fp16_onnx import wants_fp32
from uncertainty_seg_node.export.onnx_export import export_onnx
from uncertainty_seg_node.export.tensorrt_build import EngineKey, engine_path_for, key_mismatches
from uncertainty_seg_node.inference import load_predictor
from uncertainty_seg_node.inference.trt_backend import TensorRTPredictor, check_engine_key
from uncertainty_seg_node.model.artifact import (
    ExportInfo,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)

KEY = EngineKey(
    gpu_name="NVIDIA H100 80GB HBM3", compute_capability="9.0", tensorrt_version="10.9.0",
    input_shape=(1, 518, 1036, 3), onnx_sha256="ab" * 32, precision="fp16",
)


def test_key_digest_is_stable_and_sensitive_to_every_field() -> None:
    assert KEY.digest() == EngineKey.from_dict(KEY.to_dict()).digest()
    assert len(KEY.digest()) == 64
    changes = {
        "gpu_name": "NVIDIA A100-SXM4-40GB", "compute_capability": "8.0",
        "tensorrt_version": "10.3.0", "input_shape": (1, 518, 1022, 3),
        "onnx_sha256": "cd" * 32, "precision": "fp32",
    }
    digests = {KEY.digest()}
    for field, value in changes.items():
        other = dataclasses.replace(KEY, **{field: value})
        digests.add(other.digest())
        (reason,) = key_mismatches(KEY, other)
        assert repr(value) in reason and "engine built for" in reason
    assert len(digests) == 1 + len(changes)
    assert key_mismatches(KEY, KEY) == []


def test_stale_engine_is_refused_with_every_reason(tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    here = dataclasses.replace(KEY, gpu_name="Orin", compute_capability="8.7",
                               tensorrt_version="10.3.0")
    with pytest.raises(UserError) as info:
        check_engine_key(engine, {"key": KEY.to_dict()}, here)
    message = str(info.value)
    assert str(engine) in message and "not loaded" in message
    assert "GPU: engine built for 'NVIDIA H100 80GB HBM3', this machine has 'Orin'" in message
    assert "TensorRT version" in message and "compute capability" in message
    assert "input shape" not in message
    check_engine_key(engine, {"key": KEY.to_dict()}, KEY)  # same machine: accepted
    with pytest.raises(UserError, match="no valid cache key"):
        check_engine_key(engine, {}, KEY)


def test_cached_engine_names_differ_per_key(tmp_path: Path) -> None:
    onnx_path = tmp_path / "model.onnx"
    a = engine_path_for(onnx_path, KEY)
    b = engine_path_for(onnx_path, dataclasses.replace(KEY, gpu_name="Orin"))
    assert a != b and a.parent == tmp_path and a.suffix == ".engine"
    assert a.name.startswith("model.") and KEY.digest()[:12] in a.name


def test_fp32_layers_chosen_on_a_real_exported_graph(tmp_path: Path) -> None:
    checkpoint = tiny_checkpoint(tmp_path / "m.pt")
    onnx_path = tmp_path / "m.onnx"
    export_onnx(checkpoint, onnx_path, parity=False)
    nodes = [(n.name, n.op_type) for n in onnx.load(str(onnx_path)).graph.node]
    type_of = {"LayerNormalization": "NORMALIZATION", "Softmax": "SOFTMAX",
               "InstanceNormalization": "NORMALIZATION"}
    pinned = {name for name, op in nodes if wants_fp32(name, type_of.get(op, op.upper()))}
    norms = {name for name, op in nodes if op == "LayerNormalization"}
    assert norms and norms <= pinned
    softmaxes = {name for name, op in nodes if op == "Softmax"}
    assert len(softmaxes) == 4 and softmaxes <= pinned  # attention, one per block
    # The post-processing at the top level: argmax and max softmax = 1 / sum exp(z - max).
    assert {"/ArgMax", "/ReduceMax", "/Exp", "/ReduceSum"} <= pinned
    matmuls = [name for name, op in nodes if op == "MatMul"]
    assert matmuls and not any(wants_fp32(n, "MATRIX_MULTIPLY") for n in matmuls)
    convs = [name for name, op in nodes if op == "Conv"]
    assert not any(wants_fp32(n, "CONVOLUTION") for n in convs)
    # Decomposed norms (older opsets) are caught by their module names.
    assert wants_fp32("/segmenter/encoder/vit/encoder/layer.0/norm1/ReduceMean", "REDUCE")
    assert wants_fp32("/segmenter/encoder/vit/layernorm/Sub", "ELEMENTWISE")


def test_sidecar_round_trip_and_errors(tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    config = model_config_for("tiny", input_size=(28, 56), default_gamma=0.8)
    info = ExportInfo(score_method="entropy", input_size=(28, 56))
    path = write_sidecar(engine, config, info, {"key": KEY.to_dict(), "onnx": "m.onnx"})
    assert path == sidecar_path(engine) == tmp_path / "m.engine.json"
    config2, info2, cache = read_sidecar(engine)
    assert config2 == config and info2 == info
    assert EngineKey.from_dict(cache["key"]) == KEY
    path.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON.*rebuild the engine"):
        read_sidecar(engine)
    path.write_text('{"format": -1}')
    with pytest.raises(UserError, match="unreadable"):
        read_sidecar(engine)
    path.unlink()
    with pytest.raises(UserError, match="has no metadata file"):
        read_sidecar(engine)


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None,
                    reason="TensorRT is installed here")
def test_engine_without_tensorrt_explains_the_install(tmp_path: Path) -> None:
    engine = tmp_path / "m.plan"
    engine.write_bytes(b"engine")
    with pytest.raises(UserError, match="needs the `tensorrt` package.*pip install tensorrt"):
        TensorRTPredictor(engine)
    with pytest.raises(UserError, match="CUDA only"):
        TensorRTPredictor(engine, device="cpu")
    with pytest.raises(UserError, match="does not exist"):  # checked once, by the loader
        load_predictor(tmp_path / "missing.engine")


def test_mixed_fp16_graph_keeps_fragile_layers_fp32_and_matches_fp32(tmp_path: Path) -> None:
    """The graph a strongly typed fp16 engine is built from, run here by ONNX Runtime."""
    import numpy as np
    import onnxruntime as ort

    from uncertainty_seg_node.export.fp16_onnx import fp32_node_names, write_mixed_fp16

    checkpoint = tiny_checkpoint(tmp_path / "m.pt")
    fp32_path = tmp_path / "m.onnx"
    export_onnx(checkpoint, fp32_path, parity=False)
    fp16_path = write_mixed_fp16(fp32_path, tmp_path / "m.fp16.onnx")
    before, after = onnx.load(str(fp32_path)), onnx.load(str(fp16_path))
    assert ([(v.name, v.type.tensor_type.elem_type) for v in [*before.graph.input,
                                                                *before.graph.output]]
            == [(v.name, v.type.tensor_type.elem_type) for v in [*after.graph.input,
                                                                  *after.graph.output]])
    assert {p.key: p.value for p in after.metadata_props} == {
        p.key: p.value for p in before.metadata_props}
    initializers = {i.name: i.data_type for i in after.graph.initializer}
    weights = {op: [initializers[n.input[1]] for n in after.graph.node
                    if n.op_type == op and n.input[1] in initializers]
               for op in ("Conv", "MatMul", "LayerNormalization")}
    fp16, fp32 = onnx.TensorProto.FLOAT16, onnx.TensorProto.FLOAT
    assert weights["Conv"] and set(weights["Conv"]) == {fp16}
    assert weights["MatMul"] and set(weights["MatMul"]) == {fp16}
    assert weights["LayerNormalization"] and set(weights["LayerNormalization"]) == {fp32}
    assert set(fp32_node_names(before)) >= {"/ArgMax", "/ReduceMax", "/Exp", "/ReduceSum"}

    image = np.random.default_rng(0).integers(0, 256, (2, 42, 70, 3), dtype=np.uint8)
    results = [ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"image": image}) for path in (fp32_path, fp16_path)]
    (ids32, conf32), (ids16, conf16) = results[0][:2], results[1][:2]
    assert conf16.dtype == np.float32 and ids16.dtype == ids32.dtype
    assert (ids16 == ids32).mean() > 0.99
    assert np.abs(conf16 - conf32).max() < 5e-3


def test_build_progress_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """The monitor's logic against a stand-in for the TensorRT base class (no TensorRT here)."""
    import logging
    import types

    from uncertainty_seg_node.export.tensorrt_build import progress_monitor

    assert progress_monitor(types.SimpleNamespace()) is None  # a TensorRT without the API
    fake = types.SimpleNamespace(IProgressMonitor=type("IProgressMonitor", (), {}))
    monitor = progress_monitor(fake, every_s=0.0)
    with caplog.at_level(logging.INFO, logger="uncertainty_seg_node.export.tensorrt_build"):
        monitor.phase_start("Building engine", None, 3)
        monitor.phase_start("Tactic search", "Building engine", 10)
        assert monitor.step_complete("Tactic search", 4) is True
        monitor.phase_finish("Tactic search")
        monitor.phase_finish("Building engine")
    text = caplog.text
    assert "Building engine (3 steps)" in text and "Tactic search, step 5" in text
    assert "Building engine done in" in text and "Tactic search done" not in text
