"""Training and evaluation transforms to the network input size, and batching to tensors.

Evaluation (`EvalTransform`) stretches the whole frame to `config.input_size`, exactly what the
inference interface does (`resize_policy = "stretch"`), so validation sees what the node sees.

Training (`TrainTransform`) is a random zoom + crop + horizontal flip around that same view: a
scale s ~ U(scale_range) picks a window of (H/s, W/s) of the frame (s = 1 is the eval view), the
window is resized to the input size (labels nearest) and, when s < 1, padded with the mean colour
and ignore labels. Unlabelled images get the same geometry with s >= 1 only, because padding would
hand L_c free "consistent" pixels that the teacher and student both see as flat grey. With
`photometric` the image's appearance changes too (data/photometric.py: brightness, contrast,
saturation, hue, gamma), as segmenters are usually trained; the labels only follow the geometry.

A view is a pure function of the generator it is given: the view bank (data/view_bank.py) hands
each (image, view) its own seeded generator, so the same K views come back every epoch and their
encoder features can be cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from uncertainty_seg_node.classes import IGNORE_INDEX
from uncertainty_seg_node.config import ModelConfig
from uncertainty_seg_node.data.photometric import PhotometricStrength, photometric_distort
from uncertainty_seg_node.data.sample import LabelledSample
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.imageops import normalize, resize_image, resize_labels

if TYPE_CHECKING:
    import torch


class EvalTransform:
    """Plain stretch-resize of the whole frame to `config.input_size` (labels nearest)."""

    def __init__(self, config: ModelConfig) -> None:
        self.size = (int(config.input_size[0]), int(config.input_size[1]))

    def image(self, image: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """uint8 (H, W, 3) RGB -> uint8 input-size RGB (`rng` is unused)."""
        return resize_image(image, self.size)

    def __call__(
        self, sample: LabelledSample, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """A sample -> (image, labels) at the input size."""
        return self.image(sample.image), resize_labels(sample.labels, self.size)


class TrainTransform:
    """Random zoom/crop + horizontal flip to the input size; see the module docstring for why."""

    def __init__(
        self,
        config: ModelConfig,
        scale_range: tuple[float, float] = (0.75, 1.5),
        hflip: bool = True,
        photometric: PhotometricStrength | None = None,
    ) -> None:
        lo, hi = scale_range
        if not 0 < lo <= hi:
            raise UserError(f"scale range {scale_range} must satisfy 0 < min <= max")
        self.size = (int(config.input_size[0]), int(config.input_size[1]))
        self.scale_range = (float(lo), float(hi))
        self.hflip = hflip
        self.photometric = photometric
        self.fill = tuple(int(round(m * 255)) for m in config.mean)

    def __call__(
        self, sample: LabelledSample, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """A labelled sample -> (image, labels) at the input size, randomly zoomed and flipped."""
        geometry = self._draw(sample.image.shape[:2], self.scale_range, rng)
        image = self._apply(sample.image, geometry, is_labels=False)
        labels = self._apply(sample.labels, geometry, is_labels=True)
        return self._photometric(image, rng), labels

    def image(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """An unlabelled image -> input size, same geometry but zoom s >= 1 (no padding)."""
        lo, hi = self.scale_range
        geometry = self._draw(image.shape[:2], (max(lo, 1.0), max(hi, 1.0)), rng)
        return self._photometric(self._apply(image, geometry, is_labels=False), rng)

    def _draw(
        self, shape: tuple[int, ...], scale_range: tuple[float, float], rng: np.random.Generator
    ) -> tuple[int, int, int, int, bool]:
        """(top, left, window_h, window_w, flip) in frame pixels; top/left < 0 means padding."""
        h, w = int(shape[0]), int(shape[1])
        lo, hi = scale_range
        scale = float(rng.uniform(lo, hi)) if hi > lo else lo
        win_h, win_w = max(1, round(h / scale)), max(1, round(w / scale))
        top = int(rng.integers(min(0, h - win_h), max(0, h - win_h) + 1))
        left = int(rng.integers(min(0, w - win_w), max(0, w - win_w) + 1))
        flip = bool(self.hflip and rng.random() < 0.5)
        return top, left, win_h, win_w, flip

    def _apply(
        self, array: np.ndarray, geometry: tuple[int, int, int, int, bool], is_labels: bool
    ) -> np.ndarray:
        top, left, win_h, win_w, flip = geometry
        out_h, out_w = self.size
        h, w = array.shape[:2]
        y0, y1 = max(top, 0), min(top + win_h, h)
        x0, x1 = max(left, 0), min(left + win_w, w)
        # Where the part of the window inside the frame lands in the output.
        oy0, oy1 = round((y0 - top) * out_h / win_h), round((y1 - top) * out_h / win_h)
        ox0, ox1 = round((x0 - left) * out_w / win_w), round((x1 - left) * out_w / win_w)
        crop = array[y0:y1, x0:x1]
        resize = resize_labels if is_labels else resize_image
        if (oy0, oy1, ox0, ox1) == (0, out_h, 0, out_w):
            out = resize(crop, (out_h, out_w))
        else:
            shape = (out_h, out_w) + array.shape[2:]
            out = np.empty(shape, dtype=array.dtype)
            out[...] = IGNORE_INDEX if is_labels else self.fill
            if oy1 > oy0 and ox1 > ox0:
                out[oy0:oy1, ox0:ox1] = resize(crop, (oy1 - oy0, ox1 - ox0))
        if flip:
            out = out[:, ::-1]
        return np.ascontiguousarray(out)

    def _photometric(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The appearance change, drawing from `rng` only when it is on."""
        if self.photometric is None:
            return image
        return photometric_distort(image, rng, self.photometric)


def to_tensor_batch(images: Sequence[np.ndarray], config: ModelConfig) -> torch.Tensor:
    """uint8 (H, W, 3) RGB images of one size -> float32 (B, 3, H, W), normalised by config."""
    import torch

    if not images:
        raise ValueError("to_tensor_batch needs at least one image")
    arrays = [normalize(image, config.mean, config.std) for image in images]
    return torch.from_numpy(np.stack(arrays))


def labels_to_tensor(labels: Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 (H, W) label maps of one size -> int64 (B, H, W) (255 stays the ignore index)."""
    import torch

    return torch.from_numpy(np.stack(labels).astype(np.int64))
