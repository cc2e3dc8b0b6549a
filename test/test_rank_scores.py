"""Image-level uncertainty (mean, UAAL exponent 2) and Spearman against scipy / brute force."""

from __future__ import annotations

import numpy as np
import pytest

from uncertainty_seg_node.replay.image_scores import (
    image_uncertainties,
    image_uncertainty,
    rankdata,
    spearman,
)


def test_image_scores_match_their_definitions() -> None:
    conf = np.array([[1.0, 0.5], [0.0, 0.75]], dtype=np.float32)
    u = 1.0 - conf.astype(np.float64)
    assert image_uncertainty(conf, "mean") == pytest.approx(u.mean())
    assert image_uncertainty(conf, "uaal") == pytest.approx(np.mean(u**2))
    assert image_uncertainty(conf, "uaal", exponent=3) == pytest.approx(np.mean(u**3))
    rng = np.random.default_rng(0)
    big = rng.random((120, 240)).astype(np.float32)
    mean, uaal = image_uncertainties(big)
    assert mean == pytest.approx(image_uncertainty(big, "mean"), rel=1e-6)
    assert uaal == pytest.approx(image_uncertainty(big, "uaal"), rel=1e-5)


def test_uaal_weighs_concentrated_uncertainty_more_than_the_mean_does() -> None:
    # Same mean uncertainty (0.25): a haze everywhere vs one very uncertain half.
    haze = np.full((4, 4), 0.75, dtype=np.float32)
    spot = np.ones((4, 4), dtype=np.float32)
    spot[:2] = 0.5
    assert image_uncertainty(haze, "mean") == pytest.approx(image_uncertainty(spot, "mean"))
    assert image_uncertainty(spot, "uaal") > image_uncertainty(haze, "uaal")


def test_unknown_or_empty_input_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown image score"):
        image_uncertainty(np.ones((2, 2)), "max")
    with pytest.raises(ValueError, match="empty"):
        image_uncertainty(np.ones((0, 2)), "mean")


def test_spearman_equals_scipy_with_ties() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = rng.integers(0, 6, 25).astype(float)
        y = x + rng.normal(size=25)
        assert np.allclose(rankdata(x), stats.rankdata(x))
        assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


def test_spearman_edge_cases() -> None:
    assert spearman(np.arange(5), np.arange(5) ** 3) == pytest.approx(1.0)
    assert spearman(np.arange(5), -np.arange(5)) == pytest.approx(-1.0)
    assert np.isnan(spearman(np.ones(4), np.arange(4)))
    assert np.isnan(spearman(np.ones(1), np.ones(1)))
    with pytest.raises(ValueError):
        spearman(np.ones(3), np.ones(4))
