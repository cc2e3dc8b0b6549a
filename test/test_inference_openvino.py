"""The OpenVINO backend: parity with ONNX Runtime fp32, the gate, the caches, `auto`'s choice.

Real OpenVINO and NNCF on a tiny random segmenter exported to ONNX. Each test that builds
compiled models gets its own cache directory, so verdicts of one test never leak into another.
The CPU's capabilities are simulated where a test says so (a `CpuInfo` with the flags of
another CPU); OpenVINO, NNCF and the hardware that runs them are this machine's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from inference_fixtures import camera_image, tiny_checkpoint

from uncertainty_seg_node.cpu_info import CpuInfo
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.model_cache import CACHE_ENV
from uncertainty_seg_node.export.onnx_export import export_onnx
from uncertainty_seg_node.export.quantize import quantize_onnx
from uncertainty_seg_node.inference import load_predictor
from uncertainty_seg_node.inference import quantize_check as gate_module
from uncertainty_seg_node.inference.resolve import resolve_model
from uncertainty_seg_node.model.artifact import file_sha256, model_file

ov = pytest.importorskip("openvino")
build = pytest.importorskip("uncertainty_seg_node.export.openvino_build")
runtime = pytest.importorskip("uncertainty_seg_node.inference.openvino_runtime")
backend = pytest.importorskip("uncertainty_seg_node.inference.openvino_backend")
AVX2_ONLY = CpuInfo("AMD EPYC (simulated: AVX2 only)", frozenset({"avx2"}))
VNNI = CpuInfo("Xeon (simulated: AVX512-VNNI)", frozenset({"avx2", "avx512f", "avx512_vnni"}))


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("openvino")
    return export_onnx(tiny_checkpoint(root / "model.pt"), root / "model.onnx",
                       parity=False).path


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_fp32_matches_onnx_runtime_fp32(onnx_model: Path, cache: Path) -> None:
    reference = load_predictor(onnx_model, "onnxruntime")
    predictor = load_predictor(onnx_model, "openvino", precision="fp32")
    assert predictor.backend_name == "openvino" and predictor.precision == "fp32"
    assert predictor.gate["ships"] and predictor.gate["label_agreement"] >= 0.999
    for seed in range(3):
        image = camera_image(seed=seed)
        want, got = reference.predict(image), predictor.predict(image)
        assert got.class_ids.shape == want.class_ids.shape == image.shape[:2]
        assert got.class_ids.dtype == want.class_ids.dtype
        assert got.confidence.dtype == want.confidence.dtype == np.float32
        assert (got.class_ids == want.class_ids).mean() >= 0.999
        np.testing.assert_allclose(got.confidence, want.confidence, atol=1e-4)
        np.testing.assert_array_equal(got.certain, got.confidence > got.gamma)
    batch = predictor.predict_batch([camera_image(seed=1), camera_image((20, 30), seed=2)])
    assert [p.class_ids.shape for p in batch] == [(37, 61), (20, 30)]


def test_the_ir_is_saved_once_and_openvinos_cache_keeps_the_compiled_blob(
        onnx_model: Path, cache: Path) -> None:
    first = load_predictor(onnx_model, "openvino", precision="fp32")
    folder = build.ir_folder(file_sha256(onnx_model), first.input_size)
    assert (folder / "fp32.xml").is_file() and (folder / "fp32.bin").is_file()
    verdicts = sorted(folder.glob("fp32.*.gate.json"))
    assert verdicts == [first.verdict_path("fp32")]
    assert first.measured_under("fp32")["openvino"] == str(ov.get_version())
    assert first.verdict_path("bf16") != first.verdict_path("fp32")
    blobs = sorted(build.compiled_cache().glob("*.blob"))
    assert len(blobs) == 1  # written by OpenVINO's CACHE_DIR, not by this package
    second = load_predictor(onnx_model, "openvino", precision="fp32")  # verdict and blob kept
    assert second.gate == first.gate
    assert sorted(build.compiled_cache().glob("*.blob")) == blobs
    image = camera_image(seed=4)
    np.testing.assert_array_equal(second.predict(image).class_ids,
                                  first.predict(image).class_ids)


def test_int8_weights_are_7_bit_on_a_cpu_without_vnni(onnx_model: Path, cache: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The saturation fix follows the CPU: 7-bit weights without VNNI, 8-bit with it."""
    assert build.overflow_fix_for(AVX2_ONLY, "CPU") == "enable"
    assert build.overflow_fix_for(VNNI, "CPU") == "disable"
    assert build.overflow_fix_for(AVX2_ONLY, "GPU") == "disable"
    monkeypatch.setattr(gate_module, "MIN_LABEL_AGREEMENT", 1.01)  # int8 cannot pass
    for cpu, fix, widest in ((AVX2_ONLY, "enable", 64), (VNNI, "disable", 127)):
        with pytest.raises(UserError) as refused:
            backend.OpenVinoPredictor(onnx_model, precision="int8", cpu=cpu)
        message = str(refused.value)
        assert "int8 fails the shipping gate" in message and cpu.model in message
        if fix == "enable":
            assert "has no VNNI (avx2)" in message and "saturates" in message
            assert "7 bits (NNCF overflow fix enable)" in message
        else:
            assert "has VNNI" in message and "the int8 error is the model's own" in message
        folder = build.ir_folder(file_sha256(onnx_model), (42, 70))
        ir = build.ir_path(folder, "int8", fix)
        assert ir.is_file() and f"int8-{fix}-" in ir.name
        weights = [node.get_data() for node in ov.Core().read_model(str(ir)).get_ops()
                   if node.get_type_name() == "Constant"
                   and node.get_element_type() == ov.Type.i8]
        assert weights and max(int(np.abs(w.astype(np.int32)).max()) for w in weights) == widest


def test_a_precision_that_fails_the_gate_is_refused_with_its_figures(
        onnx_model: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gate_module, "MIN_LABEL_AGREEMENT", 1.01)  # nothing can pass
    with pytest.raises(UserError, match=r"fp32 fails the shipping gate \(labels agree on "
                                        r"[\d.]+ % of pixels \(limit 101 %\), AUPR"):
        load_predictor(onnx_model, "openvino", precision="fp32")
    monkeypatch.setattr(gate_module, "MIN_LABEL_AGREEMENT", 0.99)
    # The verdict is kept: refused again at once, without measuring, until the file is deleted.
    with pytest.raises(UserError, match="verdict kept in .*delete it to measure again"):
        load_predictor(onnx_model, "openvino", precision="fp32")


def test_auto_takes_the_fastest_precision_that_passes(onnx_model: Path, cache: Path) -> None:
    predictor = load_predictor(onnx_model, "openvino")
    order = ["int8", "bf16", "fp32"]
    chosen = order.index(predictor.precision)
    assert len(predictor.refused) >= chosen  # every faster one was passed over, with a reason
    for reason in predictor.refused:
        assert "fails the shipping gate" in reason or "no bf16 support" in reason
    assert predictor.gate["ships"]
    assert f"precision {predictor.precision} (labels agree on" in predictor.selection


def test_int8_keeps_the_pixel_layers_in_fp32(onnx_model: Path) -> None:
    model = ov.Core().read_model(str(onnx_model))
    names = build.pixel_layers(model)
    assert any("patch_embeddings" in n for n in names)
    assert any("decoder/stem" in n for n in names)
    assert len(names) == 2


def test_auto_backend_says_why(onnx_model: Path, tmp_path: Path) -> None:
    resolved = resolve_model(onnx_model)
    assert resolved.backend == "fastest" and "the fastest gated pair" in resolved.reason
    int8 = quantize_onnx(onnx_model, tmp_path / "int8.onnx")
    resolved = resolve_model(int8)
    assert resolved.backend == "onnxruntime" and "ONNX Runtime's int8 graph" in resolved.reason
    with pytest.raises(UserError, match="ONNX Runtime's int8 graph, which OpenVINO runs slower"):
        resolve_model(int8, "openvino")
    with pytest.raises(UserError, match="does not run on NVIDIA GPUs"):
        load_predictor(onnx_model, "openvino", device="cuda")
    with pytest.raises(UserError, match="only the openvino backend runs"):
        resolve_model(onnx_model, "onnxruntime", device="gpu")


def test_without_openvino_auto_takes_onnx_runtime_and_openvino_says_how(
        onnx_model: Path) -> None:
    """A Python where `import openvino` fails, as on a machine without the extra."""
    script = f"""
import importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("openvino", "nncf"):
            raise ModuleNotFoundError(f"No module named {{name!r}}")
sys.meta_path.insert(0, Absent())
from uncertainty_seg_node.cpu_info import CpuInfo
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.inference import load_predictor
from uncertainty_seg_node.inference.resolve import choose_backend
from pathlib import Path
from uncertainty_seg_node.model.artifact import model_file
print(choose_backend(model_file(Path({str(onnx_model)!r})), "cpu"))
print(load_predictor({str(onnx_model)!r}).backend_name)
try:
    load_predictor({str(onnx_model)!r}, "openvino")
except UserError as exc:
    print(exc)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "OpenVINO, the faster CPU runtime, is not installed" in lines[0]
    assert lines[1] == "onnxruntime"
    assert "needs the `openvino` package" in lines[2]
    assert "pip install 'uncertainty_seg_node[openvino]'" in lines[2]


def test_gpu_device_is_openvinos_gpu(onnx_model: Path) -> None:
    assert runtime.openvino_device("gpu") == "GPU"
    assert runtime.openvino_device("gpu:1") == "GPU.1"
    if "GPU" in runtime.available_devices(runtime.open_core()):
        pytest.skip("this machine has an Intel GPU: the no-GPU error cannot be shown")
    with pytest.raises(UserError, match="OpenVINO sees no GPU device"):
        load_predictor(onnx_model, "openvino", device="gpu")


def test_the_threads_signal_stack_survives_openvino(onnx_model: Path, cache: Path) -> None:
    """OpenVINO's CPU plugin swaps in a signal stack it later unmaps; ours is given back.

    Without that, a Ctrl-C after the model is freed ran Python's handler on unmapped memory and
    crashed the process (a later test's torch forward, in the suite).
    """
    import ctypes
    import gc
    import os
    import signal
    import time

    sigaltstack = ctypes.CDLL(None).sigaltstack

    def current() -> tuple[int, int]:
        stack = runtime._SignalStack()
        assert sigaltstack(None, ctypes.byref(stack)) == 0
        return int(stack.ss_sp or 0), int(stack.ss_size)

    before = current()
    predictor = load_predictor(onnx_model, "openvino", precision="fp32")
    predictor.predict(camera_image())
    del predictor
    gc.collect()
    assert current() == before
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)  # the handler raises first
    finally:
        signal.signal(signal.SIGINT, previous)


def test_auto_serves_the_fastest_gated_pair_measured_here(onnx_model: Path, cache: Path,
                                                         tmp_path: Path) -> None:
    """ONNX Runtime int8 is a candidate too: `auto` never serves a slower gated pair."""
    from uncertainty_seg_node.inference import fastest

    int8 = quantize_onnx(onnx_model, tmp_path / "model.int8.onnx")
    resolved = resolve_model(onnx_model)
    resolved = type(resolved)(**{**resolved.__dict__, "int8": model_file(int8)})
    assert fastest.candidates(resolved) == [
        ("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("openvino", "int8"),
        ("openvino", "bf16"), ("openvino", "fp32")]
    predictor = fastest.fastest_predictor(resolved, threads=1)
    record = fastest.record_path(fastest.measured_under(resolved, 1))
    kept = json.loads(record.read_text())
    timings = kept["network_ms_median"]
    assert {"onnxruntime:fp32", "onnxruntime:int8", "openvino:fp32"} <= set(timings)
    assert kept["winner"] == min(timings, key=timings.__getitem__)
    assert f"{predictor.backend_name}:{predictor.precision}" == kept["winner"]
    for label in timings:  # every timing is in the start-up line
        assert f"{label} {timings[label]:.1f} ms" in predictor.selection
    for label in kept["refused"]:
        assert label.startswith("openvino:") and f"{label} refused" in predictor.selection
    again = fastest.fastest_predictor(resolved, threads=1)  # the winner alone, from the record
    assert f"{again.backend_name}:{again.precision}" == kept["winner"]
    assert "measured before" in again.selection
    only_int8 = type(resolved)(**{**resolved.__dict__, "precision": "int8"})
    assert fastest.candidates(only_int8) == [("onnxruntime", "int8"), ("openvino", "int8")]
    served = load_predictor(onnx_model)  # the whole walk: resolve, then measure
    assert "backend auto: the fastest gated pair" in served.selection
    with pytest.raises(UserError, match="precision fp16 runs in neither CPU runtime"):
        load_predictor(onnx_model, precision="fp16")
