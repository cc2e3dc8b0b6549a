"""Dataclass configs and their YAML loading with command-line overrides.

`ModelConfig` travels with the weights: inside every checkpoint and in the exported model's
metadata, so a model file always describes itself (classes, palette, input size, normalisation,
default gamma, score method, provenance).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from uncertainty_seg_node.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, IGNORE_INDEX
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.gamma import check_gamma

# Encoder sizes. `tiny` is for CPU tests and the demo; the other two are the DINOv2 sizes.
ENCODER_SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"hidden_size": 96, "num_layers": 4, "num_heads": 3, "layerscale": True},
    "vits14": {"hidden_size": 384, "num_layers": 12, "num_heads": 6, "layerscale": True},
    "vitb14": {"hidden_size": 768, "num_layers": 12, "num_heads": 12, "layerscale": True},
}

SCORE_METHODS = ("msp", "maxlogit", "entropy", "margin", "energy", "temperature")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class ModelConfig:
    """Everything needed to rebuild, run and interpret a model."""

    arch: str = "tiny"
    hidden_size: int = 96
    num_layers: int = 4
    num_heads: int = 3
    layerscale: bool = True
    patch_size: int = 14
    num_pos_patches: int = 37  # position-embedding grid side (DINOv2: 518 / 14)
    decoder_channels: int = 96
    decoder_layers: int = 2  # how many of the last encoder blocks feed the decoder
    dropout: float = 0.0  # decoder dropout; > 0 enables MC dropout
    input_size: tuple[int, int] = (224, 448)  # network H, W: multiples of patch_size
    resize_policy: str = "stretch"  # how a camera image maps onto input_size
    class_names: tuple[str, ...] = CITYSCAPES_CLASSES
    palette: tuple[tuple[int, int, int], ...] = CITYSCAPES_PALETTE
    ignore_index: int = IGNORE_INDEX
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    default_gamma: float = 0.5
    score_method: str = "msp"
    temperature: float = 1.0  # fitted by `uncertainty-seg calibrate` for score_method=temperature
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def validate(self) -> None:
        h, w = self.input_size
        if h <= 0 or w <= 0 or h % self.patch_size or w % self.patch_size:
            raise UserError(
                f"input size {h}x{w} must be positive multiples of the patch size "
                f"{self.patch_size} (e.g. 224x448)"
            )
        if len(self.palette) != len(self.class_names):
            raise UserError(
                f"{len(self.class_names)} class names but {len(self.palette)} palette colours"
            )
        check_gamma(self.default_gamma, "default_gamma")
        if self.score_method not in SCORE_METHODS:
            raise UserError(
                f"unknown score method {self.score_method!r}; choose one of {SCORE_METHODS}"
            )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return from_dict(cls, data)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        return from_dict(cls, json.loads(text))


def model_config_for(arch: str, **overrides: Any) -> ModelConfig:
    """A ModelConfig for a named encoder size (`tiny`, `vits14`, `vitb14`)."""
    if arch not in ENCODER_SIZES:
        raise UserError(f"unknown model {arch!r}; choose one of {sorted(ENCODER_SIZES)}")
    defaults: dict[str, Any] = {"arch": arch, **ENCODER_SIZES[arch]}
    if arch != "tiny":
        defaults.update(decoder_channels=192, decoder_layers=4)
    defaults.update(overrides)
    config = ModelConfig(**defaults)
    config.validate()
    return config


def parse_size(text: str) -> tuple[int, int]:
    """`HxW` -> (H, W)."""
    try:
        h_text, w_text = text.lower().split("x")
        size = (int(h_text), int(w_text))
    except ValueError:
        raise UserError(f"size {text!r} is not of the form HxW, e.g. 224x448") from None
    if size[0] <= 0 or size[1] <= 0:
        raise UserError(f"size {text!r} must be positive")
    return size


T = TypeVar("T")


def from_dict(cls: type[T], data: dict[str, Any], *, where: str = "config") -> T:
    """Build dataclass `cls` from a dict, refusing unknown keys and coercing tuples."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UserError(f"unknown {where} key(s) {unknown}; valid keys are {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(hints[name], value) for name, value in data.items()}
    return cls(**kwargs)


def _coerce(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple and isinstance(value, (list, tuple)):
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v) for v in value)
        return tuple(_coerce(a, v) for a, v in zip(args, value))
    return value


def load_yaml_config(
    cls: type[T], path: str | Path | None, overrides: list[str] | None = None
) -> T:
    """Load dataclass `cls` from a YAML file, then apply `key=value` overrides (YAML-parsed)."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"config file {path} does not exist")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise UserError(f"config file {path} is not valid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise UserError(f"config file {path} must hold a mapping of key: value")
        data.update(loaded)
    for item in overrides or []:
        if "=" not in item:
            raise UserError(f"override {item!r} must look like key=value")
        key, text = item.split("=", 1)
        data[key.strip()] = yaml.safe_load(text)
    return from_dict(cls, data, where=f"{cls.__name__}")
