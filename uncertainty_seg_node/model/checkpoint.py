"""Self-describing checkpoints: the weights, their ModelConfig, and the training state to resume.

Layout of the file (a `torch.save` dict):
    format: "uncertainty_seg_node/checkpoint/v1"
    config: ModelConfig as a JSON string (classes, palette, input size, normalisation, gamma, ...)
    model: state dict of the Segmenter
    train_state: optional dict (step, optimizer, scheduler, rng, gamma_ema, history)
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from uncertainty_seg_node.atomic import atomic_target
from uncertainty_seg_node.config import ModelConfig
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model.segmenter import Segmenter

FORMAT = "uncertainty_seg_node/checkpoint/v1"
# What `torch.load` raises for a file that is truncated, foreign or not a torch file at all.
TORCH_LOAD_ERRORS = (
    RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, OSError, ValueError,
    AttributeError, ImportError,
)


@dataclass
class Checkpoint:
    config: ModelConfig
    model: Segmenter
    train_state: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    path: str | Path, model: Segmenter, train_state: dict[str, Any] | None = None
) -> Path:
    """Write atomically (temp file + rename) so an interrupted save never leaves a corrupt file."""
    payload = {
        "format": FORMAT,
        "config": model.config.to_json(),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "train_state": train_state or {},
    }
    return atomic_torch_save(payload, path)


def atomic_torch_save(payload: Any, path: str | Path) -> Path:
    """`torch.save` to a temp file beside `path`, then rename: readers never see half a file."""
    with atomic_target(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def read_checkpoint_payload(path: str | Path) -> dict[str, Any]:
    """The raw dict of a checkpoint, with clear errors for missing or corrupt files."""
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"checkpoint {path} does not exist; train one with `uncertainty-seg train task ...`"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except TORCH_LOAD_ERRORS as exc:
        raise UserError(
            f"checkpoint {path} is corrupt or not a checkpoint ({type(exc).__name__}); "
            "re-train or re-copy it"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(
            f"{path} is not an uncertainty_seg_node checkpoint (expected format {FORMAT})"
        )
    return payload


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the Segmenter described by the checkpoint and load its weights."""
    payload = read_checkpoint_payload(path)
    config = ModelConfig.from_json(payload["config"])
    model = Segmenter(config)
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as exc:
        raise UserError(f"checkpoint {path} does not match its own config: {exc}") from None
    model.to(map_location)
    return Checkpoint(config=config, model=model, train_state=payload.get("train_state") or {})
