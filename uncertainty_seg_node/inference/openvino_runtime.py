"""The OpenVINO runtime calls: a Core, device names, compiling, one inference, the signal stack.

Compiled models are cached by OpenVINO itself (`CACHE_DIR`, which checks the OpenVINO version,
the device and the compile properties): the first compile of a model writes a blob, the next
load of the same model imports it in about a second. The files compiled here are built by
`export/openvino_build.py` (a static-shape IR, and NNCF's int8 IR).
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.openvino_build import import_openvino
from uncertainty_seg_node.model.artifact import OUTPUT_CONFIDENCE, OUTPUT_IDS, OUTPUT_LOGITS
from uncertainty_seg_node.runtime import parse_device

# INFERENCE_PRECISION_HINT: int8 runs its quantised ops in int8 and the rest in f32.
_HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}


class _SignalStack(ctypes.Structure):
    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int),
                ("ss_size", ctypes.c_size_t)]


@contextlib.contextmanager
def keep_signal_stack() -> Iterator[None]:
    """Give the calling thread its alternate signal stack back after an OpenVINO call.

    OpenVINO's CPU plugin (2026.4) installs a signal stack of its own on the thread that loads
    it, and unmaps it when it is freed. Python runs its signal handlers on the alternate stack,
    so the thread's next signal (a Ctrl-C, a SIGTERM) would then write into unmapped memory and
    crash the process. Every call that may load a plugin (here, and NNCF's calibration, which
    compiles the model) is wrapped in this.
    """
    try:
        sigaltstack = ctypes.CDLL(None, use_errno=True).sigaltstack
    except (OSError, AttributeError):  # no C library with sigaltstack: nothing to keep
        yield
        return
    saved = _SignalStack()
    kept = sigaltstack(None, ctypes.byref(saved)) == 0
    try:
        yield
    finally:
        if kept:
            sigaltstack(ctypes.byref(saved), None)


def openvino_device(device: str) -> str:
    """The package's device string -> OpenVINO's: cpu -> CPU, gpu -> GPU, gpu:1 -> GPU.1."""
    kind, index = parse_device(device)
    if kind == "cuda":
        raise UserError(f"OpenVINO does not run on NVIDIA GPUs ({device!r}); use device cpu, "
                        "gpu (an Intel GPU), or the tensorrt / onnxruntime backend for CUDA")
    if kind == "cpu":
        return "CPU"
    return "GPU" if ":" not in str(device) else f"GPU.{index}"


def open_core() -> Any:
    """An OpenVINO Core with its CPU plugin loaded (see `keep_signal_stack`)."""
    ov = import_openvino()
    with keep_signal_stack():
        core = ov.Core()
        core.get_property("CPU", "FULL_DEVICE_NAME")
    return core


def available_devices(core: Any) -> list[str]:
    """The devices OpenVINO sees (this loads every plugin: see `keep_signal_stack`)."""
    with keep_signal_stack():
        return list(core.available_devices)


def full_device_name(core: Any, device: str) -> str:
    """The device's full name, or a UserError listing the devices OpenVINO sees."""
    devices = available_devices(core)
    if device.split(".")[0] not in {d.split(".")[0] for d in devices}:
        raise UserError(f"OpenVINO sees no {device} device (it has {devices}); an Intel GPU "
                        "needs its OpenCL driver (intel-opencl-icd)")
    with keep_signal_stack():
        return str(core.get_property(device, "FULL_DEVICE_NAME"))


def precision_unsupported(core: Any, device: str, precision: str) -> str:
    """Why `device` cannot run `precision` ('' when it can)."""
    with keep_signal_stack():
        capabilities = set(core.get_property(device, "OPTIMIZATION_CAPABILITIES"))
    needs = {"bf16": "BF16", "int8": "INT8"}.get(precision)
    if needs is None or needs in capabilities:
        return ""
    return (f"{device} ({full_device_name(core, device)}) has no {precision} support "
            f"(its capabilities: {', '.join(sorted(capabilities))})")


def compile_properties(precision: str, threads: int, cache: Path | None) -> dict[str, Any]:
    """Latency-first: one stream, `threads` inference threads, the precision's hint, the cache.

    The precision hint goes with every compile and cached import: without it a CPU with bf16
    runs an fp32 model in bf16.
    """
    properties: dict[str, Any] = {
        "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1, "INFERENCE_NUM_THREADS": int(threads),
        "INFERENCE_PRECISION_HINT": _HINTS[precision]}
    if cache is not None:
        properties["CACHE_DIR"] = str(cache)
    return properties


def compile_model(core: Any, model: Path, device: str, precision: str, threads: int,
                  cache: Path | None) -> Any:
    """`core.compile_model` of an IR file, through OpenVINO's compiled-model cache."""
    with keep_signal_stack():
        return core.compile_model(str(model), device,
                                  compile_properties(precision, threads, cache))


def output_ports(compiled: Any) -> dict[str, Any]:
    """The compiled model's outputs by the exported names (ids, confidence[, logits])."""
    wanted = (OUTPUT_IDS, OUTPUT_CONFIDENCE, OUTPUT_LOGITS)
    return {name: port for port in compiled.outputs for name in port.get_names()
            if name in wanted}


def infer(request: Any, ports: dict[str, Any], names: list[str], image: np.ndarray
          ) -> list[np.ndarray]:
    """One synchronous inference of a (1, H, W, 3) uint8 frame; the named outputs, copied."""
    results = request.infer({0: image})
    return [np.array(results[ports[name]]) for name in names]
