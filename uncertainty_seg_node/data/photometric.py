"""Photometric distortion of a training image: brightness, contrast, saturation, hue, gamma.

The colour half of a segmenter's usual training pipeline (mmsegmentation's
PhotoMetricDistortion), plus gamma: each change is applied with probability 1/2, with the
strengths below, and contrast comes before or after the colour changes at random. Labels are
untouched: only appearance changes. The draws come from the caller's generator, so a view is a
pure function of its seed (data/view_bank.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class PhotometricStrength:
    """How far each change may go (the defaults are mmsegmentation's, gamma added)."""

    brightness: float = 32.0  # additive, in 0..255 intensity units
    contrast: tuple[float, float] = (0.5, 1.5)  # multiplicative range
    saturation: tuple[float, float] = (0.5, 1.5)  # multiplicative range on HSV saturation
    hue: float = 18.0  # additive, in OpenCV hue units (0..180 is the full circle)
    gamma: tuple[float, float] = (0.67, 1.5)  # out = 255 * (in / 255) ** gamma

    def __post_init__(self) -> None:
        for name in ("contrast", "saturation", "gamma"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} range ({lo}, {hi}) must satisfy 0 < low <= high")
        if not 0 <= self.brightness <= 255 or not 0 <= self.hue <= 90:
            raise ValueError("brightness must be in [0, 255] and hue in [0, 90]")


def photometric_distort(
    image: np.ndarray, rng: np.random.Generator,
    strength: PhotometricStrength = PhotometricStrength(),  # noqa: B008 (frozen, immutable)
) -> np.ndarray:
    """uint8 (H, W, 3) RGB -> uint8 (H, W, 3) RGB with random changes of appearance.

    Draws the same number of values from `rng` whatever is applied, so the rest of a view's
    draws do not depend on which changes happened.
    """
    apply = rng.random(5) < 0.5  # brightness, contrast, saturation, hue, gamma
    contrast_first = bool(rng.random() < 0.5)
    delta = rng.uniform(-strength.brightness, strength.brightness)
    contrast = rng.uniform(*strength.contrast)
    saturation = rng.uniform(*strength.saturation)
    hue = rng.uniform(-strength.hue, strength.hue)
    gamma = float(np.exp(rng.uniform(np.log(strength.gamma[0]), np.log(strength.gamma[1]))))

    out = image.astype(np.float32)
    if apply[0]:
        out = np.clip(out + delta, 0, 255)
    if apply[1] and contrast_first:
        out = np.clip(out * contrast, 0, 255)
    if apply[2] or apply[3]:
        out = _saturation_hue(out, saturation if apply[2] else 1.0, hue if apply[3] else 0.0)
    if apply[1] and not contrast_first:
        out = np.clip(out * contrast, 0, 255)
    if apply[4]:
        out = 255.0 * (out / 255.0) ** gamma
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _saturation_hue(rgb: np.ndarray, saturation: float, hue: float) -> np.ndarray:
    """Scale HSV saturation and rotate the hue of a float32 RGB image in [0, 255]."""
    hsv = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV)  # H in degrees
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0.0, 1.0)
    hsv[..., 0] = np.mod(hsv[..., 0] + 2.0 * hue, 360.0)  # OpenCV hue units are 2 degrees
    return np.asarray(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0, dtype=np.float32)
