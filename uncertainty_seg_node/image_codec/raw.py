"""Raw sensor_msgs/Image fields <-> numpy arrays, with every check a bad camera message needs.

Works on any object with the message's fields (rclpy's and rosbags' messages alike). Rows are
read at exactly `step` bytes, so padded rows never shear the image; a message whose `data` is not
exactly `step * height` bytes is refused. Anything wrong raises `ImageFormatError`, whose
`reason` is the short key the node counts in /diagnostics. No Python loop touches pixels.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.image_codec.encodings import (
    CAMERA_ENCODINGS,
    ENCODINGS,
    to_model_encoding,
    unsupported,
)


class ImageFormatError(UserError):
    """An image message that cannot be read; `reason` is the key counted in diagnostics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_size(height: int, width: int, max_pixels: int | None) -> None:
    """Reject zero-size and absurdly large frames (before any pixel is touched)."""
    if height <= 0 or width <= 0:
        raise ImageFormatError("empty", f"image has zero size {width}x{height}")
    if max_pixels is not None and height * width > max_pixels:
        raise ImageFormatError(
            "too_large",
            f"image {width}x{height} has {height * width} pixels, more than "
            f"max_image_pixels={max_pixels}",
        )


def message_array(msg: Any, *, encodings: tuple[str, ...] = tuple(ENCODINGS),
                  max_pixels: int | None = None) -> tuple[np.ndarray, str]:
    """An Image message -> ((H, W) or (H, W, C) native-endian array, encoding).

    A zero-copy view on `msg.data` when the data is native-endian; `encodings` are the ones the
    caller accepts (all of the table by default).
    """
    encoding = str(msg.encoding)
    if encoding not in encodings:
        raise ImageFormatError("encoding", unsupported(encoding, encodings))
    layout = ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    check_size(height, width, max_pixels)
    if layout.channels == 2 and width % 2:
        raise ImageFormatError("size", f"{encoding} packs two pixels in 4 bytes; width {width} "
                               "is odd")
    dtype = np.dtype(layout.dtype).newbyteorder(">" if msg.is_bigendian else "<")
    row = width * layout.channels * dtype.itemsize
    if step < row:
        raise ImageFormatError(
            "step", f"step {step} is less than width {width} x {layout.channels} channel(s) x "
            f"{dtype.itemsize} byte(s) = {row} ({encoding})")
    raw = np.frombuffer(msg.data, dtype=np.uint8)
    if raw.size != step * height:
        raise ImageFormatError(
            "data_length", f"data holds {raw.size} bytes, but step {step} x height {height} = "
            f"{step * height}")
    rows = raw.reshape(height, step)[:, :row]
    if dtype.itemsize == 1:
        pixels = rows
    else:  # a view of another type needs contiguous rows; native byte order for OpenCV
        pixels = np.ascontiguousarray(rows).view(dtype).astype(dtype.newbyteorder("="),
                                                               copy=False)
    shape = (height, width) if layout.channels == 1 else (height, width, layout.channels)
    return pixels.reshape(shape), encoding


def camera_array(msg: Any, max_pixels: int | None = None) -> tuple[np.ndarray, str]:
    """A camera Image -> (array, encoding) that `Predictor.predict` reads (see encodings)."""
    image, encoding = message_array(msg, encodings=CAMERA_ENCODINGS, max_pixels=max_pixels)
    return to_model_encoding(image, encoding)


def message_fields(array: np.ndarray, encoding: str) -> dict[str, Any]:
    """The Image fields of an array: height, width, encoding, is_bigendian, step, data (uint8).

    Rows are tightly packed in native byte order; `data` is a flat uint8 array (one copy at most).
    """
    layout = ENCODINGS.get(encoding)
    if layout is None:
        raise ValueError(unsupported(encoding, tuple(ENCODINGS)))
    dtype = np.dtype(layout.dtype)
    channels = array.shape[2] if array.ndim == 3 else 1
    if array.ndim not in (2, 3) or channels != layout.channels or (
            array.dtype.kind, array.dtype.itemsize) != (dtype.kind, dtype.itemsize):
        raise ValueError(f"{encoding} needs {dtype} with {layout.channels} channel(s), got "
                         f"{array.dtype} {array.shape}")
    data = np.ascontiguousarray(array, dtype=dtype.newbyteorder("="))
    return {
        "height": int(data.shape[0]), "width": int(data.shape[1]), "encoding": encoding,
        "is_bigendian": int(dtype.itemsize > 1 and sys.byteorder == "big"),
        "step": int(data.shape[1] * layout.channels * dtype.itemsize),
        "data": data.reshape(-1).view(np.uint8),
    }
