"""Evaluation of a predictor on a labelled dataset (the `uncertainty-seg evaluate` library)."""

from __future__ import annotations

from uncertainty_seg_node.evaluation.evaluate import (
    collect_evaluator,
    evaluate_predictor,
    summarize,
)

__all__ = ["collect_evaluator", "evaluate_predictor", "summarize"]
