#!/usr/bin/env python3
"""The Masked gamma-SSL study on CamVid day -> dusk: train variants, evaluate them side by side.

    python tools/study_camvid.py folds --data CAMVID --out runs/study/folds   (temporal folds)
    python tools/study_camvid.py train [--dir D] NAME -- <uncertainty-seg train args>  (timed)
    python tools/study_camvid.py eval --rows rows.yaml --out eval.json --data CAMVID \
        [--folds runs/study/folds]
    python tools/study_camvid.py folds-table --results eval.json
    python tools/study_camvid.py record NAME --eval eval.json [--times DIR/train_times.json] \
        --command "the eval command" [--merge]   (-> docs/results/NAME.json)

`folds` splits the 62 labelled dusk frames in drive order into two folds (adapt on the first
31 and measure on the last 31, then the reverse; uncertainty_seg_node/data/folds.py).
`eval` evaluates every row (label: checkpoints + predictor options) on `dusk/val` and `day/val`
(`--sets`), and with `--folds` on each fold's `unseen` and `seen` frames, in-process through
`collect_evaluator`, with the frozen encoders' features cached across rows (exact). A row with
`fold_checkpoints` (one list per fold) is a model adapted per fold: fold i's model is measured
on fold i's frames only. Results already in --out are kept, so rows can be added run by run.
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
             force: bool, folds: int = 0) -> None:
    """Evaluate every row of `rows_file` on its datasets; merge into `out`.

    `datasets` maps a set name to its folder; names `fold<i>/...` belong to fold i. A row with
    `checkpoints` is measured on every set; a row with `fold_checkpoints` (one list per fold) is
    measured with fold i's model on fold i's sets and, as `<set>@fold<i>`, on the other sets.
    """
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
        for models, sets in _row_jobs(row, datasets, folds):
            paths = [REPO / p for p in models]
            if not all(p.is_file() for p in paths):
                print(f"[skip] {label}: missing {[str(p) for p in paths if not p.is_file()]}")
                continue
            todo = {k: v for k, v in sets.items()
                    if force or f"{label} | {k}" not in results}
            if not todo:
                continue
            options = dict(row.get("options") or {})
            predictor = load_predictor(paths if len(paths) > 1 else paths[0], **options)
            for member in predictor.members:  # type: ignore[attr-defined]
                member.encoder.requires_grad_(False)  # inference only: frozen for the cache
            for name, folder in todo.items():
                key = f"{label} | {name}"
                data = open_labelled(folder, classes_yaml=classes)
                start, cpu0 = time.perf_counter(), time.process_time()
                with cached_encoders(cache, *predictor.members):  # type: ignore[attr-defined]
                    evaluator = collect_evaluator(predictor, data, progress=False)
                seconds = time.perf_counter() - start
                result = summarize(evaluator, predictor, gamma_given=False, seconds=seconds)
                metrics = {k: result[k] for k in METRICS}
                metrics.update(passes=row.get("passes", len(paths)), eval_s=round(seconds, 1),
                               eval_cpu_s=round(time.process_time() - cpu0, 1),
                               per_class_iou=result["per_class_iou"],
                               frames=result.get("frames"), models=list(models),
                               default_gamma=predictor.config.default_gamma)
                results[key] = to_jsonable(metrics)
                print(f"{key}: mIoU {metrics['miou']:.3f} MaxF0.5 {metrics['maxf05']:.3f} @ "
                      f"{metrics['p_ac_at_maxf05']:.3f} AUPR {metrics['aupr']:.4f} AUROC "
                      f"{metrics['auroc']:.3f} ECE {metrics['ece']:.3f}", flush=True)
                _save(out, results, list(rows))
        if len(cache) > cache.loaded:
            cache.save(cache_file)
            cache.loaded = len(cache)
    _save(out, results, list(rows))  # reorders the file even when nothing new was measured


def _save(out: Path, results: dict[str, Any], labels: list[str]) -> None:
    """Write RESULTS in row order (after each set measured, so an interruption loses nothing)."""
    out.write_text(json.dumps(_in_row_order(results, labels), indent=1))


def _in_row_order(results: dict[str, Any], labels: list[str]) -> dict[str, Any]:
    """RESULTS with the rows of LABELS first, in that order (tables follow it), then the rest."""
    rank = {label: i for i, label in enumerate(labels)}
    return dict(sorted(results.items(),
                       key=lambda item: rank.get(item[0].split(" | ")[0], len(labels))))


def record(name: str, eval_file: Path, times: Path | None, command: str, merge: bool,
           note: str) -> None:
    """docs/results/NAME.json from an evaluation: figures, the command, training times."""
    sys.path.insert(0, str(REPO / "tools"))
    from results import load_result, result_path, write_result

    figures: dict[str, Any] = json.loads(eval_file.read_text())
    extras: dict[str, Any] = {"precision": "fp32 (torch, in-process)", "input_size": "168x224",
                              "threads": 1}
    previous_commands: dict[str, Any] = {}
    if merge and result_path(name).is_file():
        old = load_result(name)
        figures = {**old["figures"], **figures}
        old_command = old["command"]
        previous_commands = (old_command if isinstance(old_command, dict)
                             else {f"before {old['date']}": old_command})
        extras["training_runs"] = old["machine"].get("training_runs", {})
    if times is not None and times.is_file():
        runs = json.loads(times.read_text())
        extras.setdefault("training_runs", {}).update(
            {k: {f: v[f] for f in ("wall_s", "cpu_s", "argv") if f in v}
             for k, v in runs.items()})
    if note:
        extras["note"] = note
    date = time.strftime("%Y-%m-%d", time.gmtime())
    command_field: str | dict[str, str] = (
        {**previous_commands, date: command} if previous_commands else command)
    print(write_result(name, command_field, figures, **extras))


def _row_jobs(row: dict[str, Any], datasets: dict[str, Path],
              folds: int) -> list[tuple[list[str], dict[str, Path]]]:
    """(checkpoints, {set name: folder}) pairs one row is measured with.

    A row's optional `sets` list restricts it to those set names (e.g. the seen frames of its
    own N in a scaling study).
    """
    if row.get("sets"):
        missing = [name for name in row["sets"] if name not in datasets]
        if missing:
            raise SystemExit(f"a row names sets that --sets lacks: {missing}")
        datasets = {name: datasets[name] for name in row["sets"]}
    if "fold_checkpoints" not in row:
        return [(row["checkpoints"], datasets)]
    per_fold = row["fold_checkpoints"]
    if len(per_fold) != folds:
        raise SystemExit(f"a row has {len(per_fold)} fold_checkpoints, --folds has {folds}")
    jobs = []
    for i, models in enumerate(per_fold):
        sets = {(k if k.startswith(f"fold{i}/") else f"{k}@fold{i}"): v
                for k, v in datasets.items() if not k.startswith("fold") or
                k.startswith(f"fold{i}/")}
        jobs.append((models, sets))
    return jobs


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


def _fold_value(results: dict[str, Any], label: str, part: str, fold: int,
                metric: str) -> float | None:
    row = results.get(f"{label} | fold{fold}/{part}")
    return None if row is None else float(row[metric])


def _set_value(results: dict[str, Any], label: str, name: str, folds: int,
               metric: str) -> float | None:
    """A plain set's figure; for a per-fold model, the mean over the fold models."""
    if f"{label} | {name}" in results:
        return float(results[f"{label} | {name}"][metric])
    values = [results.get(f"{label} | {name}@fold{i}") for i in range(folds)]
    if any(v is None for v in values):
        return None
    return sum(float(v[metric]) for v in values if v) / folds


def folds_table(results_file: Path, folds: int = 2, source: str = "day/val") -> str:
    """The unseen-frames table (the claim) with the seen frames and the source beside it."""
    results: dict[str, Any] = json.loads(results_file.read_text())
    labels = list(dict.fromkeys(key.split(" | ")[0] for key in results))

    def mean(label: str, part: str, metric: str) -> float | None:
        values = [_fold_value(results, label, part, i, metric) for i in range(folds)]
        return None if None in values else sum(values) / folds  # type: ignore[arg-type]

    def fmt(value: float | None, digits: int = 3) -> str:
        return "—" if value is None else f"{value:.{digits}f}"

    fold_cols = " | ".join(f"fold {i} AUPR / MaxF0.5" for i in range(folds))
    out = [f"| method | passes | {fold_cols} | **unseen mean AUPR** | **unseen mean MaxF0.5 "
           "@ p(a,c)** | unseen AUROC | unseen FPR95 | unseen ECE | unseen mIoU | seen mean "
           f"AUPR / MaxF0.5 | {source} mIoU |",
           "|---|---|" + "---|" * (folds + 8)]
    for label in labels:
        if _fold_value(results, label, "unseen", 0, "aupr") is None:
            continue
        passes = next(v["passes"] for k, v in results.items() if k.startswith(label + " | "))
        per_fold = " | ".join(
            f"{fmt(_fold_value(results, label, 'unseen', i, 'aupr'))} / "
            f"{fmt(_fold_value(results, label, 'unseen', i, 'maxf05'))}" for i in range(folds))
        out.append(
            f"| {label} | {passes} | {per_fold} | {fmt(mean(label, 'unseen', 'aupr'))} | "
            f"{fmt(mean(label, 'unseen', 'maxf05'))} @ "
            f"{fmt(mean(label, 'unseen', 'p_ac_at_maxf05'))} | "
            f"{fmt(mean(label, 'unseen', 'auroc'))} | {fmt(mean(label, 'unseen', 'fpr95'))} | "
            f"{fmt(mean(label, 'unseen', 'ece'))} | {fmt(mean(label, 'unseen', 'miou'))} | "
            f"{fmt(mean(label, 'seen', 'aupr'))} / {fmt(mean(label, 'seen', 'maxf05'))} | "
            f"{fmt(_set_value(results, label, source, folds, 'miou'))} |")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("folds", help="lay out the temporal folds of dusk/val (symbolic links)")
    f.add_argument("--data", type=Path, required=True, help="the CamVid day/dusk folder")
    f.add_argument("--out", type=Path, required=True)
    f.add_argument("--k", type=int, default=2)
    t = sub.add_parser("train")
    t.add_argument("--dir", type=Path, default=REPO / "runs" / "study")
    t.add_argument("name")
    t.add_argument("argv", nargs=argparse.REMAINDER)
    e = sub.add_parser("eval")
    e.add_argument("--rows", type=Path, required=True)
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--data", type=Path, required=True, help="the CamVid day/dusk folder")
    e.add_argument("--sets", default="dusk/val,day/val")
    e.add_argument("--folds", type=Path, help="the folder `folds` wrote")
    e.add_argument("--force", action="store_true")
    tb = sub.add_parser("table")
    tb.add_argument("--results", type=Path, required=True)
    tb.add_argument("--sets", default="dusk/val,day/val")
    tb.add_argument("--times", type=Path)
    ft = sub.add_parser("folds-table")
    ft.add_argument("--results", type=Path, required=True)
    ft.add_argument("--k", type=int, default=2)
    rc = sub.add_parser("record", help="write an evaluation as docs/results/NAME.json")
    rc.add_argument("name")
    rc.add_argument("--eval", type=Path, required=True, help="the JSON `eval` wrote")
    rc.add_argument("--times", type=Path, help="train_times.json of the runs evaluated")
    rc.add_argument("--command", required=True, help="the eval command, as run")
    rc.add_argument("--merge", action="store_true",
                    help="keep the figures already in the result file that --eval lacks")
    rc.add_argument("--note", default="", help="a line about the run (e.g. the load)")
    args = parser.parse_args()
    if args.cmd == "record":
        record(args.name, args.eval, args.times, args.command, args.merge, args.note)
        return 0
    if args.cmd == "folds":
        from uncertainty_seg_node.data.folds import write_fold_folders

        dusk = args.data / "dusk" / "val"
        for fold in write_fold_folders(dusk / "images", dusk / "labels", args.out, args.k):
            print(f"fold {fold.index}: adapt {len(fold.adapt)} frames ({fold.adapt[0]} .. "
                  f"{fold.adapt[-1]}), unseen {len(fold.unseen)}")
        return 0
    if args.cmd == "table":
        print(tables(args.results, args.sets.split(","), args.times))
        return 0
    if args.cmd == "folds-table":
        print(folds_table(args.results, args.k))
        return 0
    if args.cmd == "train":
        argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        train(args.name, argv, args.dir)
        return 0
    datasets = {s: args.data / s for s in args.sets.split(",") if s}
    k = 0
    if args.folds:
        k = json.loads((args.folds / "folds.json").read_text())["k"]
        for i in range(k):
            for part in ("unseen", "seen"):
                datasets[f"fold{i}/{part}"] = args.folds / f"fold{i}" / part
    classes = args.data / "classes.yaml"
    evaluate(args.rows, args.out, datasets, classes if classes.is_file() else None, args.force,
             k)
    return 0


if __name__ == "__main__":
    sys.exit(main())
