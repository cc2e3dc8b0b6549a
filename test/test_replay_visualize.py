"""The shared colour functions the node and the replay publish with."""

from __future__ import annotations

import numpy as np
import pytest

from uncertainty_seg_node.classes import CITYSCAPES_PALETTE
from uncertainty_seg_node.visualize import (
    CONFIDENCE_LUT,
    OUTPUT_ENCODINGS,
    UNCERTAIN_COLOR,
    blend,
    colorize_confidence,
    colorize_segmentation,
    error_map,
    output_images,
)


def test_segmentation_colours_follow_the_palette_and_ignore_is_black() -> None:
    ids = np.array([[0, 13], [255, 18]], dtype=np.uint8)
    rgb = colorize_segmentation(ids, CITYSCAPES_PALETTE)
    assert tuple(rgb[0, 0]) == CITYSCAPES_PALETTE[0]
    assert tuple(rgb[0, 1]) == CITYSCAPES_PALETTE[13]
    assert tuple(rgb[1, 0]) == (0, 0, 0)
    assert tuple(rgb[1, 1]) == CITYSCAPES_PALETTE[18]


def test_confidence_colours_mark_uncertain_pixels_only() -> None:
    conf = np.array([[0.0, 1.0], [0.9, 0.2]], dtype=np.float32)
    certain = conf > 0.5
    plain = colorize_confidence(conf)
    marked = colorize_confidence(conf, certain)
    assert np.array_equal(plain[0, 0], CONFIDENCE_LUT[0])
    assert np.array_equal(plain[0, 1], CONFIDENCE_LUT[255])
    assert np.array_equal(marked[certain], plain[certain])
    # Uncertain pixels move towards the marker colour.
    for y, x in zip(*np.nonzero(~certain)):
        before = np.abs(plain[y, x].astype(int) - UNCERTAIN_COLOR).sum()
        after = np.abs(marked[y, x].astype(int) - UNCERTAIN_COLOR).sum()
        assert after < before


def test_blend_and_error_map() -> None:
    a = np.zeros((2, 2, 3), np.uint8)
    b = np.full((2, 2, 3), 200, np.uint8)
    assert blend(a, b, 0.5)[0, 0, 0] == 100
    mask = np.array([[True, False], [False, False]])
    out = blend(a, np.array([255, 0, 0]), 1.0, mask=mask)
    assert tuple(out[0, 0]) == (255, 0, 0) and tuple(out[1, 1]) == (0, 0, 0)
    with pytest.raises(ValueError):
        blend(a, b, 1.5)
    err = error_map(np.array([[1, 2, 3]], np.uint8), np.array([[1, 5, 255]], np.uint8))
    assert err[0, 0, 1] > err[0, 0, 0]  # green: accurate
    assert err[0, 1, 0] > err[0, 1, 1]  # red: wrong
    assert tuple(err[0, 2]) == (0, 0, 0)  # ignored


def test_output_images_have_the_node_encodings_and_shapes() -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 19, (6, 8)).astype(np.uint8)
    conf = rng.random((6, 8)).astype(np.float32)
    out = output_images(ids, conf, conf > 0.5, CITYSCAPES_PALETTE)
    assert list(out) == list(OUTPUT_ENCODINGS)
    for name, (array, encoding) in out.items():
        assert encoding == OUTPUT_ENCODINGS[name]
        assert array.shape[:2] == (6, 8)
    assert np.array_equal(out["segmentation"][0], ids)
    assert out["confidence"][0].dtype == np.float32
    assert set(np.unique(out["certain_mask"][0])) <= {0, 255}
    only = output_images(ids, conf, conf > 0.5, CITYSCAPES_PALETTE, names=["confidence"])
    assert list(only) == ["confidence"]
    with pytest.raises(ValueError, match="unknown output"):
        output_images(ids, conf, conf > 0.5, CITYSCAPES_PALETTE, names=["nope"])
