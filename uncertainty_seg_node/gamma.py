"""The certainty threshold gamma: certain where confidence > gamma, a number in [0, 1].

One range rule for every entry point (node parameter, CLI flags, calibration, evaluation), and
one meaning of "auto" / None: the model's own default gamma.
"""

from __future__ import annotations

import math
from typing import Any

from uncertainty_seg_node.errors import UserError

AUTO = "auto"


def gamma_problem(value: Any) -> str | None:
    """Why `value` is not a gamma (a finite number in [0, 1]), or None when it is one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"gamma {value!r} is not a number in [0, 1]"
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        return f"gamma {value!r} is outside [0, 1]"
    return None


def check_gamma(value: Any, what: str = "gamma") -> float:
    """`value` as a float in [0, 1]; a UserError naming `what` (e.g. '--gamma') otherwise."""
    problem = gamma_problem(value)
    if problem is not None:
        raise UserError(problem.replace("gamma", what, 1))
    return float(value)


def parse_gamma(value: Any) -> float | None:
    """A gamma setting (a number, a numeric string or 'auto') -> float, or None for 'auto'.

    Raises ValueError with the reason (the node's parameter callback reports it).
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text == AUTO:
            return None
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"gamma {value!r} is neither a number in [0, 1] nor 'auto'") from None
    problem = gamma_problem(value)
    if problem is not None:
        raise ValueError(problem + " (or 'auto')")
    return float(value)


def resolve_gamma(value: float | str | None, default: float) -> float:
    """The gamma to use: `value`, or the model's `default` for None / 'auto'."""
    if value is None or (isinstance(value, str) and value.strip().lower() == AUTO):
        return check_gamma(default, "default gamma")
    if isinstance(value, str):
        try:
            parsed = parse_gamma(value)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        return default if parsed is None else parsed
    return check_gamma(value)
