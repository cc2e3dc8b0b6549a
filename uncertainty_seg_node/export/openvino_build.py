"""ONNX -> the OpenVINO IR files the backend compiles: a static-shape fp32 IR, NNCF's int8 IR.

OpenVINO reads the exported fp32 ONNX itself; the IR saved here fixes its input at (1, H, W, 3)
(one frame a call), once per ONNX file and size. bf16 is a compile hint on the fp32 IR (the CPU
needs AVX512-BF16 or AMX). int8 is NNCF's post-training quantisation, calibrated on synthetic
frames of every domain, with the transformer preset and the convolutions that read the camera's
pixels kept in fp32 (quantising those moved about 1 % of the labels of the default model).

NNCF's `overflow_fix` follows the CPU (`overflow_fix_for`). Without VNNI (AVX512-VNNI, AVX-VNNI
or AMX-INT8), OpenVINO's int8 kernels add pairs of 8-bit products in 16 bits, which saturates:
7-bit weights (`enable`) keep those sums in range. With VNNI the products are added in 32 bits
and the full 8 bits are kept (`disable`). The choice is part of the int8 IR's name.

Compiling and running the files is `inference/openvino_runtime.py`'s (OpenVINO's `CACHE_DIR`
keeps the compiled blobs). NNCF compiles the model to collect its statistics, which loads the
CPU plugin: callers run `build_ir` inside `openvino_runtime.keep_signal_stack`.

OpenVINO and NNCF are imported lazily: they are the optional `[openvino]` extra.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.cpu_info import CpuInfo
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.model_cache import cache_dir
from uncertainty_seg_node.optional_deps import import_or_explain

INSTALL_HINT = ("install the package's extra: python3 -m pip install "
                "'uncertainty_seg_node[openvino]' (openvino and nncf), or use the onnxruntime "
                "backend")
PRECISIONS = ("fp32", "bf16", "int8")
OVERFLOW_FIXES = ("enable", "first_layer_only", "disable")  # NNCF's OverflowFix values
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


def nncf_version() -> str:
    """NNCF's version without importing it (importing it imports torch where installed)."""
    try:
        return importlib.metadata.version("nncf")
    except importlib.metadata.PackageNotFoundError:
        raise UserError(f"int8 in OpenVINO needs the `nncf` package; {INSTALL_HINT}") from None


def overflow_fix_for(cpu: CpuInfo, device: str) -> str:
    """NNCF's overflow fix for int8 on `device`: 7-bit weights on a CPU without VNNI."""
    if device == "CPU" and not cpu.int8_vnni:
        return "enable"
    return "disable"


def int8_recipe(overflow_fix: str) -> str:
    """Everything NNCF's int8 IR depends on besides the ONNX file and the size."""
    return f"nncf {nncf_version()}; {RECIPE}; overflow_fix {overflow_fix}"


def ir_folder(onnx_sha256: str, input_size: tuple[int, int], root: Path | None = None) -> Path:
    """`<cache>/openvino/<ONNX hash[:16]>-<H>x<W>/`: the IR files of one model at one size."""
    height, width = input_size
    return (root or cache_dir()) / "openvino" / f"{onnx_sha256[:16]}-{height}x{width}"


def ir_path(folder: Path, precision: str, overflow_fix: str = "") -> Path:
    """The IR a precision compiles: fp32 (also bf16's, a compile hint) or NNCF's int8."""
    if precision not in PRECISIONS:
        raise UserError(f"OpenVINO precision {precision!r} must be one of {PRECISIONS}")
    if precision != "int8":
        return folder / "fp32.xml"
    if overflow_fix not in OVERFLOW_FIXES:
        raise UserError(f"overflow_fix {overflow_fix!r} must be one of {OVERFLOW_FIXES}")
    return folder / f"int8-{overflow_fix}-nncf{nncf_version()}.xml"


def compiled_cache(root: Path | None = None) -> Path:
    """OpenVINO's `CACHE_DIR` for the compiled blobs."""
    return (root or cache_dir()) / "openvino" / "compiled"


def build_ir(core: Any, onnx_path: Path, input_size: tuple[int, int], out: Path, *,
             int8_overflow_fix: str | None = None) -> Path:
    """Save the ONNX file as a static-shape IR at `out` (xml + bin), quantised when asked.

    The xml is renamed into place last, so an xml that exists is complete.
    """
    ov = import_openvino()
    model = read_for_device(core, onnx_path, input_size)
    if int8_overflow_fix is not None:
        model = quantize_int8(model, input_size, int8_overflow_fix)
    partial = out.with_name(f"{out.stem}.partial-{os.getpid()}.xml")
    out.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(partial), compress_to_fp16=False)
    os.replace(partial.with_suffix(".bin"), out.with_suffix(".bin"))
    os.replace(partial, out)
    return out


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


def quantize_int8(model: Any, input_size: tuple[int, int], overflow_fix: str) -> Any:
    """NNCF post-training int8 of `model`, calibrated on synthetic frames of every domain."""
    nncf = import_nncf()
    frames = _calibration_frames(tuple(input_size))  # type: ignore[arg-type]
    LOG.warning("quantising to int8 with NNCF on %d calibration frames, overflow fix %s "
                "(once; cached)", len(frames), overflow_fix)
    return nncf.quantize(
        model, nncf.Dataset(frames), subset_size=len(frames),
        model_type=nncf.ModelType.TRANSFORMER,
        ignored_scope=nncf.IgnoredScope(names=pixel_layers(model)),
        advanced_parameters=nncf.AdvancedQuantizationParameters(
            overflow_fix=nncf.OverflowFix(overflow_fix)))


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
