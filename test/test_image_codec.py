"""The one image codec against brute-force references: every camera encoding, exact `step`.

Messages are plain objects with the sensor_msgs/Image fields (the codec reads rclpy's and
rosbags' messages alike), so this runs without ROS.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from uncertainty_seg_node.image_codec.encodings import (
    CAMERA_ENCODINGS,
    ENCODINGS,
    MODEL_ENCODINGS,
    to_rgb,
)
from uncertainty_seg_node.image_codec.raw import (
    ImageFormatError,
    camera_array,
    message_array,
    message_fields,
)

RNG = np.random.default_rng(0)


def _msg(rows: np.ndarray, width: int, encoding: str, pad: int = 0,
         bigendian: bool = False) -> SimpleNamespace:
    """An Image-like message of uint8 `rows` (H, row bytes) with `pad` junk bytes per row."""
    if pad:
        rows = np.concatenate([rows, np.full((rows.shape[0], pad), 7, np.uint8)], axis=1)
    return SimpleNamespace(height=rows.shape[0], width=width, encoding=encoding,
                           is_bigendian=int(bigendian), step=rows.shape[1],
                           data=rows.tobytes())


def _packed(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array).view(np.uint8).reshape(array.shape[0], -1)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8"])
@pytest.mark.parametrize("pad", [0, 1, 5])
def test_model_encodings_pass_through_untouched(encoding: str, pad: int) -> None:
    channels = ENCODINGS[encoding].channels
    shape = (6, 9) if channels == 1 else (6, 9, channels)
    pixels = RNG.integers(0, 256, shape, dtype=np.uint8)
    out, enc = camera_array(_msg(_packed(pixels), 9, encoding, pad))
    assert enc == encoding  # rgba8 / bgra8 reach predict as they are (converted after resize)
    np.testing.assert_array_equal(out, pixels)


@pytest.mark.parametrize("bigendian", [False, True])
@pytest.mark.parametrize("pad", [0, 3])  # an odd step: rows are not 2-byte aligned
def test_mono16_keeps_the_high_byte(bigendian: bool, pad: int) -> None:
    pixels = RNG.integers(0, 65536, (5, 7), dtype=np.uint16)
    stored = pixels.astype(">u2" if bigendian else "<u2")
    msg = _msg(_packed(stored), 7, "mono16", pad, bigendian)
    raw, enc = message_array(msg)
    assert enc == "mono16" and raw.dtype == np.uint16
    np.testing.assert_array_equal(raw, pixels)
    out, enc = camera_array(msg)
    assert enc == "mono8"
    np.testing.assert_array_equal(out, (pixels // 256).astype(np.uint8))


def _yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """BT.601 limited range, the reference for OpenCV's 4:2:2 conversion."""
    y, u, v = (np.asarray(c, np.float64) for c in (y, u, v))
    c, d, e = 1.164 * (y - 16), u - 128, v - 128
    rgb = np.stack([c + 1.596 * e, c - 0.391 * d - 0.813 * e, c + 2.018 * d], axis=-1)
    return np.clip(np.round(rgb), 0, 255)


@pytest.mark.parametrize("encoding, order", [
    ("yuv422", "uyvy"), ("uyvy", "uyvy"), ("yuv422_yuy2", "yuy2")])
@pytest.mark.parametrize("pad", [0, 6])
def test_packed_yuv422_decodes_in_its_byte_order(encoding: str, order: str, pad: int) -> None:
    height, width = 4, 8
    y = RNG.integers(40, 220, (height, width), dtype=np.uint8)
    u = RNG.integers(60, 200, (height, width // 2), dtype=np.uint8)
    v = RNG.integers(60, 200, (height, width // 2), dtype=np.uint8)
    packed = np.empty((height, width * 2), np.uint8)
    if order == "uyvy":
        packed[:, 0::4], packed[:, 1::4], packed[:, 2::4], packed[:, 3::4] = (
            u, y[:, 0::2], v, y[:, 1::2])
    else:
        packed[:, 0::4], packed[:, 1::4], packed[:, 2::4], packed[:, 3::4] = (
            y[:, 0::2], u, y[:, 1::2], v)
    out, enc = camera_array(_msg(packed, width, encoding, pad))
    assert enc == "rgb8" and out.shape == (height, width, 3)
    expected = _yuv_to_rgb(y, np.repeat(u, 2, axis=1), np.repeat(v, 2, axis=1))
    assert np.abs(out.astype(int) - expected).max() <= 2


# Which colour sits at (row 0, col 0), (0, 1), (1, 0), (1, 1) of each 2x2 Bayer cell.
_CFA = {"bayer_rggb8": "RGGB", "bayer_bggr8": "BGGR", "bayer_gbrg8": "GBRG",
        "bayer_grbg8": "GRBG"}


@pytest.mark.parametrize("encoding", sorted(_CFA))
@pytest.mark.parametrize("pad", [0, 4])
def test_bayer_mosaic_demosaics_to_its_colours(encoding: str, pad: int) -> None:
    height, width = 12, 16
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, : width // 2] = (200, 90, 30)  # two flat colours: R, G and B all differ
    rgb[:, width // 2:] = (20, 160, 240)
    mosaic = np.empty((height, width), np.uint8)
    for index, colour in enumerate(_CFA[encoding]):
        r, c = divmod(index, 2)
        mosaic[r::2, c::2] = rgb[r::2, c::2, "RGB".index(colour)]
    out, enc = camera_array(_msg(mosaic, width, encoding, pad))
    assert enc == "rgb8" and out.shape == rgb.shape
    # Inside each flat area (away from the seam and the border) the demosaic is exact.
    for cols in (slice(2, width // 2 - 2), slice(width // 2 + 2, width - 2)):
        np.testing.assert_allclose(out[2:-2, cols].astype(int), rgb[2:-2, cols], atol=1)


def test_every_camera_encoding_is_tested_here() -> None:
    tested = {"rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16", "yuv422", "uyvy",
              "yuv422_yuy2", *_CFA}
    assert set(CAMERA_ENCODINGS) == tested


@pytest.mark.parametrize("encoding, step, size, width, reason, text", [
    ("RGB8", 12, 48, 4, "encoding", "lower case: 'rgb8'"),
    ("Bayer_RGGB8", 4, 16, 4, "encoding", "lower case"),
    ("hsv8", 12, 48, 4, "encoding", "unsupported image encoding 'hsv8'"),
    ("", 12, 48, 4, "encoding", "unsupported"),
    ("32FC1", 16, 64, 4, "encoding", "32FC1"),  # data, not a camera frame
    ("16UC1", 8, 32, 4, "encoding", "16UC1"),
    ("rgb8", 11, 44, 4, "step", "step 11"),
    ("mono16", 7, 28, 4, "step", "2 byte(s)"),
    ("rgb8", 12, 47, 4, "data_length", "47 bytes"),
    ("rgb8", 12, 49, 4, "data_length", "49 bytes"),
    ("mono8", 4, 0, 4, "data_length", "0 bytes"),
    ("yuv422", 6, 24, 3, "size", "odd"),
])
def test_bad_messages_are_refused_with_a_reason(encoding: str, step: int, size: int,
                                                width: int, reason: str, text: str) -> None:
    msg = SimpleNamespace(height=4, width=width, encoding=encoding, is_bigendian=0, step=step,
                          data=bytes(size))
    with pytest.raises(ImageFormatError) as info:
        camera_array(msg, 1 << 30)
    assert info.value.reason == reason and text in str(info.value)


@pytest.mark.parametrize("height, width, reason", [(0, 4, "empty"), (4, 0, "empty"),
                                                   (4320, 7680, "too_large")])
def test_size_is_checked_before_the_data(height: int, width: int, reason: str) -> None:
    msg = SimpleNamespace(height=height, width=width, encoding="rgb8", is_bigendian=0,
                          step=width * 3, data=b"")
    with pytest.raises(ImageFormatError) as info:
        camera_array(msg, 4096 * 4096)
    assert info.value.reason == reason


@pytest.mark.parametrize("encoding, array", [
    ("mono8", np.arange(12, dtype=np.uint8).reshape(3, 4)),
    ("rgb8", np.arange(36, dtype=np.uint8).reshape(3, 4, 3)),
    ("mono16", np.arange(0, 60000, 5000, dtype=np.uint16).reshape(3, 4)),
    ("32FC1", np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)),
    ("yuv422", np.arange(24, dtype=np.uint8).reshape(3, 4, 2)),
])
def test_fields_round_trip(encoding: str, array: np.ndarray) -> None:
    fields = message_fields(array, encoding)
    assert fields["step"] * fields["height"] == fields["data"].size
    back, enc = message_array(SimpleNamespace(**fields))
    assert enc == encoding and back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)


def test_fields_refuse_a_wrong_layout() -> None:
    with pytest.raises(ValueError, match="32FC1"):
        message_fields(np.zeros((2, 2), np.float64), "32FC1")
    with pytest.raises(ValueError, match="rgb8"):
        message_fields(np.zeros((2, 2), np.uint8), "rgb8")


@pytest.mark.parametrize("encoding", MODEL_ENCODINGS)
def test_to_rgb_matches_opencv(encoding: str) -> None:
    channels = ENCODINGS[encoding].channels
    image = RNG.integers(0, 256, (3, 5) if channels == 1 else (3, 5, channels), dtype=np.uint8)
    reference = {"rgb8": image, "bgr8": image[..., ::-1], "rgba8": image[..., :3],
                 "bgra8": image[..., 2::-1],
                 "mono8": np.repeat(image[..., None], 3, axis=2)}[encoding]
    np.testing.assert_array_equal(to_rgb(image, encoding), reference)
