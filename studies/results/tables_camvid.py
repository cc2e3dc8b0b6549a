"""Tables on real frames (CamVid): the shipped models, the temporal-folds studies, the view bank.

Result files: default_model_camvid.json (`uncertainty-seg evaluate` of both shipped models), the
fold studies camvid_folds.json, camvid_folds_curve.json, camvid_levers.json and
camvid_augmented.json (`python -m studies.row_eval`; their sets are those of `figures.py`), and
view_bank_cost.json (studies/view_bank_cost.py).
"""

from __future__ import annotations

from typing import Any

from studies.results.figures import (
    FOLDS,
    STAGE_NAMES,
    Row,
    diff,
    figure,
    fmt,
    fold_key,
    fold_mean,
    minutes,
    parse_row_id,
    passes,
    row_id,
    set_figure,
)
from studies.results.record import load_result
from studies.results.render import renderer, source_line, table_row
from studies.results.shipping import CAMVID_SEEDS, camvid_folds

_CAMVID_CLASSES = ("road", "sidewalk", "building", "fence", "pole", "traffic sign",
                   "vegetation", "sky", "person", "rider", "car")
_SPLITS = ("day/val", "dusk/val")


@renderer("default_model_camvid")
def default_model_camvid() -> str:
    """Both shipped models on CamVid day/val and dusk/val, Cityscapes class map."""
    rows = load_result("default_model_camvid")["rows"]

    def figures(model: str, split: str) -> dict[str, Any] | None:
        row = rows.get(f"{model}_{split.replace('/', '_')}")
        return None if row is None else row["metrics"]

    labels = []
    for model in ("default", "compare"):
        first = figures(model, "day/val") or figures(model, "dusk/val") or {}
        labels.append((model, f"{STAGE_NAMES.get(str(first.get('stage')), 'model')} ({model})"))
    out = ["| model | set | frames | pixel acc. | mIoU | mIoU-11 | MaxF0.5 @ p(a,c) | AUPR | "
           "AUROC | certain at γ |", "|---|---|---|---|---|---|---|---|---|---|"]
    for model, label in labels:
        for split in _SPLITS:
            r = figures(model, split)
            if r is None:
                continue
            out.append(f"| {label} | {split} | {r['frames']} | {fmt(r['accuracy'])} | "
                       f"{fmt(r['miou'])} | {fmt(_miou11(r))} | {fmt(r['maxf05'])} @ "
                       f"{fmt(r['p_ac_at_maxf05'])} | {fmt(r['aupr'])} | {fmt(r['auroc'])} | "
                       f"{fmt(r['certain_fraction'])} |")
    out += ["", "Per-class IoU (the Cityscapes classes CamVid's 11 map to):", ""]
    head = "| model | set | " + " | ".join(_CAMVID_CLASSES) + " |"
    out += [head, "|---|---|" + "---|" * len(_CAMVID_CLASSES)]
    for model, label in labels:
        for split in _SPLITS:
            r = figures(model, split)
            if r is None:
                continue
            iou = r["per_class_iou"]
            out.append(f"| {label} | {split} | "
                       + " | ".join(fmt(iou.get(c), 2) for c in _CAMVID_CLASSES) + " |")
    return "\n".join(out) + "\n\n" + source_line("default_model_camvid")


def _miou11(r: dict[str, Any]) -> float | None:
    """Mean IoU over the Cityscapes classes CamVid's 11 map to (those it can score)."""
    values = [r["per_class_iou"].get(c) for c in _CAMVID_CLASSES]
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def folds_table(rows: dict[str, Row], folds: int = FOLDS, source: str = "day/val") -> str:
    """The unseen-frames table (the claim) with the seen frames and the source beside it."""
    def unseen(row: Row, fold: int, metric: str) -> str:
        return fmt(figure(row, fold_key(fold), metric))

    def mean(row: Row, part: str, metric: str) -> str:
        return fmt(fold_mean(row, part, metric, folds))

    fold_cols = " | ".join(f"fold {i} AUPR / MaxF0.5" for i in range(folds))
    out = [f"| method | passes | {fold_cols} | **unseen mean AUPR** | **unseen mean MaxF0.5 "
           "@ p(a,c)** | unseen AUROC | unseen FPR95 | unseen ECE | unseen mIoU | seen mean "
           f"AUPR / MaxF0.5 | {source} mIoU |",
           "|---|---|" + "---|" * (folds + 8)]
    for row in rows.values():
        if figure(row, fold_key(0), "aupr") is None:
            continue
        per_fold = " | ".join(f"{unseen(row, i, 'aupr')} / {unseen(row, i, 'maxf05')}"
                              for i in range(folds))
        out.append(
            f"| {row['label']} | {passes(row)} | {per_fold} | {mean(row, 'unseen', 'aupr')} | "
            f"{mean(row, 'unseen', 'maxf05')} @ {mean(row, 'unseen', 'p_ac_at_maxf05')} | "
            f"{mean(row, 'unseen', 'auroc')} | {mean(row, 'unseen', 'fpr95')} | "
            f"{mean(row, 'unseen', 'ece')} | {mean(row, 'unseen', 'miou')} | "
            f"{mean(row, 'seen', 'aupr')} / {mean(row, 'seen', 'maxf05')} | "
            f"{fmt(set_figure(row, source, 'miou', folds))} |")
    return "\n".join(out) + "\n"


def _folds_result(name: str) -> str:
    return folds_table(load_result(name)["rows"]) + "\n" + source_line(name)


@renderer("camvid_folds")
def camvid_folds_study() -> str:
    """The main fold study: f_φ and the control per fold against f_θ's scores."""
    return _folds_result("camvid_folds")


@renderer("camvid_folds_curve")
def camvid_folds_curve() -> str:
    """The fold study's early-stopping curve (checkpoints kept every 50 steps)."""
    return _folds_result("camvid_folds_curve")


@renderer("camvid_levers")
def camvid_levers() -> str:
    """One recipe change at a time on the folds."""
    return _folds_result("camvid_levers")


def _bar_lines(rows: dict[str, Row], candidate: str, seed: int) -> list[str]:
    """Per fold: the row CANDIDATE against f_θ and the control of SEED (shipping.py's bar)."""
    return [table_row(rows[candidate]["label"], seed, c.fold,
                      " / ".join(diff(p, t) for p, t, _ in c.found.values()),
                      " / ".join(diff(p, k) for p, _, k in c.found.values()), diff(*c.miou),
                      "**yes**" if c.beats else "no")
            for c in camvid_folds(rows, candidate, seed)]


def _cost_lines(training: dict[str, dict[str, Any]], pairs: list[tuple[str, str]]) -> list[str]:
    """θ then φ: the wall and CPU minutes of each (f_θ run, f_φ run) pair that was recorded."""
    out = []
    for theta, phi in pairs:
        if theta not in training or phi not in training:
            continue
        t, p = training[theta], training[phi]
        out.append(table_row(f"`{theta}` then `{phi}`", minutes(t["wall_s"]),
                             minutes(p["wall_s"]), minutes(t["wall_s"] + p["wall_s"]),
                             minutes(t["cpu_s"] + p["cpu_s"])))
    return out


# The table's order: the un-augmented recipe, each seed's f_θ, control and f_φ, then the rest (a
# merged result file keeps its older rows first).
_CAMVID_ORDER = ["theta_noaug", *(row_id(v, seed=s) for s in CAMVID_SEEDS
                                  for v in ("theta", "control", "phi")), "guard_s0"]


def _camvid_place(row: str) -> int:
    return _CAMVID_ORDER.index(row) if row in _CAMVID_ORDER else len(_CAMVID_ORDER)


@renderer("camvid_augmented")
def camvid_augmented() -> str:
    """The augmented recipes on the CamVid folds, the bar per seed and fold, and the costs."""
    result = load_result("camvid_augmented")
    rows = {k: result["rows"][k] for k in sorted(result["rows"], key=_camvid_place)}
    sources = ["camvid_augmented"]
    if "theta_noaug" not in rows:  # the un-augmented recipe's f_θ, same folds
        before = load_result("camvid_folds")["rows"]["theta_maxs"]
        rows = {"theta_noaug": {**before, "label": "f_θ max-softmax, no augmentation "
                                "(camvid_folds.json)"}, **rows}
        sources.append("camvid_folds")
    out = [folds_table(rows, FOLDS).rstrip(), "",
           "f_φ against f_θ's max-softmax and the control of its seed, on each fold's unseen "
           "frames (the bar: better on both AUPR and MaxF0.5):", "",
           "| model | seed | fold | − f_θ AUPR / MaxF0.5 | − control AUPR / MaxF0.5 | "
           "day/val mIoU − f_θ | beats both |", "|---|---|---|---|---|---|---|"]
    for seed in CAMVID_SEEDS:
        out += _bar_lines(rows, row_id("phi", seed=seed), seed)
    out += _bar_lines(rows, "guard_s0", 0)
    pairs = [(row_id("theta", seed=s), row_id("phi", fold=f, seed=s))
             for s in CAMVID_SEEDS for f in range(FOLDS)]
    costs = _cost_lines(result.get("training", {}), pairs)
    if costs:
        out += ["", "Training cost on this machine (a run's wall time depends on what else ran; "
                "f_θ's first run builds the view bank's features, which later runs read from "
                "its cache file):", "",
                "| runs | f_θ wall min | f_φ wall min | **θ then φ wall min** | θ then φ CPU "
                "min |", "|---|---|---|---|---|", *costs]
    return "\n".join(out) + "\n\n" + source_line(*sources)


@renderer("view_bank_cost")
def view_bank_cost() -> str:
    """The view bank's size and build time against K, and a step's cost with it."""
    result = load_result("view_bank_cost")
    out = ["| K views per image | source views | target views (each with its masks) | "
           "entries | MB | build wall s | build ms per entry |", "|---|---|---|---|---|---|---|"]
    for rid, row in result["rows"].items():
        if parse_row_id(rid).name != "build":  # build_k<K>: the bank built with K views
            continue
        m = row["metrics"]
        out.append(table_row(m["k"], m["source_views"], m["target_views"], m["entries"],
                             fmt(m["megabytes"], 1), fmt(m["build_wall_s"], 1),
                             fmt(m["build_ms_per_entry"], 1)))
    step = result["rows"].get("step", {}).get("metrics")
    if step:
        out += ["", "| one supervised step, batch 8 (median of interleaved repeats) | s |",
                "|---|---|",
                table_row("un-augmented images, features from the cache",
                          fmt(step["step_s_plain"])),
                table_row("view-bank views, features from the cache",
                          fmt(step["step_s_bank"])),
                table_row("fresh random views, the encoder runs every step (no bank)",
                          fmt(step["step_s_fresh"])),
                table_row("ratio bank / un-augmented; fresh / bank",
                          f"{fmt(step['ratio_bank_over_plain'], 2)}; "
                          f"{fmt(step['ratio_fresh_over_bank'], 2)}")]
    return "\n".join(out) + "\n\n" + source_line("view_bank_cost")
