"""Tiny on-disk datasets for the training tests (generic images/ + labels/ + classes.yaml)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from inference_fixtures import CLASSES_YAML


def scene(rng: np.random.Generator, size: tuple[int, int], night: bool = False
          ) -> tuple[np.ndarray, np.ndarray]:
    """A textured 3-class scene: sky above a horizon, road below, one car box; RGB + labels."""
    h, w = size
    labels = np.zeros((h, w), np.uint8)
    horizon = int(rng.integers(h // 3, h // 2))
    labels[horizon:] = 1
    top, left = int(rng.integers(horizon - 6, h - 12)), int(rng.integers(0, w - 24))
    labels[top:top + int(rng.integers(8, 16)), left:left + int(rng.integers(14, 28))] = 2
    colours = np.array([[110, 160, 220], [90, 90, 95], [200, 40, 40]], np.float32)
    if night:
        colours = colours * 0.35 + np.array([10, 10, 40], np.float32)
    image = colours[labels] + rng.normal(0, 12, (h, w, 3))
    labels[:2] = 255  # an ignored border row pair
    return np.clip(image, 0, 255).astype(np.uint8), labels


def write_labelled(root: Path, count: int, size: tuple[int, int] = (56, 112), seed: int = 0
                   ) -> Path:
    """`count` labelled scenes under root/images, root/labels with root/classes.yaml."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "classes.yaml").write_text(CLASSES_YAML)
    for i in range(count):
        image, labels = scene(rng, size)
        cv2.imwrite(str(root / "images" / f"f{i:03d}.png"), image[:, :, ::-1])
        cv2.imwrite(str(root / "labels" / f"f{i:03d}.png"), labels)
    return root


def write_unlabelled(root: Path, count: int, size: tuple[int, int] = (56, 112), seed: int = 1
                     ) -> Path:
    """`count` night-time scenes (a shifted domain) as plain images in root/."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image, _ = scene(rng, size, night=True)
        cv2.imwrite(str(root / f"u{i:03d}.png"), image[:, :, ::-1])
    return root


def teacher_world(root: Path, sources: int, targets: int, steps: int,
                  size: tuple[int, int]) -> dict[str, Path]:
    """Labelled source frames, unlabelled target frames and a tiny f_theta trained on them."""
    from uncertainty_seg_node.train import TrainConfig, train_task

    source = write_labelled(root / "src", sources)
    target = write_unlabelled(root / "tgt", targets)
    teacher = root / "theta.pt"
    train_task(TrainConfig(data=str(source), out=str(teacher), size=size, steps=steps,
                           batch_size=2, lr=1e-3, warmup_steps=1, freeze_encoder=True,
                           augment=False, quiet=True))
    return {"source": source, "target": target, "teacher": teacher, "root": root}
