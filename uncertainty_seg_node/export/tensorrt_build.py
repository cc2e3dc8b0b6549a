"""ONNX -> TensorRT engine, fp16 with the numerically fragile layers kept in fp32.

ViTs lose accuracy in fp16 LayerNorm and softmax, so those layers (and the in-graph
post-processing: confidence and argmax) stay fp32. Networks are strongly typed (TensorRT 10.12
deprecates the weak-typing flags `BuilderFlag.FP16` / precision constraints, 11 removes them):
the precision is in the ONNX graph, which `export.fp16_onnx` converts to mixed fp16 first.
The build runs on the current CUDA device and logs its progress (phases, with timing).

An engine only runs on the GPU model and TensorRT version it was built with. Its cache key
(GPU name, compute capability, TensorRT version, input shape, ONNX hash, precision) is stored in
the sidecar JSON beside it; a loader compares it with the machine it runs on and rebuilds or
refuses with the reason, so a stale engine is never loaded.

TensorRT is imported lazily: nothing here needs it until an engine is actually built or run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.fp16_onnx import write_mixed_fp16
from uncertainty_seg_node.model.artifact import (
    INPUT_NAME,
    file_sha256,
    read_onnx_metadata,
    write_sidecar,
)
from uncertainty_seg_node.optional_deps import import_or_explain

INSTALL_HINT = (
    "install TensorRT >= 10 for your CUDA version (`pip install tensorrt` on x86_64 with an "
    "NVIDIA driver; JetPack already ships it on Jetson), or use the onnxruntime backend"
)
LOG = logging.getLogger(__name__)
PRECISIONS = ("fp16", "fp32")


def import_tensorrt() -> Any:
    """`import tensorrt`, or a UserError that says how to install it."""
    return import_or_explain("tensorrt", "the TensorRT backend", INSTALL_HINT)


@dataclass(frozen=True)
class EngineKey:
    """Everything an engine depends on; any difference means the engine must be rebuilt."""

    gpu_name: str
    compute_capability: str
    tensorrt_version: str
    input_shape: tuple[int, int, int, int]  # (max batch, H, W, 3)
    onnx_sha256: str
    precision: str = "fp16"

    def digest(self) -> str:
        """Stable hex digest of the key (the short form names cached engine files)."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "input_shape": list(self.input_shape), "digest": self.digest()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineKey:
        fields = {k: v for k, v in data.items() if k != "digest"}
        fields["input_shape"] = tuple(int(v) for v in fields["input_shape"])
        return cls(**fields)


_FIELD_NAMES = {
    "gpu_name": "GPU",
    "compute_capability": "compute capability",
    "tensorrt_version": "TensorRT version",
    "input_shape": "input shape",
    "onnx_sha256": "ONNX file hash",
    "precision": "precision",
}


def key_mismatches(stored: EngineKey, current: EngineKey) -> list[str]:
    """Human-readable differences between the key an engine was built for and this machine's."""
    reasons = []
    for name, label in _FIELD_NAMES.items():
        built, here = getattr(stored, name), getattr(current, name)
        if built != here:
            reasons.append(f"{label}: engine built for {built!r}, this machine has {here!r}")
    return reasons


def engine_path_for(onnx_path: str | Path, key: EngineKey) -> Path:
    """The cache file of an engine built from `onnx_path` under `key`, beside the ONNX file."""
    onnx_path = Path(onnx_path)
    return onnx_path.with_name(f"{onnx_path.stem}.{key.digest()[:12]}.engine")


def current_engine_key(
    onnx_path: str | Path, *, gpu: tuple[str, str], precision: str = "fp16", max_batch: int = 1
) -> EngineKey:
    """The key an engine built from `onnx_path` for `gpu` (name, compute capability) would have.

    The GPU's identity comes from the CUDA runtime (`inference/cuda_runtime.py: gpu_identity`).
    """
    trt = import_tensorrt()
    name, capability = gpu
    _, info = read_onnx_metadata(onnx_path)
    height, width = info.input_size
    return EngineKey(
        gpu_name=name, compute_capability=capability, tensorrt_version=str(trt.__version__),
        input_shape=(int(max_batch), int(height), int(width), 3),
        onnx_sha256=file_sha256(onnx_path), precision=precision,
    )


def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path | None = None,
    *,
    precision: str = "fp16",
    max_batch: int = 1,
    workspace_gib: float = 4.0,
    gpu: tuple[str, str],
    device_index: int = 0,
) -> tuple[Path, EngineKey]:
    """Build and serialise an engine from an exported ONNX file; write its sidecar JSON.

    TensorRT builds on the calling thread's current CUDA device: the caller makes cuda:N
    (`device_index`, whose name and compute capability are `gpu`) current first, as
    `inference/trt_backend.py: build_engine_on` does. Returns the engine path (default: the
    cache name beside the ONNX file) and its key.
    """
    if precision not in PRECISIONS:
        raise UserError(f"TensorRT precision {precision!r} must be one of {PRECISIONS}")
    trt = import_tensorrt()
    onnx_path = Path(onnx_path)
    config, info = read_onnx_metadata(onnx_path)
    key = current_engine_key(onnx_path, gpu=gpu, precision=precision, max_batch=max_batch)
    engine_path = Path(engine_path) if engine_path else engine_path_for(onnx_path, key)
    with tempfile.TemporaryDirectory(prefix="uncertainty_seg_trt_") as scratch:
        source = onnx_path
        if precision == "fp16":
            source = write_mixed_fp16(onnx_path, Path(scratch) / f"{onnx_path.stem}.fp16.onnx")
        serialized = _build_serialized(trt, source, info.input_size, max_batch, workspace_gib,
                                       f"{onnx_path.name} ({precision}, cuda:{device_index})")
    atomic_write(engine_path, serialized)
    info.parity = {}
    write_sidecar(engine_path, config, info,
                  {"key": key.to_dict(), "onnx": str(onnx_path.resolve())})
    return engine_path, key


def _build_serialized(trt: Any, source: Path, input_size: tuple[int, int], max_batch: int,
                      workspace_gib: float, what: str) -> bytes:
    """Parse `source` into a strongly typed network and build it; log lines with timing."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(source.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise UserError(f"TensorRT cannot parse {source.name}: {errors}. If it rejects the uint8 "
                        "class ids, re-export with `--ids-dtype int32`")
    builder_config = builder.create_builder_config()
    builder_config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE,
                                         int(workspace_gib * (1 << 30)))
    monitor = progress_monitor(trt)
    if monitor is not None:
        builder_config.progress_monitor = monitor
    height, width = input_size
    profile = builder.create_optimization_profile()
    profile.set_shape(INPUT_NAME, (1, height, width, 3), (1, height, width, 3),
                      (max_batch, height, width, 3))
    builder_config.add_optimization_profile(profile)
    LOG.warning("building a TensorRT engine for %s; this takes minutes", what)
    start = time.monotonic()
    serialized = builder.build_serialized_network(network, builder_config)
    if serialized is None:
        raise UserError(f"TensorRT failed to build an engine from {source.name} (see its log "
                        "above)")
    LOG.warning("TensorRT engine for %s built in %.0f s", what, time.monotonic() - start)
    return bytes(serialized)


def progress_monitor(trt: Any, log: logging.Logger = LOG, every_s: float = 10.0) -> Any:
    """A TensorRT IProgressMonitor that logs the build's progress; None where TensorRT lacks it.

    Each top-level phase is logged when it starts and ends (with its time); the step reached, at
    most every `every_s` seconds.
    """
    base = getattr(trt, "IProgressMonitor", None)
    if base is None:
        return None

    class _Monitor(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()  # pybind11 needs the base initialised
            self._started: dict[str, float] = {}
            self._parents: dict[str, str | None] = {}
            self._last_log = 0.0

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            self._started[phase_name] = time.monotonic()
            self._parents[phase_name] = parent_phase
            if parent_phase is None:
                log.info("TensorRT build: %s (%d steps)", phase_name, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            now = time.monotonic()
            if now - self._last_log >= every_s:
                self._last_log = now
                log.info("TensorRT build: %s, step %d", phase_name, step + 1)
            return True  # never cancel the build

        def phase_finish(self, phase_name: str) -> None:
            if self._parents.pop(phase_name, None) is None:
                took = time.monotonic() - self._started.pop(phase_name, time.monotonic())
                log.info("TensorRT build: %s done in %.1f s", phase_name, took)

    return _Monitor()
