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
                    default_gamma: float = 0.3, **overrides: object) -> Path:
    """A randomly initialised tiny model saved with save_checkpoint."""
    torch.manual_seed(seed)
    config = model_config_for("tiny", input_size=size, default_gamma=default_gamma, **overrides)
    config.provenance = {"test": "inference", "seed": seed}
    return save_checkpoint(path, build_segmenter(config), {"step": 0})


def camera_image(size: tuple[int, int] = (37, 61), seed: int = 0) -> np.ndarray:
    """A smooth uint8 RGB image of an odd camera size (never equal to the network size)."""
    rng = np.random.default_rng(seed)
    import cv2

    coarse = rng.integers(0, 256, (4, 6, 3)).astype(np.uint8)
    return cv2.resize(coarse, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)


CLASSES_YAML = """\
ignore_index: 255
classes:
  - {id: 0, name: sky, color: [70, 130, 180]}
  - {id: 1, name: road, color: [128, 64, 128]}
  - {id: 2, name: car, color: [0, 0, 142]}
"""
CLASS_NAMES = ("sky", "road", "car")
PALETTE = ((70, 130, 180), (128, 64, 128), (0, 0, 142))


def labelled_folder(root: Path, count: int = 3, size: tuple[int, int] = (40, 64)) -> Path:
    """images/ + labels/ + classes.yaml: 3-class scenes whose colours match the labels."""
    import cv2

    rng = np.random.default_rng(7)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "classes.yaml").write_text(CLASSES_YAML)
    colours = np.array([[110, 160, 220], [90, 90, 95], [200, 40, 40]], np.float32)
    for i in range(count):
        labels = np.zeros(size, np.uint8)
        labels[size[0] // 2:] = 1
        top, left = int(rng.integers(size[0] // 2 - 6, size[0] - 10)), int(rng.integers(0, 30))
        labels[top:top + 8, left:left + 20] = 2
        labels[:2] = 255
        image = colours[labels.clip(0, 2)] + rng.normal(0, 12, (*size, 3))
        cv2.imwrite(str(root / "images" / f"f{i:03d}.png"),
                    np.clip(image, 0, 255).astype(np.uint8)[..., ::-1])
        cv2.imwrite(str(root / "labels" / f"f{i:03d}.png"), labels)
    return root
