#!/usr/bin/env python3
"""The Masked gamma-SSL study on CamVid day -> dusk: train variants, evaluate them side by side.

    python tools/study_camvid.py train NAME -- <uncertainty-seg train args>   (logged, timed)
    python tools/study_camvid.py eval --rows rows.yaml --out runs/study/eval.json

`eval` evaluates every row (label: checkpoints + predictor options) on `dusk/val` and `day/val`
(and, with --synth, on synthetic domain folders), in-process through `collect_evaluator`, with
the frozen encoders' features cached across rows (exact). Results already in --out are kept,
so rows can be added run by run. The tables of docs/experiments/camvid.md come from this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CAMVID = REPO.parent / "shared" / "data" / "camvid"
METRICS = ("miou", "accuracy", "maxf05", "p_ac_at_maxf05", "gamma_at_maxf05", "aupr", "auroc",
           "fpr95", "ece")


def train(name: str, argv: list[str], out_dir: Path) -> None:
    """Run one `uncertainty-seg train ...` command; record wall and CPU seconds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / f"{name}.log"
    before = os.times()
    start = time.perf_counter()
    with log.open("w") as handle:
        subprocess.run([sys.executable, "-m", "uncertainty_seg_node", "train", *argv],
                       check=True, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO)
    after = os.times()
    record = {"name": name, "argv": argv, "wall_s": round(time.perf_counter() - start, 1),
              "cpu_s": round(after.children_user - before.children_user
                             + after.children_system - before.children_system, 1),
              "load_avg_end": os.getloadavg(), "machine": f"{platform.node()} "
              f"{os.cpu_count()} CPUs"}
    times = out_dir / "train_times.json"
    data = json.loads(times.read_text()) if times.is_file() else {}
    data[name] = record
    times.write_text(json.dumps(data, indent=1))
    print(json.dumps(record))


def evaluate(rows_file: Path, out: Path, datasets: dict[str, Path], classes: Path | None,
             force: bool) -> None:
    """Evaluate every row of `rows_file` on every dataset; merge into `out`."""
    from uncertainty_seg_node.data import open_labelled
    from uncertainty_seg_node.evaluation import collect_evaluator, summarize
    from uncertainty_seg_node.inference.factory import load_predictor
    from uncertainty_seg_node.metrics import to_jsonable
    from uncertainty_seg_node.train.feature_cache import FeatureCache, cached_encoders

    rows: dict[str, Any] = yaml.safe_load(rows_file.read_text())
    results: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
    cache_file = out.with_suffix(".features.pt")
    cache = FeatureCache(cache_file)
    for label, row in rows.items():
        paths = [REPO / p for p in row["checkpoints"]]
        if not all(p.is_file() for p in paths):
            print(f"[skip] {label}: missing {[str(p) for p in paths if not p.is_file()]}")
            continue
        options = dict(row.get("options") or {})
        predictor = load_predictor(paths if len(paths) > 1 else paths[0], **options)
        for member in predictor.members:  # type: ignore[attr-defined]
            member.encoder.requires_grad_(False)  # inference only: frozen for the cache
        for name, folder in datasets.items():
            key = f"{label} | {name}"
            if key in results and not force:
                continue
            data = open_labelled(folder, classes_yaml=classes)
            start, cpu0 = time.perf_counter(), time.process_time()
            with cached_encoders(cache, *predictor.members):  # type: ignore[attr-defined]
                evaluator = collect_evaluator(predictor, data, progress=False)
            seconds = time.perf_counter() - start
            result = summarize(evaluator, predictor, gamma_given=False, seconds=seconds)
            metrics = {k: result[k] for k in METRICS}
            metrics.update(passes=row.get("passes", len(paths)), eval_s=round(seconds, 1),
                           eval_cpu_s=round(time.process_time() - cpu0, 1),
                           per_class_iou=result["per_class_iou"], frames=result.get("frames"))
            results[key] = to_jsonable(metrics)
            print(f"{key}: mIoU {metrics['miou']:.3f} MaxF0.5 {metrics['maxf05']:.3f} @ "
                  f"{metrics['p_ac_at_maxf05']:.3f} AUPR {metrics['aupr']:.4f} AUROC "
                  f"{metrics['auroc']:.3f} ECE {metrics['ece']:.3f}", flush=True)
            out.write_text(json.dumps(results, indent=1))
    if len(cache) > cache.loaded:
        cache.save(cache_file)


def tables(results_file: Path, sets: list[str], times_file: Path | None) -> str:
    """Markdown tables in the paper's Table I / II layout: rows are methods, columns data sets."""
    results: dict[str, Any] = json.loads(results_file.read_text())
    labels: list[str] = []
    for key in results:
        label = key.split(" | ")[0]
        if label not in labels:
            labels.append(label)
    times = json.loads(times_file.read_text()) if times_file and times_file.is_file() else {}

    def cell(label: str, name: str, fmt: str) -> str:
        row = results.get(f"{label} | {name}")
        return fmt.format(**row) if row else "—"

    out = []
    for title, fmt in (("MaxF0.5 @ p(a,c)", "{maxf05:.3f} @ {p_ac_at_maxf05:.3f}"),
                       ("AUPR", "{aupr:.4f}"), ("AUROC", "{auroc:.3f}"),
                       ("mIoU", "{miou:.3f}"), ("ECE", "{ece:.3f}")):
        out.append(f"\n**{title}**\n")
        out.append("| method | passes | " + " | ".join(sets) + " |")
        out.append("|---|---|" + "---|" * len(sets))
        for label in labels:
            first = next((results[f"{label} | {s}"] for s in sets
                          if f"{label} | {s}" in results), None)
            if first is None:
                continue
            cells = [cell(label, s, fmt) for s in sets]
            out.append(f"| {label} | {first['passes']} | " + " | ".join(cells) + " |")
    if times:
        out.append("\n**Training cost** (this machine, wall and CPU seconds of the command)\n")
        out.append("| run | wall s | CPU s |")
        out.append("|---|---|---|")
        for name, rec in times.items():
            out.append(f"| {name} | {rec['wall_s']} | {rec['cpu_s']} |")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("name")
    t.add_argument("--dir", type=Path, default=REPO / "runs" / "study")
    t.add_argument("argv", nargs=argparse.REMAINDER)
    e = sub.add_parser("eval")
    e.add_argument("--rows", type=Path, required=True)
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--data", type=Path, default=CAMVID)
    e.add_argument("--sets", default="dusk/val,day/val")
    e.add_argument("--force", action="store_true")
    tb = sub.add_parser("table")
    tb.add_argument("--results", type=Path, required=True)
    tb.add_argument("--sets", default="dusk/val,day/val")
    tb.add_argument("--times", type=Path)
    args = parser.parse_args()
    if args.cmd == "table":
        print(tables(args.results, args.sets.split(","), args.times))
        return 0
    if args.cmd == "train":
        argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        train(args.name, argv, args.dir)
        return 0
    datasets = {s: args.data / s for s in args.sets.split(",")}
    classes = args.data / "classes.yaml"
    evaluate(args.rows, args.out, datasets, classes if classes.is_file() else None, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
