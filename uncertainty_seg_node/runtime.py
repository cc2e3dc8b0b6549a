"""Where a model runs: the inference backend names and the device strings.

Kept free of heavy imports so the CLI and the node's parameter table can list the choices.
"""

from __future__ import annotations

import re

from uncertainty_seg_node.errors import UserError

BACKENDS = ("auto", "onnxruntime", "torch", "tensorrt")
_ALIASES = {"ort": "onnxruntime", "onnx": "onnxruntime", "trt": "tensorrt", "pytorch": "torch"}
_DEVICE = re.compile(r"^(cpu|cuda)(?::(\d+))?$")


def normalize_backend(name: str) -> str:
    """Canonical backend name ('ort' -> 'onnxruntime', ...); UserError for unknown names."""
    canonical = _ALIASES.get(name.lower(), name.lower())
    if canonical not in BACKENDS:
        raise UserError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return canonical


def parse_device(device: str) -> tuple[str, int]:
    """'cpu' -> ('cpu', 0); 'cuda' -> ('cuda', 0); 'cuda:N' -> ('cuda', N); else UserError."""
    match = _DEVICE.match(str(device))
    if match is None or (match.group(1) == "cpu" and match.group(2) is not None):
        raise UserError(f"unknown device {device!r}; use cpu, cuda or cuda:N")
    return match.group(1), int(match.group(2) or 0)
