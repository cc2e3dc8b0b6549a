"""Where the assembled ONNX of a delta file is kept, found without torch.

The ONNX file is kept under the user cache directory ($XDG_CACHE_HOME or ~/.cache, then
uncertainty_seg_node/models/), named by a key made of the SHA-256 of the delta file and of its
backbone: a changed delta or backbone gives a new file, the same pair reuses the old one.
Finding it reads only the delta's header and hashes both files: no torch needed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.delta_header import SUFFIX, DeltaHeader, read_delta_header
from uncertainty_seg_node.model.artifact import file_sha256
from uncertainty_seg_node.model.backbone import find_backbone

# Bump when the assembly or the exporter changes what a cached file contains.
ASSEMBLY_VERSION = "assembled/v1"
CACHE_ENV = "UNCERTAINTY_SEG_CACHE"


@dataclass(frozen=True)
class CacheEntry:
    """A delta file, its checked backbone and where its assembled ONNX is (or will be) kept."""

    delta: Path
    header: DeltaHeader
    backbone: Path
    delta_sha256: str
    backbone_sha256: str
    onnx: Path


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


def cache_entry(delta: str | Path, *, backbone: str | Path | None = None,
                cache: Path | None = None) -> CacheEntry:
    """Check the delta file and its backbone; say where the assembled ONNX belongs."""
    delta = Path(delta)
    header = read_delta_header(delta)
    path = Path(backbone) if backbone is not None else find_backbone(header.backbone)
    backbone_sha = check_backbone(path, header)
    delta_sha = file_sha256(delta)
    out = cached_path(delta, cache_key(delta_sha, backbone_sha), cache or cache_dir())
    return CacheEntry(delta, header, path, delta_sha, backbone_sha, out)


def check_backbone(path: Path, header: DeltaHeader) -> str:
    """The backbone file's SHA-256, which must be the one the model was trained on."""
    ref = header.backbone
    if not path.is_file():
        raise UserError(f"backbone {path} does not exist; {ref.how_to_get()}")
    sha = file_sha256(path)
    if sha != ref.sha256:
        raise UserError(
            f"backbone {path} (SHA-256 {sha[:12]}...) is not the one this model was trained "
            f"on ({ref.sha256[:12]}...); {ref.how_to_get()}"
        )
    return sha
