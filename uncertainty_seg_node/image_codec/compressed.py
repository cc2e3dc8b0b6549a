"""sensor_msgs/CompressedImage bytes (jpeg, png) -> numpy arrays, size-checked before decoding."""

from __future__ import annotations

import cv2
import numpy as np

from uncertainty_seg_node.image_codec.raw import ImageFormatError, check_size

COMPRESSED_FORMATS = ("jpeg", "jpg", "png")


def compressed_array(data: object, fmt: str, max_pixels: int | None = None, *,
                     unchanged: bool = False) -> tuple[np.ndarray, str]:
    """JPEG or PNG bytes -> (uint8 (H, W, 3) BGR, 'bgr8').

    With `unchanged`, the stored layout instead: 'mono8', 'mono16', 'bgr8' or 'bgra8' (16-bit
    colour keeps its high byte), as a bag reader wants it.
    """
    name = fmt.strip().lower()
    # image_transport writes e.g. "rgb8; jpeg compressed bgr8"; a bare "jpeg" is common too.
    if name and not any(known in name for known in COMPRESSED_FORMATS):
        raise ImageFormatError("format", f"unsupported compressed format {fmt!r}; "
                               "expected jpeg or png")
    buffer = np.frombuffer(data, dtype=np.uint8)  # type: ignore[call-overload]
    if buffer.size == 0:
        raise ImageFormatError("empty", "compressed image has no data")
    header_ok, shape = compressed_shape(buffer)
    if header_ok:  # a huge frame is refused before it is decoded
        check_size(shape[0], shape[1], max_pixels)
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED if unchanged else cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ImageFormatError("decode", f"{buffer.size} bytes of {fmt or 'image'} data could "
                               "not be decoded (corrupt or truncated)")
    check_size(image.shape[0], image.shape[1], max_pixels)
    if image.ndim == 2:
        return image, "mono16" if image.dtype == np.uint16 else "mono8"
    if image.dtype != np.uint8:
        image = (image.astype(np.uint16) >> 8).astype(np.uint8)
    return image, "bgra8" if image.shape[2] == 4 else "bgr8"


def compressed_shape(buffer: np.ndarray) -> tuple[bool, tuple[int, int]]:
    """(True, (H, W)) from a PNG or JPEG header; (False, (0, 0)) when it cannot tell."""
    data = buffer[:65536].tobytes()
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
