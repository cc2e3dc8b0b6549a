"""Pure colour functions shared by the ROS node, the replay and its report.

Everything takes and returns numpy arrays: uint8 (H, W, 3) RGB images, uint8 (H, W) class ids,
float32 (H, W) confidence in [0, 1], bool (H, W) masks. No ROS, no matplotlib: the node calls
these on every frame, so they are lookup tables and a few vectorised operations.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

# Uncertain pixels (confidence <= gamma) are marked in this colour on the confidence image.
UNCERTAIN_COLOR: tuple[int, int, int] = (255, 0, 255)
# Error map colours: accurate, wrong, ignored (void) pixels.
CORRECT_COLOR: tuple[int, int, int] = (40, 160, 40)
WRONG_COLOR: tuple[int, int, int] = (230, 30, 30)
IGNORE_COLOR: tuple[int, int, int] = (0, 0, 0)

_CONFIDENCE_LEVELS = 256


def _viridis_lut() -> np.ndarray:
    """(256, 3) uint8 RGB viridis, low confidence dark purple, high yellow."""
    ramp = np.arange(_CONFIDENCE_LEVELS, dtype=np.uint8).reshape(-1, 1)
    bgr = cv2.applyColorMap(ramp, cv2.COLORMAP_VIRIDIS).reshape(-1, 3)
    return np.ascontiguousarray(bgr[:, ::-1])


CONFIDENCE_LUT: np.ndarray = _viridis_lut()


def palette_array(palette: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
    """A class palette (K tuples of RGB) -> (K, 3) uint8 array."""
    array = np.asarray(palette, dtype=np.int64).reshape(-1, 3)
    if array.size and (array.min() < 0 or array.max() > 255):
        raise ValueError("palette colours must be RGB triples in 0..255")
    return array.astype(np.uint8)


def _palette_lut(palette: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
    """(256, 1, 3) uint8 lookup table: id -> colour, ids beyond the palette black."""
    colours = palette_array(palette)[:256]
    lut = np.zeros((256, 1, 3), dtype=np.uint8)
    lut[: len(colours), 0] = colours
    return lut


def colorize_segmentation(
    class_ids: np.ndarray, palette: Sequence[Sequence[int]] | np.ndarray
) -> np.ndarray:
    """uint8 (H, W) class ids -> uint8 (H, W, 3) RGB; ids outside the palette (e.g. 255) black."""
    ids = np.ascontiguousarray(class_ids, dtype=np.uint8)
    # cv2.LUT on three copies of the ids: ~5x faster than numpy fancy indexing per frame.
    return cv2.LUT(cv2.merge([ids, ids, ids]), _palette_lut(palette))


def confidence_to_uint8(confidence: np.ndarray) -> np.ndarray:
    """Map float (H, W) confidence in [0, 1] to uint8 0..255 (rounded; NaN -> 0, clipped)."""
    return cv2.convertScaleAbs(np.fmax(confidence.astype(np.float32, copy=False), 0.0),
                               alpha=255.0)


def _tinted_lut(uncertain_color: tuple[int, int, int], mark_alpha: float) -> np.ndarray:
    return blend(CONFIDENCE_LUT[None], np.asarray(uncertain_color, np.uint8), mark_alpha)[0]


def colorize_confidence(
    confidence: np.ndarray,
    certain: np.ndarray | None = None,
    *,
    uncertain_color: tuple[int, int, int] = UNCERTAIN_COLOR,
    mark_alpha: float = 0.6,
) -> np.ndarray:
    """Confidence through the viridis map; pixels with `certain == False` tinted `uncertain_color`.

    The tint is a blend (weight `mark_alpha`), so the confidence level below it stays readable.
    """
    level = confidence_to_uint8(confidence)
    levels = cv2.merge([level, level, level])
    rgb = cv2.LUT(levels, CONFIDENCE_LUT[:, None, :])
    if certain is None:
        return rgb
    if certain.shape != confidence.shape:
        raise ValueError(
            f"certain mask {certain.shape} does not match confidence {confidence.shape}"
        )
    tinted = cv2.LUT(levels, _tinted_lut(uncertain_color, mark_alpha)[:, None, :])
    cv2.copyTo(tinted, np.logical_not(certain).view(np.uint8), rgb)
    return rgb


def certain_mask_to_mono8(certain: np.ndarray) -> np.ndarray:
    """Map a bool (H, W) certain mask to uint8 0 / 255 (visible as an image in RViz)."""
    return certain.astype(np.uint8) * np.uint8(255)


def blend(
    image: np.ndarray,
    overlay: np.ndarray,
    alpha: float = 0.5,
    *,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """(1 - alpha) * image + alpha * overlay, only where `mask` is True when a mask is given.

    `overlay` is an (H, W, 3) image or a single RGB colour (shape (3,)). Returns uint8 RGB.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha {alpha} is outside [0, 1]")
    base = image.astype(np.float32)
    top = np.broadcast_to(np.asarray(overlay, dtype=np.float32), base.shape)
    mixed = base * (1.0 - alpha) + top * alpha
    if mask is not None:
        mixed = np.where(mask[..., None], mixed, base)
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def error_map(
    class_ids: np.ndarray, labels: np.ndarray, ignore_index: int = 255
) -> np.ndarray:
    """RGB map of prediction vs ground truth: green accurate, red wrong, black ignored."""
    if class_ids.shape != labels.shape:
        raise ValueError(f"prediction {class_ids.shape} and labels {labels.shape} differ in size")
    out = np.empty((*labels.shape, 3), dtype=np.uint8)
    out[:] = WRONG_COLOR
    out[class_ids == labels] = CORRECT_COLOR
    out[labels == ignore_index] = IGNORE_COLOR
    return out


# The node's output topics (relative to its namespace) and their encodings, in publish order.
OUTPUT_ENCODINGS: dict[str, str] = {
    "segmentation": "mono8",
    "confidence": "32FC1",
    "certain_mask": "mono8",
    "segmentation_color": "rgb8",
    "confidence_color": "rgb8",
}


def output_images(
    class_ids: np.ndarray,
    confidence: np.ndarray,
    certain: np.ndarray,
    palette: Sequence[Sequence[int]] | np.ndarray,
    *,
    image: np.ndarray | None = None,
    overlay_alpha: float = 0.0,
    names: Sequence[str] | None = None,
) -> dict[str, tuple[np.ndarray, str]]:
    """What the node publishes for one prediction: {name: (array, encoding)}.

    `segmentation` holds class ids (mono8), `confidence` the float32 map (32FC1), `certain_mask`
    0/255 (mono8), `segmentation_color` the palette image (blended over `image` when
    `overlay_alpha` > 0), `confidence_color` viridis with uncertain pixels tinted. `names`
    restricts which are rendered (the colour images cost the most).
    """
    wanted = tuple(OUTPUT_ENCODINGS) if names is None else tuple(names)
    unknown = sorted(set(wanted) - set(OUTPUT_ENCODINGS))
    if unknown:
        raise ValueError(f"unknown output(s) {unknown}; known: {list(OUTPUT_ENCODINGS)}")
    out: dict[str, tuple[np.ndarray, str]] = {}
    for name in wanted:
        if name == "segmentation":
            array = np.ascontiguousarray(class_ids, dtype=np.uint8)
        elif name == "confidence":
            array = np.ascontiguousarray(confidence, dtype=np.float32)
        elif name == "certain_mask":
            array = certain_mask_to_mono8(certain)
        elif name == "segmentation_color":
            array = colorize_segmentation(class_ids, palette)
            if image is not None and overlay_alpha > 0.0:
                array = blend(image, array, overlay_alpha)
        else:
            array = colorize_confidence(confidence, certain)
        out[name] = (array, OUTPUT_ENCODINGS[name])
    return out
