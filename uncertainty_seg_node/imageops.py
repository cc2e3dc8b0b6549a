"""Pure image operations shared by training, inference, replay and the node (OpenCV-backed).

Images are numpy arrays: uint8 (H, W, 3) RGB unless a name says otherwise; labels uint8 (H, W).
Encodings and colour conversions live in `image_codec.encodings`.
"""

from __future__ import annotations

import cv2
import numpy as np


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear (area when shrinking a lot) resize of an image to `size` = (H, W)."""
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    shrink = image.shape[0] > 2 * h or image.shape[1] > 2 * w
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def resize_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a label / class-id / mask map to `size` = (H, W)."""
    h, w = size
    if labels.shape[:2] == (h, w):
        return labels
    if labels.dtype == np.bool_:
        return cv2.resize(labels.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(
            bool
        )
    return cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)


def resize_scores(scores: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a float32 score map to `size` = (H, W)."""
    h, w = size
    if scores.shape[:2] == (h, w):
        return scores
    return cv2.resize(
        scores.astype(np.float32, copy=False), (w, h), interpolation=cv2.INTER_LINEAR
    )


def normalize(image: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """uint8 (H, W, 3) RGB -> float32 (3, H, W) normalised (x / 255 - mean) / std."""
    scale = 1.0 / (255.0 * np.asarray(std, dtype=np.float32))
    shift = np.asarray(mean, dtype=np.float32) / np.asarray(std, dtype=np.float32)
    out = image.astype(np.float32) * scale - shift
    return np.ascontiguousarray(out.transpose(2, 0, 1))
