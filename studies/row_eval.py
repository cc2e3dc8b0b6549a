"""Evaluate the rows of a rows file on frame sets, and record them as a result file.

    python -m studies.row_eval eval --rows studies/NAME.rows.yaml --out runs/.../eval.json \
        --data DATA [--sets dusk/val,day/val] [--folds FOLDS_DIR] [--force]
    python -m studies.row_eval record NAME --eval runs/.../eval.json --command "the eval command" \
        [--times runs/.../train_times.json] [--about ... --dataset ...] [--merge] [--note ...]

A rows file maps a stable row id to its `label` (its name in tables), its `checkpoints` (one
model, or several averaged as an ensemble) or `fold_checkpoints` (one list per fold: a model
adapted per fold), and optional predictor `options` (e.g. `{score_method: maxlogit}`), `passes`
and `sets` (only these of --sets; one --sets lacks is skipped). `eval` measures every row
in-process through `collect_evaluator` (what `uncertainty-seg evaluate` runs) on each set of
`--sets` under DATA,
and with `--folds` (the folder studies/camvid_folds.sh lays out) on each fold's `unseen` and
`seen` frames: fold i's model on fold i's frames, and as `<set>@fold<i>` on the plain sets. The
frozen encoders' features are cached across rows (exact). The output holds the rows in the
result schema (`studies/results/schema.py`), metrics keyed by set; rows already there are kept,
so rows can be added run by run. `record` writes it as docs/results/NAME.json, with the eval
command and the training runs' costs (`python -m studies.timed_train` writes them).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from studies.results import ROOT, write_result
from studies.results.record import DirtyTreeError

METRICS = ("miou", "accuracy", "maxf05", "p_ac_at_maxf05", "gamma_at_maxf05", "aupr", "auroc",
           "fpr95", "ece")
ROW_KEYS = ("checkpoints", "fold_checkpoints", "options", "passes", "sets")


def load_rows(rows_file: Path) -> dict[str, dict[str, Any]]:
    """The rows of ROWS_FILE, each checked for a label and its checkpoints."""
    rows: dict[str, dict[str, Any]] = yaml.safe_load(rows_file.read_text())
    for row_id, row in rows.items():
        if "label" not in row or not ("checkpoints" in row or "fold_checkpoints" in row):
            raise SystemExit(f"{rows_file}: row {row_id!r} needs a label and checkpoints (or "
                             "fold_checkpoints)")
    return rows


def load_evaluation(out: Path) -> dict[str, dict[str, Any]]:
    """The rows an earlier `eval` wrote to OUT (none when it does not exist)."""
    if not out.is_file():
        return {}
    results: dict[str, dict[str, Any]] = json.loads(out.read_text())
    if any(" | " in key for key in results):
        raise SystemExit(f"{out} holds 'label | set' keys, not rows by id: evaluate into a new "
                         "file (or --force)")
    return results


def evaluate(rows_file: Path, out: Path, datasets: dict[str, Path], classes: Path | None,
             force: bool, folds: int = 0) -> None:
    """Evaluate every row of ROWS_FILE on its DATASETS; merge into OUT.

    DATASETS maps a set name to its folder; names `fold<i>/...` belong to fold i.
    """
    from uncertainty_seg_node.data import open_labelled
    from uncertainty_seg_node.evaluation import collect_evaluator, summarize
    from uncertainty_seg_node.inference.factory import load_predictor
    from uncertainty_seg_node.inference.torch_backend import TorchPredictor
    from uncertainty_seg_node.metrics import to_jsonable
    from uncertainty_seg_node.train.feature_cache import FeatureCache, cached_inference

    rows = load_rows(rows_file)
    results = {} if force else load_evaluation(out)
    cache_file = out.with_suffix(".features.records")
    cache = FeatureCache(cache_file)
    for row_id, row in rows.items():
        entry = results.setdefault(row_id, {"metrics": {}})
        entry.update({"label": row["label"], **{k: row[k] for k in ROW_KEYS if k in row}})
        for models, sets in _row_jobs(row, datasets, folds):
            paths = [ROOT / p for p in models]
            if not all(p.is_file() for p in paths):
                print(f"[skip] {row_id}: missing {[str(p) for p in paths if not p.is_file()]}")
                continue
            todo = {k: v for k, v in sets.items() if k not in entry["metrics"]}
            if not todo:
                continue
            predictor = load_predictor(paths if len(paths) > 1 else paths[0],
                                       **dict(row.get("options") or {}))
            members = predictor.members if isinstance(predictor, TorchPredictor) else []
            for member in members:
                member.encoder.requires_grad_(False)  # inference only: frozen for the cache
            for name, folder in todo.items():
                data = open_labelled(folder, classes_yaml=classes)
                start, cpu0 = time.perf_counter(), time.process_time()
                with cached_inference(cache, members):
                    evaluator = collect_evaluator(predictor, data, progress=False)
                seconds = time.perf_counter() - start
                result = summarize(evaluator, predictor, gamma_given=False, seconds=seconds)
                metrics = {k: result[k] for k in METRICS}
                metrics.update(passes=row.get("passes", len(paths)), eval_s=round(seconds, 1),
                               eval_cpu_s=round(time.process_time() - cpu0, 1),
                               per_class_iou=result["per_class_iou"],
                               frames=result.get("frames"), models=list(models),
                               default_gamma=predictor.config.default_gamma)
                entry["metrics"][name] = to_jsonable(metrics)
                print(f"{row_id} | {name}: mIoU {metrics['miou']:.3f} MaxF0.5 "
                      f"{metrics['maxf05']:.3f} @ {metrics['p_ac_at_maxf05']:.3f} AUPR "
                      f"{metrics['aupr']:.4f} AUROC {metrics['auroc']:.3f} ECE "
                      f"{metrics['ece']:.3f}", flush=True)
                _save(out, results, list(rows))
        if cache.unsaved:
            cache.save(cache_file)
    _save(out, results, list(rows))  # reorders the file even when nothing new was measured


def _save(out: Path, results: dict[str, Any], row_ids: list[str]) -> None:
    """Write RESULTS in row order (after each set measured, so an interruption loses nothing)."""
    measured = {k: v for k, v in results.items() if v.get("metrics")}
    out.write_text(json.dumps(in_row_order(measured, row_ids), indent=1, ensure_ascii=False))


def in_row_order(results: dict[str, Any], row_ids: list[str]) -> dict[str, Any]:
    """RESULTS with the rows of ROW_IDS first, in that order (tables follow it), then the rest."""
    rank = {row_id: i for i, row_id in enumerate(row_ids)}
    return dict(sorted(results.items(), key=lambda item: rank.get(item[0], len(row_ids))))


def _row_jobs(row: dict[str, Any], datasets: dict[str, Path],
              folds: int) -> list[tuple[list[str], dict[str, Path]]]:
    """(checkpoints, {set name: folder}) pairs one row is measured with.

    A row's optional `sets` list restricts it to those set names (e.g. the seen frames of its
    own N in a scaling study).
    """
    if row.get("sets"):
        missing = [name for name in row["sets"] if name not in datasets]
        if missing:
            print(f"[skip] {row['label']}: not measured on {missing} (not in --sets)")
        datasets = {name: datasets[name] for name in row["sets"] if name in datasets}
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


def record(args: argparse.Namespace) -> Path:
    """docs/results/NAME.json from an evaluation: its rows, the command, training costs."""
    rows = load_evaluation(args.eval)
    for row in rows.values():
        row["command"] = "eval"
    training: dict[str, dict[str, Any]] = {}
    if args.times is not None and args.times.is_file():
        training = {name: {"command": _train_command(run), "wall_s": run["wall_s"],
                           "cpu_s": run["cpu_s"],
                           **({"max_rss_mb": run["max_rss_mb"]} if "max_rss_mb" in run else {})}
                    for name, run in json.loads(args.times.read_text()).items()}
    return write_result(args.name, about=args.about, dataset=args.dataset,
                        commands={"eval": args.command}, rows=rows, training=training,
                        note=args.note, merge=args.merge, allow_dirty=args.allow_dirty,
                        precision="fp32 (torch, in-process)", input_size="168x224", threads=1)


def _train_command(run: dict[str, Any]) -> str:
    """The command of one train_times.json entry (older entries hold only its `argv`)."""
    if "command" in run:
        return str(run["command"])
    argv = run["argv"]
    return "uncertainty-seg train " + (shlex.join(argv) if isinstance(argv, list) else argv)


def main(argv: list[str] | None = None) -> int:
    """The command line: `eval` and `record`."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("eval", help="evaluate every row of a rows file")
    e.add_argument("--rows", type=Path, required=True)
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--data", type=Path, required=True, help="the folder holding the sets")
    e.add_argument("--sets", default="dusk/val,day/val")
    e.add_argument("--folds", type=Path, help="the folds' folder (studies/camvid_folds.sh)")
    e.add_argument("--force", action="store_true", help="measure again what --out holds")
    r = sub.add_parser("record", help="write an evaluation as docs/results/NAME.json")
    r.add_argument("name")
    r.add_argument("--eval", type=Path, required=True, help="the JSON `eval` wrote")
    r.add_argument("--command", required=True, help="the eval command, as run")
    r.add_argument("--times", type=Path, help="train_times.json of the runs evaluated")
    r.add_argument("--about", help="what the file measures (a new file needs it)")
    r.add_argument("--dataset", help="the frames measured on (a new file needs it)")
    r.add_argument("--merge", action="store_true",
                   help="keep the rows already in the result file that --eval lacks")
    r.add_argument("--note", default=None, help="a line about the run (e.g. the load)")
    r.add_argument("--allow-dirty", action="store_true",
                   help="record from a tree with uncommitted changes (the diff's hash is kept)")
    args = parser.parse_args(argv)
    if args.cmd == "record":
        try:
            print(record(args))
        except DirtyTreeError as error:
            raise SystemExit(f"error: {error}") from None
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
