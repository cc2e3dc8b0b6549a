"""ROS 2 message types (rosbags typestore, no rclpy) and image <-> message conversions."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from uncertainty_seg_node.errors import UserError

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
STRING = "std_msgs/msg/String"

# encoding -> (numpy dtype, channels) of the raw images this package reads and writes
RAW_ENCODINGS: dict[str, tuple[str, int]] = {
    "rgb8": ("u1", 3), "bgr8": ("u1", 3), "rgba8": ("u1", 4), "bgra8": ("u1", 4),
    "mono8": ("u1", 1), "8UC1": ("u1", 1), "8UC3": ("u1", 3),
    "mono16": ("u2", 1), "16UC1": ("u2", 1), "32FC1": ("f4", 1),
}


@functools.lru_cache(maxsize=1)
def typestore() -> Any:
    """The rosbags typestore of ROS 2 Kilted (these message definitions equal Humble's)."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)


def header(stamp_ns: int, frame_id: str) -> Any:
    """std_msgs/Header with the stamp exactly `stamp_ns`."""
    if stamp_ns < 0:
        raise UserError(f"stamp {stamp_ns} ns is negative; bag stamps are ns since the epoch")
    types = typestore().types
    stamp = types["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
    return types["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def stamp_of(msg: Any) -> int:
    """Header stamp of a message in ns."""
    return int(msg.header.stamp.sec) * 10**9 + int(msg.header.stamp.nanosec)


def image_message(stamp_ns: int, frame_id: str, array: np.ndarray, encoding: str) -> Any:
    """A sensor_msgs/Image (little-endian, tightly packed rows) from an array."""
    if encoding not in RAW_ENCODINGS:
        raise UserError(
            f"cannot write image encoding {encoding!r}; supported: {', '.join(RAW_ENCODINGS)}"
        )
    kind, channels = RAW_ENCODINGS[encoding]
    dtype = np.dtype("<" + kind)
    got_channels = 1 if array.ndim == 2 else array.shape[2]
    if array.ndim not in (2, 3) or got_channels != channels:
        raise UserError(f"{encoding} image needs {channels} channel(s); got shape {array.shape}")
    if array.dtype.kind != dtype.kind or array.dtype.itemsize != dtype.itemsize:
        raise UserError(f"{encoding} image needs dtype {dtype.name}; got {array.dtype}")
    data = np.ascontiguousarray(array, dtype=dtype)
    height, width = data.shape[:2]
    return typestore().types[IMAGE](
        header=header(stamp_ns, frame_id), height=height, width=width, encoding=encoding,
        is_bigendian=0, step=width * channels * dtype.itemsize,
        data=data.reshape(-1).view(np.uint8),
    )


def compressed_message(stamp_ns: int, frame_id: str, rgb: np.ndarray, fmt: str,
                       quality: int = 90) -> Any:
    """A sensor_msgs/CompressedImage (jpeg or png, as image_transport writes them) from RGB."""
    import cv2

    if fmt not in ("jpeg", "png"):
        raise UserError(f"compressed format {fmt!r} is not supported; use jpeg or png")
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise UserError(f"compressed images are written from uint8 HxWx3 RGB; got "
                        f"{rgb.dtype} {rgb.shape}")
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if fmt == "jpeg" else []
    ok, encoded = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", bgr, params)
    if not ok:
        raise UserError(f"OpenCV could not encode a {rgb.shape} image as {fmt}")
    return typestore().types[COMPRESSED_IMAGE](
        header=header(stamp_ns, frame_id), format=f"rgb8; {fmt} compressed bgr8",
        data=encoded.reshape(-1),
    )


def encoded_message(stamp_ns: int, frame_id: str, data: bytes, fmt: str) -> Any:
    """A sensor_msgs/CompressedImage carrying encoded bytes as they are."""
    if fmt not in ("jpeg", "png"):
        raise UserError(f"compressed format {fmt!r} is not supported; use jpeg or png")
    return typestore().types[COMPRESSED_IMAGE](
        header=header(stamp_ns, frame_id), format=f"rgb8; {fmt} compressed bgr8",
        data=np.frombuffer(data, dtype=np.uint8),
    )


def string_message(text: str) -> Any:
    """A std_msgs/String."""
    return typestore().types[STRING](data=text)


def image_array(msg: Any) -> tuple[np.ndarray, str]:
    """Raw sensor_msgs/Image -> (native-endian array HxW or HxWxC, encoding), honouring `step`."""
    encoding = str(msg.encoding)
    if encoding not in RAW_ENCODINGS:
        raise UserError(
            f"image encoding {encoding!r} is not supported; supported: {', '.join(RAW_ENCODINGS)}"
        )
    kind, channels = RAW_ENCODINGS[encoding]
    dtype = np.dtype(("<" if not msg.is_bigendian else ">") + kind)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    row = width * channels * dtype.itemsize
    raw = np.frombuffer(msg.data, dtype=np.uint8)
    if step < row or raw.size < height * step:
        raise UserError(
            f"{encoding} image message of {width}x{height} with step {step} has {raw.size} data "
            f"bytes; expected {height * step} with step >= {row}"
        )
    rows = raw[: height * step].reshape(height, step)[:, :row]
    array = np.ascontiguousarray(rows).view(dtype).astype(dtype.newbyteorder("="), copy=False)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return array.reshape(shape), encoding


def compressed_array(msg: Any) -> tuple[np.ndarray, str]:
    """sensor_msgs/CompressedImage -> (decoded array, 'bgr8' | 'bgra8' | 'mono8' | 'mono16')."""
    import cv2

    decoded = cv2.imdecode(np.frombuffer(msg.data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise UserError(f"compressed image ({msg.format!r}, {len(msg.data)} bytes) does not "
                        "decode")
    if decoded.ndim == 2:
        return decoded, "mono16" if decoded.dtype == np.uint16 else "mono8"
    if decoded.dtype != np.uint8:
        decoded = (decoded.astype(np.uint16) >> 8).astype(np.uint8)
    return decoded, "bgra8" if decoded.shape[2] == 4 else "bgr8"
