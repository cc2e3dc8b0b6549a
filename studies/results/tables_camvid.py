"""Tables on real frames (CamVid): the shipped models, and the temporal-folds studies.

Result files: default_model_camvid.json (`uncertainty-seg evaluate` of both shipped models) and
the fold studies camvid_folds.json, camvid_folds_curve.json and camvid_levers.json
(`python -m studies.row_eval`), whose rows key their metrics by frame set: `fold<i>/unseen`,
`fold<i>/seen`, a plain set such as `day/val`, and `day/val@fold<i>` for a model adapted per
fold.
"""

from __future__ import annotations

from typing import Any

from studies.results.record import load_result
from studies.results.render import fmt, renderer, source_line
from studies.results.tables_runtime import STAGE_NAMES

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


def _fold_value(row: dict[str, Any], part: str, fold: int, metric: str) -> float | None:
    figures = row["metrics"].get(f"fold{fold}/{part}")
    return None if figures is None else float(figures[metric])


def _set_value(row: dict[str, Any], name: str, folds: int, metric: str) -> float | None:
    """A plain set's figure; for a model adapted per fold, the mean over the fold models."""
    metrics = row["metrics"]
    if name in metrics:
        return float(metrics[name][metric])
    values = [metrics.get(f"{name}@fold{i}") for i in range(folds)]
    if any(v is None for v in values):
        return None
    return sum(float(v[metric]) for v in values if v) / folds


def folds_table(rows: dict[str, dict[str, Any]], folds: int = 2,
                source: str = "day/val") -> str:
    """The unseen-frames table (the claim) with the seen frames and the source beside it."""
    def mean(row: dict[str, Any], part: str, metric: str) -> float | None:
        values = [_fold_value(row, part, i, metric) for i in range(folds)]
        return None if None in values else sum(values) / folds  # type: ignore[arg-type]

    fold_cols = " | ".join(f"fold {i} AUPR / MaxF0.5" for i in range(folds))
    out = [f"| method | passes | {fold_cols} | **unseen mean AUPR** | **unseen mean MaxF0.5 "
           "@ p(a,c)** | unseen AUROC | unseen FPR95 | unseen ECE | unseen mIoU | seen mean "
           f"AUPR / MaxF0.5 | {source} mIoU |",
           "|---|---|" + "---|" * (folds + 8)]
    for row in rows.values():
        if _fold_value(row, "unseen", 0, "aupr") is None:
            continue
        passes = next(iter(row["metrics"].values()))["passes"]
        per_fold = " | ".join(
            f"{fmt(_fold_value(row, 'unseen', i, 'aupr'))} / "
            f"{fmt(_fold_value(row, 'unseen', i, 'maxf05'))}" for i in range(folds))
        out.append(
            f"| {row['label']} | {passes} | {per_fold} | {fmt(mean(row, 'unseen', 'aupr'))} | "
            f"{fmt(mean(row, 'unseen', 'maxf05'))} @ "
            f"{fmt(mean(row, 'unseen', 'p_ac_at_maxf05'))} | "
            f"{fmt(mean(row, 'unseen', 'auroc'))} | {fmt(mean(row, 'unseen', 'fpr95'))} | "
            f"{fmt(mean(row, 'unseen', 'ece'))} | {fmt(mean(row, 'unseen', 'miou'))} | "
            f"{fmt(mean(row, 'seen', 'aupr'))} / {fmt(mean(row, 'seen', 'maxf05'))} | "
            f"{fmt(_set_value(row, source, folds, 'miou'))} |")
    return "\n".join(out) + "\n"


def _folds_result(name: str) -> str:
    return folds_table(load_result(name)["rows"]) + "\n" + source_line(name)


@renderer("camvid_folds")
def camvid_folds() -> str:
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
