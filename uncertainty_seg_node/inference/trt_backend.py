"""TensorRT backend: a serialised engine (`.engine` / `.plan`), or one built from an ONNX file.

Before deserialising, the engine's sidecar key is compared with this machine's (GPU model,
compute capability, TensorRT version, input shape, ONNX hash): a mismatch rebuilds the engine
from its ONNX source when that is available and allowed, and otherwise refuses with the reason.
CUDA buffers come from NVIDIA's cuda-python, or from torch where only torch is installed
(`inference/cuda_runtime.py`; TensorRT only needs their addresses and the stream), so serving
needs no torch. Everything runs on the device asked for (`cuda:N`): TensorRT uses the calling
thread's current CUDA device, so loading and every inference enter that device first. Device
buffers are kept between frames and grow only when a shape needs more. Logits are copied to the
host only when asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.config import ModelConfig
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.tensorrt_build import (
    EngineKey,
    build_engine,
    current_engine_key,
    engine_path_for,
    import_tensorrt,
    key_mismatches,
)
from uncertainty_seg_node.inference.cuda_runtime import gpu_identity, open_cuda_runtime
from uncertainty_seg_node.inference.pipeline import (
    NetworkOutputs,
    PipelinePredictor,
    check_fixed_score,
    wanted_outputs,
)
from uncertainty_seg_node.model.artifact import INPUT_NAME, OUTPUT_LOGITS, ExportInfo, read_sidecar
from uncertainty_seg_node.runtime import parse_device


def build_engine_on(onnx_path: str | Path, engine_path: str | Path | None = None, *,
                    precision: str = "fp16", max_batch: int = 1,
                    device_index: int = 0) -> tuple[Path, EngineKey]:
    """`export.tensorrt_build.build_engine` on cuda:`device_index`, made current first."""
    runtime = open_cuda_runtime(device_index)
    try:
        runtime.use_device()  # TensorRT builds on the calling thread's current CUDA device
        gpu = runtime.identity()
    finally:
        runtime.close()
    return build_engine(onnx_path, engine_path, precision=precision, max_batch=max_batch,
                        gpu=gpu, device_index=device_index)


def check_engine_key(engine_path: Path, stored: dict[str, Any], current: EngineKey) -> None:
    """Refuse (UserError with every reason) an engine whose key differs from this machine's."""
    try:
        built_for = EngineKey.from_dict(stored["key"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(
            f"engine {engine_path} has no valid cache key ({exc}); rebuild it"
        ) from None
    reasons = key_mismatches(built_for, current)
    if reasons:
        raise UserError(
            f"engine {engine_path} was built for another machine or model and is not loaded: "
            + "; ".join(reasons)
            + ". Rebuild it here: `uncertainty-seg export --checkpoint CKPT --onnx M.onnx "
            "--tensorrt OUT.engine`, or load the .onnx with --backend tensorrt (builds and caches)"
        )


class TensorRTPredictor(PipelinePredictor):
    """A TensorRT engine behind the inference interface (CUDA only)."""

    backend_name = "tensorrt"

    def __init__(self, path: str | Path, *, device: str = "cuda", score_method: str | None = None,
                 rebuild: bool = True, precision: str = "fp16") -> None:
        path = Path(path)  # checked by `load_predictor`
        if not str(device).startswith("cuda"):
            raise UserError(f"the TensorRT backend runs on CUDA only, not on {device!r}")
        self.device_index = parse_device(device)[1]
        self.execution_providers = ["TensorRT"]
        self.device_in_use = f"cuda:{self.device_index}"
        trt = import_tensorrt()
        if path.suffix == ".onnx":
            self.engine_path = self._cached_engine(path, precision)
            self.config, self.export_info, _ = read_sidecar(self.engine_path)
        else:
            self.engine_path = path
            self.config, self.export_info = self._check_or_rebuild(rebuild)
        self.source = str(self.engine_path)
        check_fixed_score(self.engine_path, self.export_info.score_method, score_method)
        self._load(trt)

    def _cached_engine(self, onnx_path: Path, precision: str) -> Path:
        key = current_engine_key(onnx_path, gpu=gpu_identity(self.device_index),
                                 precision=precision)
        engine_path = engine_path_for(onnx_path, key)
        if not engine_path.is_file():
            build_engine_on(onnx_path, engine_path, precision=precision,
                            device_index=self.device_index)
        return engine_path

    def _check_or_rebuild(self, rebuild: bool) -> tuple[ModelConfig, ExportInfo]:
        """The engine's config and export info, after rebuilding it if its key is stale."""
        config, info, cache = read_sidecar(self.engine_path)
        stored = EngineKey.from_dict(cache["key"])
        onnx_source = Path(cache.get("onnx", ""))
        gpu = gpu_identity(self.device_index)
        if onnx_source.is_file():
            current = current_engine_key(onnx_source, gpu=gpu, precision=stored.precision,
                                         max_batch=stored.input_shape[0])
        else:  # without the ONNX file only the machine part of the key can be checked
            trt = import_tensorrt()
            name, capability = gpu
            current = EngineKey(name, capability, str(trt.__version__), stored.input_shape,
                                stored.onnx_sha256, stored.precision)
        if not key_mismatches(stored, current):
            return config, info
        if rebuild and onnx_source.is_file():
            build_engine_on(onnx_source, self.engine_path, precision=stored.precision,
                            max_batch=stored.input_shape[0], device_index=self.device_index)
            return read_sidecar(self.engine_path)[:2]  # the rebuilt engine's own record
        check_engine_key(self.engine_path, cache, current)
        return config, info

    def _load(self, trt: Any) -> None:
        self._cuda = open_cuda_runtime(self.device_index)
        self._cuda.use_device()
        logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(logger)
        self._engine = self._runtime.deserialize_cuda_engine(self.engine_path.read_bytes())
        if self._engine is None:
            raise UserError(f"TensorRT could not deserialise {self.engine_path}; rebuild it")
        self._context = self._engine.create_execution_context()
        self._names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        self._dtypes = {name: _numpy_dtype(trt, self._engine.get_tensor_dtype(name))
                        for name in self._names}
        self.has_logits = OUTPUT_LOGITS in self._names
        self.cuda_buffers = self._cuda.name  # "cuda-python" or "torch"

    def run_network(self, batch: np.ndarray, *, with_logits: bool = False) -> NetworkOutputs:
        wanted = wanted_outputs(self.engine_path, self.has_logits, with_logits)
        cuda = self._cuda
        cuda.use_device()  # TensorRT runs on the calling thread's current device
        image = np.ascontiguousarray(batch, dtype=self._dtypes[INPUT_NAME])
        address = cuda.device_buffer(INPUT_NAME, image.nbytes)
        cuda.to_device(address, image)
        self._context.set_input_shape(INPUT_NAME, tuple(image.shape))
        self._context.set_tensor_address(INPUT_NAME, address)
        hosts: dict[str, tuple[np.ndarray, int]] = {}
        for name in self._names:
            if name == INPUT_NAME:
                continue
            shape = tuple(int(d) for d in self._context.get_tensor_shape(name))
            host = np.empty(shape, dtype=self._dtypes[name])
            out_address = cuda.device_buffer(name, host.nbytes)
            self._context.set_tensor_address(name, out_address)
            hosts[name] = (host, out_address)
        if not self._context.execute_async_v3(cuda.stream_handle()):
            raise UserError(f"TensorRT execution of {self.engine_path} failed")
        for name in wanted:  # logits stay on the device unless asked for
            host, out_address = hosts[name]
            cuda.to_host(host, out_address)
        cuda.synchronize()
        return NetworkOutputs.from_arrays([hosts[name][0] for name in wanted])


def _numpy_dtype(trt: Any, dtype: Any) -> Any:
    table = {
        trt.float32: np.float32, trt.float16: np.float16, trt.int32: np.int32,
        trt.int8: np.int8, trt.bool: np.bool_, trt.uint8: np.uint8, trt.int64: np.int64,
    }
    if dtype not in table:
        raise UserError(f"unsupported TensorRT tensor type {dtype}")
    return table[dtype]
