"""A model path -> the backend that runs it and the file that backend opens, decided once.

The path is found (package share directory, then the working directory), checked, and typed by
its suffix; `backend='auto'` is then decided from the kind, the device and what is installed;
last, the file the backend opens is made: a delta file is assembled (the fp32 graph for
OpenVINO and TensorRT, which set their own precision; the packed precision for ONNX Runtime),
and the torch backend of an exported model finds the file it was exported from. `load_predictor`
hands the result to the backend; nothing downstream looks at the path's kind again.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.delta_header import read_delta_header
from uncertainty_seg_node.model.artifact import (
    QUANTIZED_KEY,
    check_model_file,
    find_checkpoint_for,
    model_kind,
    read_onnx_props,
    resolve_model_path,
)
from uncertainty_seg_node.runtime import normalize_backend, normalize_precision, parse_device

OPENVINO_HINT = "pip install 'uncertainty_seg_node[openvino]'"
_NAMES = {"onnxruntime": "ONNX Runtime", "openvino": "OpenVINO", "tensorrt": "TensorRT"}


@dataclass(frozen=True)
class ResolvedModel:
    """What a backend is handed."""

    backend: str  # torch | onnxruntime | openvino | tensorrt
    path: Path  # the file it opens
    kind: str  # that file's kind: checkpoint | delta (torch only) | onnx | engine
    given: Path  # the model file named
    precision: str  # as asked ('auto': the backend's choice); ONNX Runtime's is settled here
    reason: str  # why this backend, for the node's start-up log


def resolve_model(path: str | Path, backend: str = "auto", device: str = "cpu",
                  precision: str = "auto") -> ResolvedModel:
    """Decide the backend and make the file it opens (a delta file is assembled here, once)."""
    backend, precision = normalize_backend(backend), normalize_precision(precision)
    given = resolve_model_path(path)
    kind = model_kind(given)
    check_model_file(given)
    device_kind = parse_device(device)[0]
    reason = f"backend {backend} (asked for)"
    if backend == "auto":
        backend, reason = choose_backend(given, kind, device_kind)
    if device_kind == "gpu" and backend != "openvino":
        raise UserError(f"device {device!r} is an Intel GPU, which only the openvino backend "
                        f"runs; for an NVIDIA GPU use cuda")
    if backend == "torch":
        return ResolvedModel(backend, *_torch_file(given, kind), given, precision, reason)
    if kind == "checkpoint":
        files = "an .onnx or engine file" if backend == "tensorrt" else "an .onnx file"
        raise UserError(f"{_NAMES[backend]} needs {files}, not {given}; make one with "
                        "`uncertainty-seg export --checkpoint CKPT --onnx OUT.onnx`")
    if backend == "onnxruntime":
        return ResolvedModel(backend, _ort_file(given, kind, precision), "onnx", given,
                             precision, reason)
    if kind == "engine" and backend != "tensorrt":
        raise UserError(f"{given} is a TensorRT engine; run it with the tensorrt backend")
    path_out, kind_out = given, kind
    if kind == "delta":
        from uncertainty_seg_node.export.assemble import assemble_onnx

        path_out, kind_out = assemble_onnx(given, fp32=True), "onnx"
    if backend == "openvino" and is_quantized_graph(path_out):
        raise UserError(f"{given} is ONNX Runtime's int8 graph, which OpenVINO runs slower than "
                        "fp32; give OpenVINO the fp32 model (it quantises with NNCF: precision "
                        "int8), or run this file with the onnxruntime backend")
    return ResolvedModel(backend, path_out, kind_out, given, precision, reason)


def choose_backend(given: Path, kind: str, device_kind: str) -> tuple[str, str]:
    """`backend='auto'`: (backend, why) from the file's kind, the device and what is installed.

    A checkpoint runs in PyTorch and an engine in TensorRT. Otherwise, on CUDA: TensorRT when
    installed, else ONNX Runtime's CUDA provider; on an Intel GPU: OpenVINO; on the CPU:
    OpenVINO when installed (an ONNX Runtime int8 graph stays in ONNX Runtime), else ONNX
    Runtime.
    """
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
    if kind == "onnx" and is_quantized_graph(given):
        return "onnxruntime", ("backend auto: onnxruntime (the file is ONNX Runtime's int8 "
                               f"graph; give the fp32 model to use OpenVINO){gpu_note}")
    return "openvino", f"backend auto: openvino (installed; the CPU runtime first tried){gpu_note}"


def is_quantized_graph(onnx_path: Path) -> bool:
    """Whether an ONNX file is ONNX Runtime's dynamic int8 graph (`uncertainty-seg quantize`)."""
    return QUANTIZED_KEY in read_onnx_props(onnx_path)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken install counts as none
        return False


def _torch_file(given: Path, kind: str) -> tuple[Path, str]:
    """The checkpoint or delta file PyTorch builds the network from."""
    if kind in ("checkpoint", "delta"):
        return given, kind
    source = find_checkpoint_for(given) if kind == "onnx" else None
    if source is None:
        raise UserError(f"the torch backend needs a checkpoint, not {given}; pass the .pt file "
                        "the model was exported from")
    return source, model_kind(source)


def _ort_file(given: Path, kind: str, precision: str) -> Path:
    """The ONNX file ONNX Runtime runs at `precision` (fp32, int8, or auto: as packed)."""
    if kind == "engine":
        raise UserError(f"{given} is a TensorRT engine; run it with the tensorrt backend")
    if precision not in ("auto", "fp32", "int8"):
        raise UserError(f"ONNX Runtime runs fp32 or int8 graphs, not {precision}; use the "
                        "openvino backend for bf16 on a CPU")
    if kind == "delta":
        from uncertainty_seg_node.export.assemble import assemble_onnx

        packed = read_delta_header(given).quantize
        if precision == "int8" and packed != "int8":
            raise UserError(f"{given.name} was packed without int8; make an int8 model with "
                            f"`uncertainty-seg quantize --model {given.name} --out M.onnx` (it "
                            "checks whether int8 may ship)")
        return assemble_onnx(given, fp32=precision == "fp32")
    if precision != "auto" and (precision == "int8") != is_quantized_graph(given):
        have = "int8" if precision == "fp32" else "fp32"
        raise UserError(f"{given} is an {have} graph, not {precision}; pass the {precision} "
                        "file (`uncertainty-seg quantize` makes an int8 one) or precision auto")
    return given
