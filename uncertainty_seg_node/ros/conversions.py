"""sensor_msgs images <-> numpy arrays, with every check a bad camera message needs.

Incoming `Image` messages become zero-copy numpy views (honouring `step`); `cv_bridge` does the
conversion when it is importable, after the same checks. `CompressedImage` bytes are decoded by
OpenCV. Anything wrong raises `BadFrameError` with a short reason the node counts in
/diagnostics. No loop in Python ever touches pixels.
"""

from __future__ import annotations

import array
import sys
from typing import Any

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.imageops import SUPPORTED_ENCODINGS

# Camera encodings the node accepts -> channels.
CHANNELS: dict[str, int] = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}
# Every encoding this module writes (the outputs, and camera frames in tests) -> dtype, channels.
LAYOUTS: dict[str, tuple[np.dtype[Any], int]] = {
    **{name: (np.dtype(np.uint8), channels) for name, channels in CHANNELS.items()},
    "32FC1": (np.dtype(np.float32), 1),
}
COMPRESSED_FORMATS = ("jpeg", "jpg", "png")


class BadFrameError(UserError):
    """A camera message the node cannot use; `reason` is the key counted in diagnostics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _cv_bridge() -> Any:
    try:
        from cv_bridge import CvBridge
    except ImportError:
        return None
    return CvBridge()


_BRIDGE = _cv_bridge()


def check_size(height: int, width: int, max_pixels: int) -> None:
    """Reject zero-size and absurdly large frames (before any pixel is touched)."""
    if height <= 0 or width <= 0:
        raise BadFrameError("empty", f"image has zero size {width}x{height}")
    if height * width > max_pixels:
        raise BadFrameError(
            "too_large",
            f"image {width}x{height} has {height * width} pixels, more than "
            f"max_image_pixels={max_pixels}",
        )


def image_to_array(msg: Image, max_pixels: int) -> tuple[np.ndarray, str]:
    """A raw `Image` -> (uint8 (H, W, C) or (H, W) array, encoding), a view on `msg.data`."""
    encoding = msg.encoding.strip().lower()
    if encoding not in CHANNELS:
        raise BadFrameError(
            "encoding",
            f"unsupported encoding {msg.encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}",
        )
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    check_size(height, width, max_pixels)
    channels = CHANNELS[encoding]
    if step < width * channels:
        raise BadFrameError(
            "step", f"step {step} is less than width {width} x {channels} channels ({encoding})"
        )
    size = len(msg.data)
    if size != step * height:
        raise BadFrameError(
            "data_length", f"data holds {size} bytes, but step {step} x height {height} = "
            f"{step * height}",
        )
    if _BRIDGE is not None:
        return np.asarray(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding="passthrough")), encoding
    rows = np.frombuffer(msg.data, dtype=np.uint8).reshape(height, step)
    pixels = rows[:, : width * channels]
    if channels == 1:
        return pixels, encoding
    return pixels.reshape(height, width, channels), encoding


def compressed_to_array(msg: CompressedImage, max_pixels: int) -> tuple[np.ndarray, str]:
    """A jpeg/png `CompressedImage` -> (uint8 (H, W, 3) BGR, 'bgr8')."""
    fmt = msg.format.strip().lower()
    # image_transport writes e.g. "rgb8; jpeg compressed bgr8"; a bare "jpeg" is common too.
    if fmt and not any(name in fmt for name in COMPRESSED_FORMATS):
        raise BadFrameError("format", f"unsupported compressed format {msg.format!r}; "
                            "expected jpeg or png")
    if len(msg.data) == 0:
        raise BadFrameError("empty", "compressed image has no data")
    buffer = np.frombuffer(msg.data, dtype=np.uint8)
    # Read the header first so a huge frame is refused before it is decoded.
    header_ok, shape = _compressed_shape(buffer)
    if header_ok:
        check_size(shape[0], shape[1], max_pixels)
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise BadFrameError("decode", f"{len(msg.data)} bytes of {msg.format or 'image'} data "
                            "could not be decoded (corrupt or truncated)")
    check_size(image.shape[0], image.shape[1], max_pixels)
    return image, "bgr8"


def _compressed_shape(buffer: np.ndarray) -> tuple[bool, tuple[int, int]]:
    """(True, (H, W)) from a PNG or JPEG header; (False, (0, 0)) when it cannot tell."""
    data = buffer.tobytes()[:65536]
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return True, (int.from_bytes(data[20:24], "big"), int.from_bytes(data[16:20], "big"))
    if data[:2] != b"\xff\xd8":
        return False, (0, 0)
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            return False, (0, 0)
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):  # start of frame: precision, height, width
            return True, (int.from_bytes(data[pos + 5 : pos + 7], "big"),
                          int.from_bytes(data[pos + 7 : pos + 9], "big"))
        pos += 2 + length
    return False, (0, 0)


def array_to_image(array_: np.ndarray, encoding: str, header: Header) -> Image:
    """An array -> `Image` carrying `header` (stamp and frame_id) unchanged; see LAYOUTS."""
    dtype, channels = LAYOUTS[encoding]
    if array_.dtype != dtype or (array_.shape[2] if array_.ndim == 3 else 1) != channels:
        raise ValueError(f"{encoding} needs {dtype} with {channels} channel(s), got "
                         f"{array_.dtype} {array_.shape}")
    data = np.ascontiguousarray(array_)
    msg = Image()
    msg.header = header
    msg.height, msg.width = int(data.shape[0]), int(data.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = int(dtype.itemsize > 1 and sys.byteorder == "big")
    msg.step = int(data.shape[1] * channels * dtype.itemsize)
    payload = array.array("B")
    if data.size:
        payload.frombytes(data.data.cast("B"))  # one memcpy; array.array is what rclpy stores
    msg.data = payload
    return msg
