"""Photometric distortion: seeded, appearance only, each change doing what its name says."""

from __future__ import annotations

import numpy as np
import pytest

from uncertainty_seg_node.data.photometric import (
    PhotometricStrength,
    _saturation_hue,
    photometric_distort,
)


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(20, 236, (24, 32, 3), dtype=np.uint8)


def test_a_seed_is_a_view_and_the_draw_count_is_fixed() -> None:
    image = _image()
    first = photometric_distort(image, np.random.default_rng(5))
    again = photometric_distort(image, np.random.default_rng(5))
    assert np.array_equal(first, again) and first.dtype == np.uint8 and first.shape == image.shape
    outputs = {photometric_distort(image, np.random.default_rng(s)).tobytes() for s in range(20)}
    assert len(outputs) >= 18  # only a draw that applies nothing repeats the input
    # Whatever was applied, the generator advanced by the same amount.
    for seed in range(10):
        rng = np.random.default_rng(seed)
        photometric_distort(image, rng)
        reference = np.random.default_rng(seed)
        reference.random(6)
        reference.uniform(size=5)
        assert rng.random() == reference.random()


def test_saturation_and_hue_leave_grey_grey_and_keep_brightness() -> None:
    grey = np.full((4, 4, 3), 90, np.float32)
    out = _saturation_hue(grey, saturation=1.5, hue=40.0)
    np.testing.assert_allclose(out, grey, atol=0.5)
    colour = _image().astype(np.float32)
    desaturated = _saturation_hue(colour, saturation=0.0, hue=0.0)
    assert np.ptp(desaturated, axis=2).max() < 1.0  # no saturation: every pixel is grey
    # Rotating the hue a full circle (180 OpenCV units) is the identity.
    np.testing.assert_allclose(_saturation_hue(colour, 1.0, 90.0),
                               _saturation_hue(colour, 1.0, -90.0), atol=0.6)
    red = np.zeros((1, 1, 3), np.float32)
    red[..., 0] = 200.0
    shifted = _saturation_hue(red, 1.0, 60.0)  # +120 degrees: red becomes green
    assert shifted[0, 0, 1] > 190 and shifted[0, 0, 0] < 10


def test_each_change_alone_moves_the_image_the_right_way() -> None:
    image = _image()
    none = PhotometricStrength(brightness=0.0, contrast=(1.0, 1.0), saturation=(1.0, 1.0),
                               hue=0.0, gamma=(1.0, 1.0))
    for seed in range(5):
        assert np.array_equal(photometric_distort(image, np.random.default_rng(seed), none),
                              image)
    darker = PhotometricStrength(brightness=0.0, contrast=(1.0, 1.0), saturation=(1.0, 1.0),
                                 hue=0.0, gamma=(2.0, 2.0))
    means = [photometric_distort(image, np.random.default_rng(s), darker).mean()
             for s in range(16)]
    assert min(means) < image.mean() - 20 and max(means) <= image.mean() + 0.5
    with pytest.raises(ValueError, match="gamma"):
        PhotometricStrength(gamma=(0.0, 1.0))
