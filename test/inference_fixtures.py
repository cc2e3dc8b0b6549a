"""Real tiny checkpoints and exported ONNX files shared by the export / inference tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.model import build_segmenter
from uncertainty_seg_node.model.checkpoint import save_checkpoint

NET_SIZE = (42, 70)  # non-square, multiples of 14


def tiny_checkpoint(path: Path, *, seed: int = 0, size: tuple[int, int] = NET_SIZE,
                    **overrides: object) -> Path:
    """A randomly initialised tiny model saved with save_checkpoint."""
    torch.manual_seed(seed)
    config = model_config_for("tiny", input_size=size, default_gamma=0.3, **overrides)
    config.provenance = {"test": "inference", "seed": seed}
    return save_checkpoint(path, build_segmenter(config), {"step": 0})


def camera_image(size: tuple[int, int] = (37, 61), seed: int = 0) -> np.ndarray:
    """A smooth uint8 RGB image of an odd camera size (never equal to the network size)."""
    rng = np.random.default_rng(seed)
    import cv2

    coarse = rng.integers(0, 256, (4, 6, 3)).astype(np.uint8)
    return cv2.resize(coarse, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
