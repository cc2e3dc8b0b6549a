"""The image codec on real rclpy message objects, compressed frames, and arrays -> messages."""

from __future__ import annotations

import array

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from uncertainty_seg_node.image_codec.compressed import compressed_array
from uncertainty_seg_node.image_codec.raw import ImageFormatError, camera_array
from uncertainty_seg_node.ros.conversions import array_to_image

BIG = 1 << 30


def _image(array_: np.ndarray, encoding: str, pad: int = 0) -> Image:
    """An Image message whose rows carry `pad` extra bytes (a real camera quirk)."""
    rows = array_.reshape(array_.shape[0], -1)
    if pad:
        rows = np.concatenate([rows, np.full((rows.shape[0], pad), 7, np.uint8)], axis=1)
    msg = Image(height=array_.shape[0], width=array_.shape[1], encoding=encoding,
                step=rows.shape[1])
    msg.data = array.array("B", rows.tobytes())
    return msg


@pytest.mark.parametrize("encoding, channels", [
    ("rgb8", 3), ("bgr8", 3), ("rgba8", 4), ("bgra8", 4), ("mono8", 1),
])
@pytest.mark.parametrize("pad", [0, 5])
def test_camera_array_honours_step(encoding: str, channels: int, pad: int) -> None:
    rng = np.random.default_rng(0)
    shape = (6, 9) if channels == 1 else (6, 9, channels)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    out, enc = camera_array(_image(pixels, encoding, pad), BIG)
    assert enc == encoding
    np.testing.assert_array_equal(out, pixels)


def test_real_message_with_uppercase_encoding_is_refused() -> None:
    msg = Image(height=4, width=4, encoding="RGB8", step=12)
    msg.data = array.array("B", bytes(48))
    with pytest.raises(ImageFormatError) as info:
        camera_array(msg, BIG)
    assert info.value.reason == "encoding" and "lower case" in str(info.value)


def _compressed(data: bytes, fmt: str = "jpeg") -> CompressedImage:
    msg = CompressedImage(format=fmt)
    msg.data = array.array("B", data)
    return msg


def compressed_to_array(msg: CompressedImage, max_pixels: int) -> tuple[np.ndarray, str]:
    return compressed_array(msg.data, msg.format, max_pixels)


@pytest.mark.parametrize("ext, fmt", [(".jpg", "jpeg"), (".png", "png"),
                                      (".png", "rgb8; png compressed bgr8")])
def test_compressed_decodes_to_bgr(ext: str, fmt: str) -> None:
    bgr = np.zeros((20, 30, 3), np.uint8)
    bgr[:, :15] = (255, 0, 0)
    ok, encoded = cv2.imencode(ext, bgr)
    assert ok
    out, enc = compressed_to_array(_compressed(encoded.tobytes(), fmt), BIG)
    assert enc == "bgr8" and out.shape == (20, 30, 3)
    assert np.abs(out.astype(int) - bgr).mean() < 4  # jpeg is lossy (edges ring)
    assert [int(v) for v in out[10, 3]] == pytest.approx([255, 0, 0], abs=8)


def test_compressed_size_read_from_header_before_decoding() -> None:
    for ext in (".jpg", ".png"):
        ok, encoded = cv2.imencode(ext, np.zeros((40, 70, 3), np.uint8))
        with pytest.raises(ImageFormatError) as info:
            compressed_to_array(_compressed(encoded.tobytes()), 40 * 70 - 1)
        assert info.value.reason == "too_large"


@pytest.mark.parametrize("data, fmt, reason", [
    (b"", "jpeg", "empty"),
    (b"\xff\xd8\xff\xe0garbage that is not a jpeg", "jpeg", "decode"),
    (bytes(range(256)) * 10, "jpeg", "decode"),
    (b"\x00" * 100, "tiff", "format"),
])
def test_corrupt_compressed_is_rejected(data: bytes, fmt: str, reason: str) -> None:
    with pytest.raises(ImageFormatError) as info:
        compressed_to_array(_compressed(data, fmt), BIG)
    assert info.value.reason == reason


def test_truncated_jpeg_is_rejected_or_decoded_at_full_size() -> None:
    rng = np.random.default_rng(1)
    ok, encoded = cv2.imencode(".jpg", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    try:
        out, _ = compressed_to_array(_compressed(encoded.tobytes()[:200]), BIG)
    except ImageFormatError as exc:
        assert exc.reason == "decode"
    else:  # libjpeg may fill a truncated scan with grey: the size must still be the header's
        assert out.shape == (64, 64, 3)


@pytest.mark.parametrize("encoding, array_", [
    ("mono8", np.arange(12, dtype=np.uint8).reshape(3, 4)),
    ("rgb8", np.arange(36, dtype=np.uint8).reshape(3, 4, 3)),
    ("32FC1", np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)),
    ("bgra8", np.arange(48, dtype=np.uint8).reshape(3, 4, 4)),
])
def test_array_to_image_round_trip(encoding: str, array_: np.ndarray) -> None:
    header = Header(frame_id="cam")
    header.stamp.sec, header.stamp.nanosec = 12, 345
    msg = array_to_image(array_, encoding, header)
    assert msg.header.frame_id == "cam" and msg.header.stamp.nanosec == 345
    assert (msg.height, msg.width, msg.encoding) == (3, 4, encoding)
    assert msg.step * msg.height == len(msg.data) and msg.is_bigendian == 0
    back = np.frombuffer(msg.data, dtype=array_.dtype).reshape(array_.shape)
    np.testing.assert_array_equal(back, array_)


def test_array_to_image_refuses_wrong_dtype() -> None:
    with pytest.raises(ValueError, match="32FC1"):
        array_to_image(np.zeros((2, 2), np.float64), "32FC1", Header())
    with pytest.raises(ValueError, match="rgb8"):
        array_to_image(np.zeros((2, 2), np.uint8), "rgb8", Header())
