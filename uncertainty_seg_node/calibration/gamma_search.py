"""Gamma calibration on labelled validation data: the threshold a model ships with.

- gamma at MaxF0.5: the threshold on the model's confidence that maximises F0.5 of "certain =
  accurate" (seed 000's headline metric); or, when asked, the gamma with the most recall among
  those whose certain pixels reach a target precision (what a planner asks for, e.g. 0.99).

The temperature fit is in `calibration/temperature.py`; `model/rewrite.py` writes both into the
model file, with a `calibration` record in its provenance.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.metrics import Evaluator, detection
from uncertainty_seg_node.metrics.binning import gamma_for_level


@dataclass
class OperatingPoint:
    """Misclassification-detection figures of `confidence > gamma` on the validation pixels."""

    gamma: float
    precision: float
    recall: float
    p_ac: float
    f05: float
    certain_fraction: float


@dataclass
class CalibrationResult:
    """What `calibrate_gamma` (and `fit_temperature_on`) found."""

    gamma: float  # the gamma to write as the model's default
    gamma_source: str  # "maxf05" or "precision>=P"
    at_gamma: OperatingPoint
    maxf05: OperatingPoint
    previous: OperatingPoint  # the model's default gamma before calibration (exact counts)
    target_precision: float | None = None
    gamma_at_precision: float | None = None
    temperature: float | None = None
    nll_before: float | None = None
    nll_after: float | None = None
    frames: int = 0
    pixels: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def operating_point(evaluator: Evaluator, level: int) -> OperatingPoint:
    """Figures at histogram threshold `level` (certain = confidence level >= level)."""
    curves = detection.detection_curves(evaluator.hist[1], evaluator.hist[0], 0.5)
    total = max(evaluator.num_pixels, 1)
    return OperatingPoint(
        gamma=gamma_for_level(level, evaluator.num_bins),
        precision=float(curves.precision[level]), recall=float(curves.recall[level]),
        p_ac=float(curves.p_ac[level]), f05=float(curves.fbeta[level]),
        certain_fraction=float(curves.tp[level] + curves.fp[level]) / total,
    )


def calibrate_gamma(evaluator: Evaluator, target_precision: float | None = None
                    ) -> CalibrationResult:
    """Pick gamma from a filled Evaluator (collected at the model's current default gamma)."""
    if evaluator.num_pixels == 0:
        raise UserError("no labelled (non-ignore) pixels to calibrate gamma on")
    best = detection.max_fbeta(evaluator.hist[1], evaluator.hist[0], 0.5)
    maxf = operating_point(evaluator, best.level)
    figures = evaluator.compute()
    previous = OperatingPoint(
        gamma=float(figures["gamma"]), precision=float(figures["precision_at_gamma"]),
        recall=float(figures["recall_at_gamma"]), p_ac=float(figures["p_ac_at_gamma"]),
        f05=float(figures["f05_at_gamma"]), certain_fraction=float(figures["certain_fraction"]),
    )
    result = CalibrationResult(
        gamma=maxf.gamma, gamma_source="maxf05", at_gamma=maxf, maxf05=maxf, previous=previous,
        frames=evaluator.frames, pixels=evaluator.num_pixels,
    )
    if target_precision is not None:
        if not 0.0 < target_precision <= 1.0:
            raise UserError(f"target precision {target_precision} must be in (0, 1]")
        level = detection.level_for_precision(evaluator.hist[1], evaluator.hist[0],
                                              target_precision)
        if level is None:
            best_precision = np.nanmax(detection.detection_curves(
                evaluator.hist[1], evaluator.hist[0]).precision)
            raise UserError(
                f"no gamma reaches a precision of {target_precision} on this data (the best "
                f"is {best_precision:.4f}); lower --target-precision or improve the model"
            )
        point = operating_point(evaluator, level)
        result.target_precision = float(target_precision)
        result.gamma_at_precision = point.gamma
        result.gamma, result.gamma_source, result.at_gamma = (
            point.gamma, f"precision>={target_precision}", point)
    return result


def summary_lines(result: CalibrationResult) -> list[str]:
    """A short human-readable report."""
    def row(name: str, p: OperatingPoint) -> str:
        return (f"  {name:<22} gamma {p.gamma:.4f}  precision {p.precision:.4f}  recall "
                f"{p.recall:.4f}  p(a,c) {p.p_ac:.4f}  F0.5 {p.f05:.4f}  certain "
                f"{100 * p.certain_fraction:.1f} %")

    lines = [f"calibrated on {result.frames} frames, {result.pixels} labelled pixels:",
             row("before (model default)", result.previous), row("MaxF0.5", result.maxf05)]
    if result.target_precision is not None:
        lines.append(row(f"precision >= {result.target_precision}", result.at_gamma))
    if result.temperature is not None:
        lines.append(f"  temperature {result.temperature:.4f}: NLL {result.nll_before:.4f} -> "
                     f"{result.nll_after:.4f}")
    lines.append(f"  written default gamma: {result.gamma:.4f} ({result.gamma_source})")
    return lines


def jsonable(result: CalibrationResult) -> str:
    """JSON text of a result (NaN -> null)."""
    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return json.dumps(clean(result.to_dict()), indent=2, sort_keys=True)
