"""ROS 2 message types (rosbags typestore, no rclpy) and image <-> message conversions."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.image_codec import compressed, raw

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
STRING = "std_msgs/msg/String"

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
    """A sensor_msgs/Image (native-endian, tightly packed rows) from an array."""
    try:
        fields = raw.message_fields(array, encoding)
    except ValueError as exc:
        raise UserError(f"cannot write the image: {exc}") from None
    return typestore().types[IMAGE](header=header(stamp_ns, frame_id), **fields)


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
    return raw.message_array(msg)


def compressed_array(msg: Any) -> tuple[np.ndarray, str]:
    """sensor_msgs/CompressedImage -> (decoded array, 'bgr8' | 'bgra8' | 'mono8' | 'mono16')."""
    return compressed.compressed_array(msg.data, str(msg.format), unchanged=True)
