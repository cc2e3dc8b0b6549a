"""Camera image <-> network input: validation, resize policy, and the way back.

The exported graph normalises uint8 pixels itself, so the CPU side is one resize and, for BGR /
RGBA / mono cameras, one colour conversion (done after the resize, on fewer pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.image_codec.encodings import (
    ENCODINGS,
    MODEL_ENCODINGS,
    to_rgb,
    unsupported,
)
from uncertainty_seg_node.imageops import resize_image, resize_labels, resize_scores

RESIZE_POLICIES = ("stretch", "letterbox")


@dataclass(frozen=True)
class ResizePlan:
    """How one camera image maps onto the network input, and back.

    `box` = (top, left, height, width) of the image content inside the network input: the whole
    input for `stretch`, the centred, aspect-preserving area for `letterbox` (rest padded with the
    normalisation mean, i.e. zeros after normalisation).
    """

    image_size: tuple[int, int]
    net_size: tuple[int, int]
    policy: str
    box: tuple[int, int, int, int]


def plan_resize(image_size: tuple[int, int], net_size: tuple[int, int], policy: str) -> ResizePlan:
    """The ResizePlan of an image of `image_size` = (H, W) for a network of `net_size`."""
    if policy not in RESIZE_POLICIES:
        raise UserError(f"unknown resize policy {policy!r}; choose one of {RESIZE_POLICIES}")
    net_h, net_w = net_size
    if policy == "stretch":
        return ResizePlan(image_size, net_size, policy, (0, 0, net_h, net_w))
    height, width = image_size
    scale = min(net_h / height, net_w / width)
    box_h = min(net_h, max(1, round(height * scale)))
    box_w = min(net_w, max(1, round(width * scale)))
    top, left = (net_h - box_h) // 2, (net_w - box_w) // 2
    return ResizePlan(image_size, net_size, policy, (top, left, box_h, box_w))


def validate_image(image: object, encoding: str) -> np.ndarray:
    """Check a camera image against its declared encoding; UserError says what was received."""
    if encoding not in MODEL_ENCODINGS:
        raise UserError(unsupported(encoding, MODEL_ENCODINGS))
    if not isinstance(image, np.ndarray):
        raise UserError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise UserError(
            f"image dtype is {image.dtype} (shape {image.shape}); expected uint8 for {encoding}"
        )
    if image.ndim not in (2, 3):
        raise UserError(f"image has shape {image.shape}; expected (H, W) or (H, W, C)")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise UserError(f"image has zero size (shape {image.shape})")
    channels = 1 if image.ndim == 2 else image.shape[2]
    expected = ENCODINGS[encoding].channels
    if channels != expected:
        raise UserError(f"{encoding} image must have {expected} channel(s); got shape "
                        f"{image.shape}")
    return image


def preprocess(
    image: np.ndarray, encoding: str, net_size: tuple[int, int], policy: str = "stretch",
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406),
) -> tuple[np.ndarray, ResizePlan]:
    """Camera image -> uint8 (h, w, 3) RGB at the network size, and the plan to map back."""
    image = validate_image(image, encoding)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    plan = plan_resize(image.shape[:2], net_size, policy)
    top, left, box_h, box_w = plan.box
    resized = resize_image(image, (box_h, box_w))
    if resized.ndim == 2 and encoding != "mono8":
        resized = resized[:, :, None]  # cv2 drops a single channel axis
    rgb = to_rgb(np.ascontiguousarray(resized), encoding)
    if (box_h, box_w) == tuple(net_size):
        return rgb, plan
    fill = tuple(int(round(255 * m)) for m in mean)
    padded = cv2.copyMakeBorder(
        rgb, top, net_size[0] - box_h - top, left, net_size[1] - box_w - left,
        cv2.BORDER_CONSTANT, value=fill,
    )
    return padded, plan


def postprocess(
    class_ids: np.ndarray, confidence: np.ndarray, plan: ResizePlan, gamma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Network-size ids (nearest), confidence (bilinear) -> camera size; certain = conf > gamma."""
    top, left, box_h, box_w = plan.box
    if (box_h, box_w) != tuple(plan.net_size):
        class_ids = class_ids[top:top + box_h, left:left + box_w]
        confidence = confidence[top:top + box_h, left:left + box_w]
    if class_ids.dtype != np.uint8:
        class_ids = class_ids.astype(np.uint8)  # int32-id exports; models have <= 255 classes
    ids = resize_labels(np.ascontiguousarray(class_ids), plan.image_size)
    # float16 exports: widen first (OpenCV resizes float32). Bilinear interpolation stays
    # inside the range of its inputs, so the confidence stays in [0, 1] without clipping.
    conf = resize_scores(np.ascontiguousarray(confidence, dtype=np.float32), plan.image_size)
    return ids, conf, conf > gamma

