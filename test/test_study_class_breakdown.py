"""studies/class_breakdown.py: the per-class counts and figures against a pixel-by-pixel loop."""

from __future__ import annotations

import numpy as np
import pytest

from studies.class_breakdown import IGNORE, breakdown, class_counts


def test_counts_match_a_pixel_loop() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, size=(9, 11)).astype(np.uint8)
    labels[0, :5] = IGNORE
    predicted = rng.integers(0, 4, size=labels.shape).astype(np.uint8)
    certain = rng.random(labels.shape) > 0.4
    counts = class_counts(labels, predicted, certain, 4)
    expected = np.zeros((4, 4, 2), dtype=np.int64)
    for t, p, c in zip(labels.ravel(), predicted.ravel(), certain.ravel()):
        if t != IGNORE:
            expected[t, p, int(c)] += 1
    assert np.array_equal(counts, expected)


def test_breakdown_figures() -> None:
    # class a: 4 pixels, 1 right; 3 called b, all certain; the right one uncertain
    labels = np.array([[0, 0, 0, 0, 1, 1]], dtype=np.uint8)
    predicted = np.array([[0, 1, 1, 1, 1, 1]], dtype=np.uint8)
    certain = np.array([[False, True, True, True, True, False]])
    rows = breakdown(class_counts(labels, predicted, certain, 3), ["a", "b", "c"])
    assert set(rows) == {"a", "b"}  # c never appears in the labels
    a = rows["a"]
    assert a["share"] == pytest.approx(4 / 6)
    assert a["accuracy"] == pytest.approx(0.25)
    assert (a["top_prediction"], a["top_prediction_share"]) == ("b", pytest.approx(0.75))
    assert a["certain_fraction"] == pytest.approx(0.75)
    assert a["certain_precision"] == 0.0  # every certain pixel of a is wrong
    assert rows["b"]["certain_precision"] == 1.0
