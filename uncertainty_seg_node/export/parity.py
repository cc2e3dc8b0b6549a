"""Parity of an exported model with the PyTorch model it came from, on sample images.

Thresholds: class ids agree on >= 99.9 % of pixels and confidence differs by at most
1e-3 anywhere. Sample images come from the synthetic driving world when it is installed, else
from smooth random images (never white noise, whose argmax is decided by rounding).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from uncertainty_seg_node.errors import UserError

MIN_LABEL_AGREEMENT = 0.999
MAX_CONFIDENCE_DIFF = 1e-3


@dataclass
class ParityReport:
    """How closely a backend reproduces the reference on the same network inputs."""

    backend: str
    images: int
    pixels: int
    label_agreement: float
    confidence_max_abs_diff: float
    min_label_agreement: float = MIN_LABEL_AGREEMENT
    max_confidence_diff: float = MAX_CONFIDENCE_DIFF
    source: str = "random"

    @property
    def passed(self) -> bool:
        return (self.label_agreement >= self.min_label_agreement
                and self.confidence_max_abs_diff <= self.max_confidence_diff)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}

    def summary(self) -> str:
        verdict = "ok" if self.passed else "FAILED"
        return (
            f"parity {self.backend} vs torch on {self.images} {self.source} images: "
            f"label agreement {100 * self.label_agreement:.3f} % "
            f"(need >= {100 * self.min_label_agreement:.1f} %), confidence max abs diff "
            f"{self.confidence_max_abs_diff:.2e} (need <= {self.max_confidence_diff:.0e}): "
            f"{verdict}"
        )


def smooth_random_images(size: tuple[int, int], count: int, seed: int = 0) -> list[np.ndarray]:
    """uint8 (H, W, 3) images of smooth colour blobs with some edges: natural-ish statistics."""
    rng = np.random.default_rng(seed)
    height, width = size
    images = []
    for _ in range(count):
        coarse = rng.integers(0, 256, size=(max(2, height // 16), max(2, width // 16), 3))
        image = cv2.resize(coarse.astype(np.uint8), (width, height),
                           interpolation=cv2.INTER_CUBIC)
        fine = rng.normal(0.0, 6.0, size=image.shape)
        images.append(np.clip(image + fine, 0, 255).astype(np.uint8))
    return images


def sample_images(
    size: tuple[int, int], count: int = 4, seed: int = 0
) -> tuple[list[np.ndarray], str]:
    """Parity images at the network size: the synthetic world's if available, else smooth noise."""
    try:
        from uncertainty_seg_node.synth import SOURCE_DOMAIN, render_frames
    except ImportError:
        return smooth_random_images(size, count, seed), "random"
    try:
        frames = [frame.image for frame in render_frames(SOURCE_DOMAIN, count, size, seed)]
    except UserError:  # e.g. a network input smaller than the renderer's minimum
        return smooth_random_images(size, count, seed), "random"
    return frames, "synthetic"


def compare_outputs(
    backend: str,
    reference: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    candidate: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    images: Sequence[np.ndarray],
    *,
    source: str = "random",
    min_label_agreement: float = MIN_LABEL_AGREEMENT,
    max_confidence_diff: float = MAX_CONFIDENCE_DIFF,
) -> ParityReport:
    """Run both on each image (a batch of one) and compare ids and confidence."""
    agree = total = 0
    worst = 0.0
    for image in images:
        batch = np.ascontiguousarray(image[None])
        ref_ids, ref_conf = reference(batch)
        ids, conf = candidate(batch)
        agree += int((ref_ids.astype(np.int64) == ids.astype(np.int64)).sum())
        total += ref_ids.size
        diff = np.abs(ref_conf.astype(np.float64) - conf.astype(np.float64))
        worst = max(worst, float(np.nan_to_num(diff, nan=np.inf).max()))
    return ParityReport(
        backend=backend, images=len(images), pixels=total,
        label_agreement=agree / max(total, 1), confidence_max_abs_diff=worst,
        min_label_agreement=min_label_agreement, max_confidence_diff=max_confidence_diff,
        source=source,
    )
