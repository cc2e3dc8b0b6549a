"""What a delta file says about itself, read without torch or safetensors.

A safetensors file starts with an 8-byte little-endian header length and that many bytes of
JSON; the delta's strings are under `__metadata__` (see export/delta.py for the layout). Reading
them is all the node needs to find the assembled model in the cache, so a vehicle image with
only ONNX Runtime (or TensorRT) can serve a model assembled before.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from uncertainty_seg_node.config import ModelConfig
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model.backbone import BackboneRef

FORMAT = "uncertainty_seg_node/delta/v1"
SUFFIX = ".delta.safetensors"
_MAX_HEADER = 100 * 2**20  # safetensors' own limit


@dataclass(frozen=True)
class DeltaHeader:
    """The metadata of a delta file (its tensors are read by export/delta.py, with torch)."""

    config: ModelConfig
    backbone: BackboneRef
    dtype: str
    quantize: str


def is_delta_file(path: str | Path) -> bool:
    """Whether `path` names a delta file (by its suffix)."""
    return str(path).lower().endswith(".safetensors")


def holds_delta(path: str | Path) -> bool:
    """Whether `path` is a delta file of this package (by its metadata, not only its suffix).

    A Hugging Face `model.safetensors` state dict is a .safetensors file too, for `--init`.
    """
    if not is_delta_file(path) or not Path(path).is_file():
        return False
    try:
        return read_metadata(path).get("format") == FORMAT
    except UserError:
        return False


def read_metadata(path: str | Path) -> dict[str, str]:
    """The `__metadata__` strings of a safetensors file; a clear UserError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file {path} does not exist; make one with "
                        "`uncertainty-seg pack --checkpoint CKPT --out NAME.delta.safetensors`")
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
            length = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
            if not 0 < length <= min(_MAX_HEADER, path.stat().st_size - 8):
                raise ValueError(f"header length {length} does not fit the file")
            header = json.loads(handle.read(length))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is corrupt or not a safetensors file ({exc})") from None
    metadata = header.get("__metadata__") or {}
    return {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {}


def read_delta_header(path: str | Path) -> DeltaHeader:
    """The config, backbone reference, dtype and quantisation a delta file records."""
    metadata = read_metadata(path)
    if metadata.get("format") != FORMAT:
        raise UserError(f"{path} is not an uncertainty_seg_node delta file (expected format "
                        f"{FORMAT}); a plain encoder state dict belongs to `--init`")
    try:
        return DeltaHeader(ModelConfig.from_json(metadata["config"]),
                           BackboneRef.from_json(metadata["backbone"]),
                           metadata.get("dtype", "float32"), metadata.get("quantize", "none"))
    except (KeyError, ValueError, TypeError) as exc:
        raise UserError(f"{path} has a broken delta header ({type(exc).__name__}: {exc}); "
                        "pack it again with `uncertainty-seg pack`") from None
