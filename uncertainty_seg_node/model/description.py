"""What a model is, in the words the node logs at start: classes, input size, training data.

Everything comes from the ModelConfig a model file carries, its provenance included (written
by training, train/provenance.py). A model trained on the built-in synthetic world only gets a
warning: its labels and its confidence were never checked on a real camera's frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from uncertainty_seg_node.config import ModelConfig

TUTORIAL = "docs/tutorial.md"
# Provenance keys that name training data (the teacher's own record is looked into as well).
_DATA_KEYS = ("data", "unlabelled")


@dataclass(frozen=True)
class ModelDescription:
    """Lines for the log: `info` always, `warning` when the model needs one ('' otherwise)."""

    info: tuple[str, ...]
    warning: str = ""
    synthetic_only: bool = False


def describe_model(config: ModelConfig) -> ModelDescription:
    """The log lines saying what `config`'s model segments, at what size, trained on what."""
    height, width = config.input_size
    classes = (f"{config.num_classes} classes ({', '.join(config.class_names)}); network input "
               f"{height}x{width} (HxW), {config.resize_policy}; score {config.score_method}, "
               f"default gamma {config.default_gamma:.3f}")
    provenance = config.provenance or {}
    synthetic = synthetic_only(provenance)
    trained = f"trained on {training_data(provenance)}"
    warning = ""
    if synthetic:
        warning = ("this model was trained on synthetic frames only (the package's built-in "
                   "synthetic world): its classes and its confidence are not validated on real "
                   "camera images; train it on your own data as the tutorial shows "
                   f"({TUTORIAL}: `uncertainty-seg train` on your labelled and unlabelled "
                   "frames)")
    return ModelDescription((f"model: {config.arch}, {classes}", trained), warning, synthetic)


def training_data(provenance: dict[str, Any]) -> str:
    """`provenance`'s training data in one phrase (or that it is not recorded)."""
    parts = []
    labelled = provenance.get("data")
    if labelled:
        parts.append(_frames(provenance.get("labelled_images"), "labelled") + f" from {labelled}")
    unlabelled = provenance.get("unlabelled") or provenance.get("unlabelled_topic")
    if unlabelled:
        parts.append(_frames(provenance.get("unlabelled_images"), "unlabelled")
                     + f" from {unlabelled}")
    if not parts:
        return "data not recorded in the model's provenance"
    stage = provenance.get("stage")
    steps = provenance.get("steps")
    how = ", ".join(x for x in (f"stage {stage}" if stage else "",
                                f"{steps} steps" if steps else "") if x)
    return " and ".join(parts) + (f" ({how})" if how else "")


def synthetic_only(provenance: dict[str, Any]) -> bool:
    """Whether every training data the provenance names is the synthetic world's.

    An explicit `synthetic` entry decides (training writes it when every data folder holds
    the marker `uncertainty-seg synth` leaves); otherwise, for models trained before that, the
    folder names do (`runs/synth/...`, `synth_*`). Nothing recorded is not synthetic-only.
    """
    if isinstance(provenance.get("synthetic"), bool):
        return bool(provenance["synthetic"])
    paths = list(_data_paths(provenance))
    return bool(paths) and all(_is_synthetic(path) for path in paths)


def _data_paths(provenance: dict[str, Any]) -> Iterator[str]:
    for key in _DATA_KEYS:
        if provenance.get(key):
            yield str(provenance[key])
    teacher = provenance.get("teacher_provenance")
    if isinstance(teacher, dict):
        yield from _data_paths(teacher)


def _is_synthetic(path: str) -> bool:
    return any(part.lower().startswith("synth") for part in PurePath(path).parts)


def _frames(count: Any, kind: str) -> str:
    return f"{count} {kind} frames" if isinstance(count, int) else f"{kind} frames"
