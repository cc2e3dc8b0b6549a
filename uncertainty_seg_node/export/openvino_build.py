"""ONNX -> an OpenVINO compiled model in fp32, bf16 or int8 (NNCF), built once and cached.

OpenVINO reads the exported fp32 ONNX itself. bf16 is a compile hint (the CPU needs AVX512-BF16
or AMX). int8 is NNCF's post-training quantisation, calibrated on synthetic frames of every
domain, with the transformer preset and the convolutions that read the camera's pixels kept in
fp32 (quantising those moved about 1 % of the labels of the default model).

A compiled model only runs on the OpenVINO version and the device it was compiled for, so it is
cached under a key of the ONNX hash, the OpenVINO version, the device (and its full name: a CPU
build holds code for that instruction set), the precision and, for int8, NNCF's version and the
calibration recipe. Whether a precision may ship is measured by `inference/openvino_backend.py`.

OpenVINO and NNCF are imported lazily: they are the optional `[openvino]` extra.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import importlib.metadata
import io
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.model_cache import cache_dir
from uncertainty_seg_node.model.artifact import OUTPUT_CONFIDENCE, OUTPUT_IDS, OUTPUT_LOGITS
from uncertainty_seg_node.optional_deps import import_or_explain
from uncertainty_seg_node.runtime import parse_device

INSTALL_HINT = ("install the package's extra: python3 -m pip install "
                "'uncertainty_seg_node[openvino]' (openvino and nncf), or use the onnxruntime "
                "backend")
PRECISIONS = ("fp32", "bf16", "int8")
# INFERENCE_PRECISION_HINT: int8 runs its quantised ops in int8 and the rest in f32.
_HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}
CALIBRATION_FRAMES_PER_DOMAIN = 10
CALIBRATION_SEED = 101  # not the gate's frames
RECIPE = (f"nncf-ptq/v1 transformer preset, pixel convolutions fp32, "
          f"{CALIBRATION_FRAMES_PER_DOMAIN} synthetic frames per domain, seed {CALIBRATION_SEED}")
# Ops the walk from the input passes through before the first layer with weights.
_PIXEL_OPS = {"Convert", "Multiply", "Subtract", "Add", "Divide", "Transpose", "Reshape"}
LOG = logging.getLogger(__name__)


def import_openvino() -> Any:
    """`import openvino`, or a UserError that says how to install it."""
    return import_or_explain("openvino", "the OpenVINO backend", INSTALL_HINT)


def import_nncf() -> Any:
    """`import nncf` (with its usage telemetry off), or a UserError that says how to install it."""
    # NNCF reports usage over the network unless NNCF_CI is set; a robot must not phone home.
    os.environ.setdefault("NNCF_CI", "1")
    nncf = import_or_explain("nncf", "int8 in OpenVINO", INSTALL_HINT)
    nncf.set_log_level(logging.ERROR)
    return nncf


def openvino_device(device: str) -> str:
    """The package's device string -> OpenVINO's: cpu -> CPU, gpu -> GPU, gpu:1 -> GPU.1."""
    kind, index = parse_device(device)
    if kind == "cuda":
        raise UserError(f"OpenVINO does not run on NVIDIA GPUs ({device!r}); use device cpu, "
                        "gpu (an Intel GPU), or the tensorrt / onnxruntime backend for CUDA")
    if kind == "cpu":
        return "CPU"
    return "GPU" if ":" not in str(device) else f"GPU.{index}"


@dataclass(frozen=True)
class CompiledKey:
    """Everything a compiled model depends on; any difference means a new build."""

    onnx_sha256: str
    openvino_version: str
    device: str  # OpenVINO's name: CPU, GPU, GPU.1
    device_name: str  # FULL_DEVICE_NAME
    precision: str
    recipe: str = ""  # int8: NNCF's version and the calibration recipe

    def digest(self) -> str:
        """Stable hex digest (its short form names the cached file)."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "digest": self.digest()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompiledKey:
        return cls(**{k: v for k, v in data.items() if k != "digest"})


def current_key(core: Any, onnx_sha256: str, device: str, precision: str) -> CompiledKey:
    """The key a model compiled here, now, would have."""
    if precision not in PRECISIONS:
        raise UserError(f"OpenVINO precision {precision!r} must be one of {PRECISIONS}")
    ov = import_openvino()
    recipe = ""
    if precision == "int8":
        recipe = f"nncf {_nncf_version()}; {RECIPE}"
    return CompiledKey(onnx_sha256, str(ov.get_version()), device, full_device_name(core, device),
                       precision, recipe)


def _nncf_version() -> str:
    """NNCF's version without importing it (importing it imports torch where installed)."""
    try:
        return importlib.metadata.version("nncf")
    except importlib.metadata.PackageNotFoundError:
        raise UserError(f"int8 in OpenVINO needs the `nncf` package; {INSTALL_HINT}") from None


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


def compiled_path(key: CompiledKey, root: Path | None = None) -> Path:
    """`<cache>/openvino/<key digest[:20]>.blob` (the same model under any name shares it)."""
    return (root or cache_dir()) / "openvino" / f"{key.digest()[:20]}.blob"


def compile_properties(precision: str, threads: int) -> dict[str, Any]:
    """Latency-first: one stream, `threads` inference threads, the precision's hint."""
    return {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
            "INFERENCE_NUM_THREADS": int(threads), "INFERENCE_PRECISION_HINT": _HINTS[precision]}


def read_for_device(core: Any, onnx_path: Path, input_size: tuple[int, int]) -> Any:
    """The ONNX graph as an OpenVINO model with a static (1, H, W, 3) input (one frame a call)."""
    try:
        model = core.read_model(str(onnx_path))
    except Exception as exc:  # noqa: BLE001 - OpenVINO raises its own RuntimeError types
        raise UserError(f"OpenVINO cannot read {onnx_path} ({str(exc).strip()[:200]}); "
                        "re-export it with `uncertainty-seg export`") from None
    height, width = input_size
    model.reshape({model.inputs[0]: [1, int(height), int(width), 3]})
    return model


def quantize_int8(model: Any, input_size: tuple[int, int]) -> Any:
    """NNCF post-training int8 of `model`, calibrated on synthetic frames of every domain."""
    nncf = import_nncf()
    frames = _calibration_frames(tuple(input_size))  # type: ignore[arg-type]
    LOG.warning("quantising to int8 with NNCF on %d calibration frames (once; cached)",
                len(frames))
    with keep_signal_stack():  # NNCF compiles the model to collect its statistics
        return nncf.quantize(
            model, nncf.Dataset(frames), subset_size=len(frames),
            model_type=nncf.ModelType.TRANSFORMER,
            ignored_scope=nncf.IgnoredScope(names=pixel_layers(model)))


@functools.lru_cache(maxsize=2)
def _calibration_frames(input_size: tuple[int, int]) -> list[np.ndarray]:
    from uncertainty_seg_node.synth import DOMAINS, render_frames

    return [frame.image[None] for domain in DOMAINS for frame in render_frames(
        domain, CALIBRATION_FRAMES_PER_DOMAIN, input_size, CALIBRATION_SEED)]


def pixel_layers(model: Any) -> list[str]:
    """Names of the layers with weights that read the input pixels (through casts and scaling)."""
    found: list[str] = []
    seen: set[str] = set()
    stack = list(model.get_parameters())
    while stack:
        node = stack.pop()
        for output in node.outputs():
            for target in output.get_target_inputs():
                consumer = target.get_node()
                name = consumer.get_friendly_name()
                if name in seen:
                    continue
                seen.add(name)
                if consumer.get_type_name() in ("Convolution", "MatMul"):
                    found.append(name)
                elif consumer.get_type_name() in _PIXEL_OPS:
                    stack.append(consumer)
    return sorted(found)


class _SignalStack(ctypes.Structure):
    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int),
                ("ss_size", ctypes.c_size_t)]


@contextlib.contextmanager
def keep_signal_stack() -> Iterator[None]:
    """Give the calling thread its alternate signal stack back after an OpenVINO call.

    OpenVINO's CPU plugin (2026.4) installs a signal stack of its own on the thread that loads
    it, and unmaps it when it is freed. Python runs its signal handlers on the alternate stack,
    so the thread's next signal (a Ctrl-C, a SIGTERM) would then write into unmapped memory and
    crash the process. Every call here that may load a plugin is wrapped in this.
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


def compile_model(core: Any, model: Any, device: str, precision: str, threads: int) -> Any:
    """`core.compile_model` with the precision's properties, the thread's signal stack kept."""
    with keep_signal_stack():
        return core.compile_model(model, device, compile_properties(precision, threads))


def save_compiled(compiled: Any, path: Path) -> None:
    """The compiled model's blob, written atomically."""
    blob = compiled.export_model()
    atomic_write(path, blob.getvalue() if isinstance(blob, io.BytesIO) else bytes(blob))


def load_compiled(core: Any, path: Path, device: str, precision: str, threads: int) -> Any:
    """A compiled model back from its blob, with this process's thread count.

    The precision hint goes again with it: without it a CPU with bf16 runs an fp32 blob in bf16.
    """
    with keep_signal_stack():
        return core.import_model(io.BytesIO(path.read_bytes()), device,
                                 compile_properties(precision, threads))


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
