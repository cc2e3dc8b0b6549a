"""Uncertainty-error overlap (seed 003): Dice between the uncertain mask and the error mask.

uncertain = confidence <= gamma (the complement of the certain mask `confidence > gamma`),
error = prediction != label, over the valid (non-ignore) pixels.
Dice = 2 |U and E| / (|U| + |E|). When both masks are empty (no errors and nothing uncertain)
the two maps agree perfectly and Dice is 1.0.
"""

from __future__ import annotations

import numpy as np


def dice_from_counts(both: int, uncertain: int, errors: int) -> float:
    """Dice from |U and E|, |U| and |E| (1.0 when both masks are empty)."""
    denom = uncertain + errors
    return 1.0 if denom == 0 else float(2.0 * both / denom)


def uncertainty_error_dice(
    confidence: np.ndarray, accurate: np.ndarray, gamma: float
) -> float:
    """Dice between `confidence <= gamma` and `~accurate` (arrays of the valid pixels)."""
    uncertain = np.asarray(confidence).ravel() <= gamma
    error = ~np.asarray(accurate, dtype=bool).ravel()
    return dice_from_counts(int(np.sum(uncertain & error)), int(uncertain.sum()), int(error.sum()))
