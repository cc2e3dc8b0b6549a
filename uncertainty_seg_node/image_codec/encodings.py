"""The one table of sensor_msgs/Image encodings, and the conversions to what a model reads.

Model encodings (`MODEL_ENCODINGS`) go to `Predictor.predict` as they are: the colour conversion
runs after the resize there, on fewer pixels. Camera encodings a model cannot read (mono16,
packed YUV 4:2:2, Bayer mosaics) are converted here first, at full resolution, because a
demosaic or a chroma upsampling has to see the original pixel grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from uncertainty_seg_node.errors import UserError


@dataclass(frozen=True)
class Layout:
    """How one encoding lays out a pixel, and how it becomes RGB."""

    dtype: str  # numpy type without byte order: "u1", "u2", "f4"
    channels: int  # values per pixel in the array (2 for packed YUV 4:2:2)
    camera: bool  # a camera encoding the node accepts
    to_rgb: int | None = None  # cv2 colour code to RGB (None: rgb8 already, or no colour)


_BAYER = {
    "bayer_rggb8": cv2.COLOR_BayerRGGB2RGB, "bayer_bggr8": cv2.COLOR_BayerBGGR2RGB,
    "bayer_gbrg8": cv2.COLOR_BayerGBRG2RGB, "bayer_grbg8": cv2.COLOR_BayerGRBG2RGB,
}
# sensor_msgs/image_encodings.hpp names; "yuv422" is UYVY byte order there, like "uyvy".
ENCODINGS: dict[str, Layout] = {
    "rgb8": Layout("u1", 3, True),
    "bgr8": Layout("u1", 3, True, cv2.COLOR_BGR2RGB),
    "rgba8": Layout("u1", 4, True, cv2.COLOR_RGBA2RGB),
    "bgra8": Layout("u1", 4, True, cv2.COLOR_BGRA2RGB),
    "mono8": Layout("u1", 1, True, cv2.COLOR_GRAY2RGB),
    "mono16": Layout("u2", 1, True),
    "yuv422": Layout("u1", 2, True, cv2.COLOR_YUV2RGB_UYVY),
    "uyvy": Layout("u1", 2, True, cv2.COLOR_YUV2RGB_UYVY),
    "yuv422_yuy2": Layout("u1", 2, True, cv2.COLOR_YUV2RGB_YUY2),
    **{name: Layout("u1", 1, True, code) for name, code in _BAYER.items()},
    # Data, not camera frames: labels, masks, depth, the node's confidence output.
    "8UC1": Layout("u1", 1, False),
    "8UC3": Layout("u1", 3, False),
    "16UC1": Layout("u2", 1, False),
    "32FC1": Layout("f4", 1, False),
}
CAMERA_ENCODINGS: tuple[str, ...] = tuple(n for n, layout in ENCODINGS.items() if layout.camera)
# What `Predictor.predict` reads directly (uint8, converted to RGB after the resize).
MODEL_ENCODINGS: tuple[str, ...] = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")


def unsupported(encoding: str, supported: tuple[str, ...] = CAMERA_ENCODINGS) -> str:
    """The error text for an encoding outside `supported` (says so when only the case is off)."""
    hint = ""
    if encoding.lower() in supported:
        hint = f" (encodings are lower case: {encoding.lower()!r})"
    return f"unsupported image encoding {encoding!r}{hint}; supported: {', '.join(supported)}"


def to_rgb(image: np.ndarray, encoding: str) -> np.ndarray:
    """A model-encoding uint8 image -> contiguous uint8 (H, W, 3) RGB."""
    if encoding not in MODEL_ENCODINGS:
        raise UserError(unsupported(encoding, MODEL_ENCODINGS))
    if image.dtype != np.uint8:
        raise UserError(f"image dtype is {image.dtype}; expected uint8 for {encoding}")
    channels = 1 if image.ndim == 2 else image.shape[2]
    expected = ENCODINGS[encoding].channels
    if channels != expected:
        raise UserError(f"{encoding} image has {channels} channels; expected {expected}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise UserError(f"image has zero size {image.shape[1]}x{image.shape[0]}")
    code = ENCODINGS[encoding].to_rgb
    if code is None:
        return np.ascontiguousarray(image)
    return cv2.cvtColor(image, code)


def to_model_encoding(image: np.ndarray, encoding: str) -> tuple[np.ndarray, str]:
    """A decoded camera image -> (image, encoding) that `Predictor.predict` reads.

    Model encodings pass through untouched (no copy); mono16 keeps its high byte; YUV 4:2:2 and
    Bayer become rgb8.
    """
    if encoding in MODEL_ENCODINGS:
        return image, encoding
    if encoding == "mono16":
        return (image >> 8).astype(np.uint8), "mono8"
    layout = ENCODINGS.get(encoding)
    if layout is None or not layout.camera or layout.to_rgb is None:
        raise UserError(unsupported(encoding))
    return cv2.cvtColor(np.ascontiguousarray(image), layout.to_rgb), "rgb8"
