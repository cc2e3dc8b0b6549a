"""Where a model runs: the inference backend names, the device strings and the precisions.

Kept free of heavy imports so the CLI and the node's parameter table can list the choices.
"""

from __future__ import annotations

import re

from uncertainty_seg_node.errors import UserError

BACKENDS = ("auto", "onnxruntime", "openvino", "torch", "tensorrt")
_ALIASES = {"ort": "onnxruntime", "onnx": "onnxruntime", "trt": "tensorrt", "pytorch": "torch",
            "ov": "openvino"}
# cpu; cuda[:N] (NVIDIA, torch / ONNX Runtime / TensorRT); gpu[:N] (an Intel GPU, OpenVINO's GPU)
DEVICE_KINDS = ("cpu", "cuda", "gpu")
_DEVICE = re.compile(r"^(cpu|cuda|gpu)(?::(\d+))?$")
# "auto": the backend's own choice (the file as it is, or the fastest precision that passes the
# shipping gate); OpenVINO's name for fp32 is accepted too.
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
_PRECISION_ALIASES = {"f32": "fp32", "f16": "fp16", "float32": "fp32", "i8": "int8"}


def normalize_backend(name: str) -> str:
    """Canonical backend name ('ort' -> 'onnxruntime', ...); UserError for unknown names."""
    canonical = _ALIASES.get(name.lower(), name.lower())
    if canonical not in BACKENDS:
        raise UserError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return canonical


def normalize_precision(name: str) -> str:
    """Canonical precision name ('f32' -> 'fp32', ...); UserError for unknown names."""
    canonical = _PRECISION_ALIASES.get(name.lower(), name.lower())
    if canonical not in PRECISIONS:
        raise UserError(f"unknown precision {name!r}; choose one of {', '.join(PRECISIONS)}")
    return canonical


def parse_device(device: str) -> tuple[str, int]:
    """'cpu' -> ('cpu', 0); 'cuda' -> ('cuda', 0); 'cuda:N' / 'gpu:N' -> (kind, N); else UserError.

    `gpu` is an Intel GPU run by OpenVINO (its device `GPU.N`); `cuda` an NVIDIA GPU.
    """
    match = _DEVICE.match(str(device))
    if match is None or (match.group(1) == "cpu" and match.group(2) is not None):
        raise UserError(f"unknown device {device!r}; use cpu, cuda or cuda:N (NVIDIA), or gpu "
                        "or gpu:N (an Intel GPU through OpenVINO)")
    return match.group(1), int(match.group(2) or 0)
