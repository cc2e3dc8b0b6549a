"""The report folder of a replay (or live) evaluation.

    metrics.json          overall metrics at the top level (the keys of `evaluate`), per-domain
                          figures under "domains", run facts under "run", warnings
    frames.csv            one row per frame (stamp, domain, certain fraction, error rate, ...)
    f05_vs_pac.png        F0.5 and precision / recall against p(a, c) (the paper's Fig. 3)
    reliability.png       reliability diagram (15 bins)
    frames_over_time.png  per-frame certain fraction and error rate
    examples/*.png        image | segmentation | confidence | certain mask | error
    index.html            one self-contained page with all of the above

Writing is atomic per file (temp + rename) so an interrupted write leaves the previous file.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.atomic import atomic_target, atomic_write
from uncertainty_seg_node.metrics import to_jsonable
from uncertainty_seg_node.replay.evaluation import ReplayEvaluation
from uncertainty_seg_node.replay.html import write_html
from uncertainty_seg_node.replay.plots import (
    CurveSet,
    plot_f05_against_pac,
    plot_frames_over_time,
    plot_reliability,
    write_png,
)


def write_metrics_json(path: Path, metrics: Mapping[str, Any]) -> Path:
    """Strict JSON (NaN -> null) of a metrics structure."""
    return atomic_write(path, json.dumps(to_jsonable(dict(metrics)), indent=2) + "\n")


def write_frames_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """One row per frame; floats with 6 significant digits, NaN as empty cells."""
    fields = list(rows[0]) if rows else ["index", "stamp_ns"]
    with atomic_target(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    return path


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    return value


def curve_set(curves: Mapping[str, np.ndarray]) -> CurveSet:
    """An `Evaluator.curves()` dict -> the arrays the F0.5 plot needs."""
    return CurveSet(curves["p_ac"], curves["precision"], curves["recall"], curves["f05"])


def write_report(
    out_dir: str | Path,
    evaluation: ReplayEvaluation,
    *,
    facts: Mapping[str, Any],
    warnings: Sequence[str] = (),
    title: str = "Replay evaluation",
    plots: bool = True,
) -> dict[str, Any]:
    """Write the whole report folder; returns the metrics dict that went into metrics.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = evaluation.metrics()
    document = dict(metrics)
    document["run"] = dict(facts)
    document["warnings"] = list(warnings)
    document["labelled"] = bool(metrics)
    write_metrics_json(out / "metrics.json", document)
    rows = evaluation.frame_rows()
    write_frames_csv(out / "frames.csv", rows)

    figures: list[tuple[Path, str]] = []
    overall = evaluation.overall()
    if plots and overall is not None:
        sets = {"overall": curve_set(overall.curves())}
        if "domains" in metrics:
            for name, evaluator in sorted(evaluation.evaluators.items()):
                sets[name or "unknown"] = curve_set(evaluator.curves())
        figures.append((plot_f05_against_pac(sets, out / "f05_vs_pac.png"),
                        "F0.5 and precision / recall against p(a,c) (the paper's Fig. 3)"))
        c = overall.curves()
        figures.append((plot_reliability(
            c["reliability_confidence"], c["reliability_accuracy"], c["reliability_count"],
            out / "reliability.png", ece=metrics.get("ece")), "reliability diagram"))
    if plots and rows:
        stamps = np.array([r["stamp_ns"] for r in rows], dtype=np.float64)
        times = (stamps - stamps[0]) / 1e9
        errors = np.array([r["error_rate"] for r in rows], dtype=np.float64)
        figures.append((plot_frames_over_time(
            times, np.array([r["certain_fraction"] for r in rows], dtype=np.float64),
            errors if np.isfinite(errors).any() else None, out / "frames_over_time.png",
            domains=[r["domain"] for r in rows] if any(r["domain"] for r in rows) else None,
        ), f"per-frame certain fraction (confidence > gamma = {evaluation.gamma:.3f}) "
           "and error rate"))

    examples: list[tuple[Path, str]] = []
    for i, (caption, panel) in enumerate(evaluation.examples()):
        examples.append((write_png(out / "examples" / f"example_{i:02d}.png", panel), caption))

    table: dict[str, Mapping[str, Any]] = {}
    if metrics:
        table["overall"] = metrics
        for name, values in metrics.get("domains", {}).items():
            table[name] = values
    write_html(out / "index.html", title=title, facts=facts, metric_rows=table,
               figures=figures, examples=examples, warnings=warnings)
    return document
