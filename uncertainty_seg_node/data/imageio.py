"""Reading image, label and mask files with clear errors (OpenCV; images come back RGB)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from uncertainty_seg_node.errors import UserError

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def is_image_file(path: Path) -> bool:
    """True for a regular file whose suffix is a supported image format."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()


def _imread(path: Path, flags: int) -> np.ndarray:
    # np.fromfile + imdecode also handles non-ASCII paths and reports unreadable files as None.
    try:
        buffer = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    image = cv2.imdecode(buffer, flags) if buffer.size else None
    if image is None:
        raise UserError(
            f"cannot decode {path} (corrupt or not an image); re-export it or remove it"
        )
    return image


def read_rgb(path: Path) -> np.ndarray:
    """An image file -> uint8 (H, W, 3) RGB (grey and alpha images are converted)."""
    image = _imread(path, cv2.IMREAD_UNCHANGED)
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise UserError(f"{path}: image dtype {image.dtype} is not 8-bit; convert it to 8-bit")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_label(path: Path) -> np.ndarray:
    """A label file as stored: (H, W) ids (uint8/uint16) or (H, W, 3) RGB colour labels."""
    label = _imread(path, cv2.IMREAD_UNCHANGED)
    if label.ndim == 3:
        code = cv2.COLOR_BGRA2RGB if label.shape[2] == 4 else cv2.COLOR_BGR2RGB
        label = cv2.cvtColor(label, code)
    return label


def read_mask(path: Path) -> np.ndarray:
    """A 0/255 (or 0/1) mask file -> bool (H, W)."""
    mask = _imread(path, cv2.IMREAD_GRAYSCALE)
    return mask > 0


def check_same_size(image: np.ndarray, other: np.ndarray, image_path: Path, other_path: Path,
                    what: str = "label") -> None:
    """Raise a UserError naming both files and sizes when `other` is not image-sized."""
    if image.shape[:2] != other.shape[:2]:
        ih, iw = image.shape[:2]
        oh, ow = other.shape[:2]
        raise UserError(
            f"{what} {other_path} is {ow}x{oh} but its image {image_path} is {iw}x{ih} (WxH); "
            f"{what}s must have their image's size"
        )
