"""A model path -> the backend that runs it and the file that backend opens, decided once.

The path is found (package share directory, then the working directory), checked, typed by its
suffix and, for ONNX, its metadata read: one `ModelFile`. `backend='auto'` is then decided from
the kind, the device and what is installed (on a CPU with OpenVINO installed: `fastest`, the
fastest gated pair measured by `inference/fastest.py`); last, the file the backend opens is
made: a delta file is assembled (the fp32 graph for OpenVINO and TensorRT, which set their own
precision; the packed precision for ONNX Runtime), and the torch backend of an exported model
finds the file it was exported from. `load_predictor` hands the result to the backend; nothing
downstream reads the file's kind or metadata again.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.delta_header import read_delta_header
from uncertainty_seg_node.model.artifact import (
    ModelFile,
    find_checkpoint_for,
    model_file,
    resolve_model_path,
)
from uncertainty_seg_node.runtime import normalize_backend, normalize_precision, parse_device

OPENVINO_HINT = "pip install 'uncertainty_seg_node[openvino]'"
_NAMES = {"onnxruntime": "ONNX Runtime", "openvino": "OpenVINO", "tensorrt": "TensorRT"}


@dataclass(frozen=True)
class ResolvedModel:
    """What a backend is handed."""

    backend: str  # torch | onnxruntime | openvino | tensorrt | fastest (of the CPU runtimes)
    file: ModelFile  # the file it opens (fastest: the fp32 graph)
    given: ModelFile  # the model file named
    precision: str  # as asked ('auto': the backend's choice); ONNX Runtime's is settled here
    reason: str  # why this backend, for the node's start-up log
    int8: ModelFile | None = None  # fastest: ONNX Runtime's int8 graph of the model, if any

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def kind(self) -> str:
        return self.file.kind


def resolve_model(path: str | Path | ModelFile, backend: str = "auto", device: str = "cpu",
                  precision: str = "auto") -> ResolvedModel:
    """Decide the backend and make the file it opens (a delta file is assembled here, once)."""
    backend, precision = normalize_backend(backend), normalize_precision(precision)
    given = path if isinstance(path, ModelFile) else model_file(resolve_model_path(path))
    kind = given.kind
    device_kind = parse_device(device)[0]
    reason = f"backend {backend} (asked for)"
    if backend == "auto":
        backend, reason = choose_backend(given, device_kind)
    if backend == "fastest":
        return _fastest(given, precision, reason)
    if device_kind == "gpu" and backend != "openvino":
        raise UserError(f"device {device!r} is an Intel GPU, which only the openvino backend "
                        f"runs; for an NVIDIA GPU use cuda")
    if backend == "torch":
        return ResolvedModel(backend, _torch_file(given), given, precision, reason)
    if kind == "checkpoint":
        files = "an .onnx or engine file" if backend == "tensorrt" else "an .onnx file"
        raise UserError(f"{_NAMES[backend]} needs {files}, not {given.path}; make one with "
                        "`uncertainty-seg export --checkpoint CKPT --onnx OUT.onnx`")
    if backend == "onnxruntime":
        return ResolvedModel(backend, _ort_file(given, precision), given, precision, reason)
    if kind == "engine" and backend != "tensorrt":
        raise UserError(f"{given.path} is a TensorRT engine; run it with the tensorrt backend")
    opened = given
    if kind == "delta":
        from uncertainty_seg_node.export.assemble import assemble_onnx

        opened = model_file(assemble_onnx(given.path, fp32=True))
    if backend == "openvino" and opened.quantized:
        raise UserError(f"{given.path} is ONNX Runtime's int8 graph, which OpenVINO runs slower "
                        "than fp32; give OpenVINO the fp32 model (it quantises with NNCF: "
                        "precision int8), or run this file with the onnxruntime backend")
    return ResolvedModel(backend, opened, given, precision, reason)


def _fastest(given: ModelFile, precision: str, reason: str) -> ResolvedModel:
    """The fp32 graph both CPU runtimes open, and ONNX Runtime's int8 graph where there is one."""
    if given.kind == "onnx":
        return ResolvedModel("fastest", given, given, precision, reason)
    from uncertainty_seg_node.export.assemble import assemble_onnx

    fp32 = model_file(assemble_onnx(given.path, fp32=True))
    packed = read_delta_header(given.path).quantize
    int8 = model_file(assemble_onnx(given.path)) if packed == "int8" else None
    return ResolvedModel("fastest", fp32, given, precision, reason, int8)


def choose_backend(given: ModelFile, device_kind: str) -> tuple[str, str]:
    """`backend='auto'`: (backend, why) from the file's kind, the device and what is installed.

    A checkpoint runs in PyTorch and an engine in TensorRT. Otherwise, on CUDA: TensorRT when
    installed, else ONNX Runtime's CUDA provider; on an Intel GPU: OpenVINO; on the CPU with
    OpenVINO installed: `fastest`, the fastest (backend, precision) pair that passes its gate,
    measured on this machine (an ONNX Runtime int8 graph stays in ONNX Runtime); else ONNX
    Runtime.
    """
    kind = given.kind
    if kind == "checkpoint":
        return "torch", "backend auto: torch (a PyTorch checkpoint)"
    if kind == "engine":
        return "tensorrt", "backend auto: tensorrt (a TensorRT engine)"
    if device_kind == "gpu":
        return "openvino", "backend auto: openvino (device gpu is an Intel GPU)"
    if device_kind == "cuda":
        if _installed("tensorrt"):
            return "tensorrt", "backend auto: tensorrt (installed; a CUDA device was asked for)"
        return "onnxruntime", ("backend auto: onnxruntime on CUDA (TensorRT is not installed: "
                               "pip install tensorrt)")
    gpu_note = ("; TensorRT is installed: set device cuda to run it on the GPU"
                if _installed("tensorrt") else "")
    if not _installed("openvino"):
        return "onnxruntime", (f"backend auto: onnxruntime (OpenVINO, the faster CPU runtime, is "
                               f"not installed: {OPENVINO_HINT}){gpu_note}")
    if given.quantized:
        return "onnxruntime", ("backend auto: onnxruntime (the file is ONNX Runtime's int8 "
                               f"graph; give the fp32 model to use OpenVINO){gpu_note}")
    return "fastest", ("backend auto: the fastest gated pair of ONNX Runtime and OpenVINO on "
                       f"this CPU{gpu_note}")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken install counts as none
        return False


def _torch_file(given: ModelFile) -> ModelFile:
    """The checkpoint or delta file PyTorch builds the network from."""
    if given.kind in ("checkpoint", "delta"):
        return given
    source = find_checkpoint_for(given) if given.kind == "onnx" else None
    if source is None:
        raise UserError(f"the torch backend needs a checkpoint, not {given.path}; pass the .pt "
                        "file the model was exported from")
    return model_file(source)


def _ort_file(given: ModelFile, precision: str) -> ModelFile:
    """The ONNX file ONNX Runtime runs at `precision` (fp32, int8, or auto: as packed)."""
    kind = given.kind
    if kind == "engine":
        raise UserError(f"{given.path} is a TensorRT engine; run it with the tensorrt backend")
    if precision not in ("auto", "fp32", "int8"):
        raise UserError(f"ONNX Runtime runs fp32 or int8 graphs, not {precision}; use the "
                        "openvino backend for bf16 on a CPU")
    if kind == "delta":
        from uncertainty_seg_node.export.assemble import assemble_onnx

        name = given.path.name
        packed = read_delta_header(given.path).quantize
        if precision == "int8" and packed != "int8":
            raise UserError(f"{name} was packed without int8; make an int8 model with "
                            f"`uncertainty-seg quantize --model {name} --out M.onnx` (it "
                            "checks whether int8 may ship)")
        return model_file(assemble_onnx(given.path, fp32=precision == "fp32"))
    if precision != "auto" and (precision == "int8") != given.quantized:
        have = "int8" if precision == "fp32" else "fp32"
        raise UserError(f"{given.path} is an {have} graph, not {precision}; pass the {precision} "
                        "file (`uncertainty-seg quantize` makes an int8 one) or precision auto")
    return given
