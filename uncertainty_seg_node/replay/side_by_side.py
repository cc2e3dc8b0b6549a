"""A second model on the same recorded frames, and the per-domain table of both.

The demo runs the default model in the node; `--compare MODEL` (by default the other model of
the same training run: f_theta beside f_phi, or f_phi beside f_theta) then runs in this process
on the very frames the node saw, scored with the same metrics, so the table shows what the
uncertainty training changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.bags import topics
from uncertainty_seg_node.bags.bag_io import read_images
from uncertainty_seg_node.replay.evaluation import ReplayEvaluation

# (key, header) of the figures compared, in table order.
COLUMNS = (("miou", "mIoU"), ("maxf05", "MaxF0.5"), ("p_ac_at_maxf05", "@p(a,c)"),
           ("aupr", "AUPR"), ("certain_fraction", "certain"),
           ("precision_at_gamma", "certain precision"))


def evaluate_on_bag(
    model: str | Path, bag: Path, labels: Mapping[int, np.ndarray],
    anomaly: Mapping[int, np.ndarray], domains: Mapping[int, str],
) -> dict[str, Any]:
    """Metrics (overall, and per domain under "domains") of `model` run here on `bag`'s frames.

    The certain fraction uses the model's own calibrated gamma.
    """
    from uncertainty_seg_node.inference.factory import load_predictor

    predictor = load_predictor(model, backend="auto", device="cpu")
    config = predictor.config
    evaluation = ReplayEvaluation(
        config.num_classes, config.palette, class_names=config.class_names,
        ignore_index=config.ignore_index, gamma=config.default_gamma, examples_per_domain=0)
    try:
        for index, frame in enumerate(read_images(bag, topics.IMAGE_TOPIC)):
            prediction = predictor.predict(frame.image, encoding="rgb8")
            mask = anomaly.get(frame.stamp_ns)
            evaluation.add(
                index=index, stamp_ns=frame.stamp_ns, image=None,
                class_ids=prediction.class_ids, confidence=prediction.confidence,
                certain=prediction.certain, labels=labels.get(frame.stamp_ns),
                anomaly=None if mask is None else mask > 0,
                domain=domains.get(frame.stamp_ns, ""),
                predict_ms=prediction.timings_ms.get("inference", float("nan")))
    finally:
        predictor.close()
    metrics = evaluation.metrics()
    metrics["gamma"] = config.default_gamma
    metrics["stage"] = str(config.provenance.get("stage", "unknown"))
    return metrics


def comparison_rows(
    main: Mapping[str, Any], other: Mapping[str, Any]
) -> list[tuple[str, dict[str, float | None], dict[str, float | None]]]:
    """(domain, main figures, other figures) per domain in `main`'s order, then `overall`.

    Both mappings hold overall figures at the top level and per-domain ones under "domains".
    """
    def pick(values: Mapping[str, Any] | None) -> dict[str, float | None]:
        values = values or {}
        return {key: _number(values.get(key)) for key, _ in COLUMNS}

    rows = []
    other_domains = other.get("domains", {})
    for name, values in main.get("domains", {}).items():
        rows.append((name, pick(values), pick(other_domains.get(name))))
    rows.append(("overall", pick(main), pick(other)))
    return rows


def comparison_markdown(main: Mapping[str, Any], other: Mapping[str, Any], *,
                        main_name: str, other_name: str) -> str:
    """A markdown table: per domain, each figure as `main / other`."""
    header = "| domain | " + " | ".join(f"{title} ({main_name} / {other_name})"
                                        for _, title in COLUMNS) + " |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 1)]
    for name, ours, theirs in comparison_rows(main, other):
        cells = [f"{_fmt(ours[key])} / {_fmt(theirs[key])}" for key, _ in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
        return float(value)
    return None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
