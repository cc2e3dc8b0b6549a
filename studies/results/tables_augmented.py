"""Tables of the augmented recipes: CamVid folds with two seeds, the synthetic world, the bank.

Result files: camvid_augmented.json (studies/camvid_augmented.sh: rows `theta_s<seed>`,
`control_s<seed>`, `phi_s<seed>` (per fold), `guard_s0`, `theta_noaug`, ...),
synth_augmented.json (studies/synth_augmented.sh: rows `theta_maxs`, `control`, `phi`, `guard`
on `seen/<domain>` and `unseen/<domain>`, and `phi_<domain>_<N>`), synth_domains.json (the
un-augmented f_θ users had before), view_bank_cost.json (studies/view_bank_cost.py) and
offroad_classes.json (studies/class_breakdown.py, one row per model).

The bar a recipe must meet to ship f_φ (models/MODEL_CARD.md) is checked here, from the files:
f_φ beats f_θ's max-softmax and the control on unseen frames on AUPR and MaxF0.5 (on CamVid on
each fold for each seed; in the synthetic world in at least 4 of 5 domains, and nowhere worse
than f_θ by more than 0.01 AUPR), with day/val mIoU within 2 points of f_θ's.
"""

from __future__ import annotations

from typing import Any

from studies.results.record import load_result
from studies.results.render import fmt, renderer, source_line, table_row
from studies.results.tables_camvid import folds_table
from studies.results.tables_synth import SYNTH_DOMAINS

FOLDS = 2
TIE_AUPR = 0.01  # "nowhere worse than f_θ by more than" this
MIOU_POINTS = 0.02


def _unseen(row: dict[str, Any], fold: int, metric: str) -> float | None:
    figures = row["metrics"].get(f"fold{fold}/unseen")
    return None if figures is None else float(figures[metric])


def _plain(row: dict[str, Any], name: str, metric: str) -> float | None:
    """A plain set's figure; for a model adapted per fold, the mean over the fold models."""
    metrics = row["metrics"]
    if name in metrics:
        return float(metrics[name][metric])
    values = [metrics.get(f"{name}@fold{i}") for i in range(FOLDS)]
    if any(v is None for v in values):
        return None
    return sum(float(v[metric]) for v in values if v) / FOLDS


def _diff(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None else f"{a - b:+.3f}"


def camvid_bar(rows: dict[str, dict[str, Any]], phi: str, seed: int) -> list[str]:
    """Per fold: f_φ (row PHI) against f_θ and the control of SEED, and whether it beats both."""
    theta, control, model = (rows.get(f"theta_s{seed}"), rows.get(f"control_s{seed}"),
                             rows.get(phi))
    if theta is None or control is None or model is None:
        return []
    out = []
    miou = _diff(_plain(model, "day/val", "miou"), _plain(theta, "day/val", "miou"))
    for fold in range(FOLDS):
        found = {m: (_unseen(model, fold, m), _unseen(theta, fold, m),
                     _unseen(control, fold, m)) for m in ("aupr", "maxf05")}
        figures = {m: (p, t, c) for m, (p, t, c) in found.items()
                   if p is not None and t is not None and c is not None}
        if len(figures) < len(found):
            continue
        beats = all(p > max(t, c) for p, t, c in figures.values())
        out.append(table_row(
            model["label"], seed, fold,
            " / ".join(_diff(figures[m][0], figures[m][1]) for m in figures),
            " / ".join(_diff(figures[m][0], figures[m][2]) for m in figures), miou,
            "**yes**" if beats else "no"))
    return out


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f}"


def cost_lines(training: dict[str, dict[str, Any]], pairs: list[tuple[str, str]]) -> list[str]:
    """θ then φ: the wall and CPU minutes of each (f_θ run, f_φ run) pair that was recorded."""
    out = []
    for theta, phi in pairs:
        if theta not in training or phi not in training:
            continue
        t, p = training[theta], training[phi]
        out.append(table_row(f"`{theta}` then `{phi}`", _minutes(t["wall_s"]),
                             _minutes(p["wall_s"]), _minutes(t["wall_s"] + p["wall_s"]),
                             _minutes(t["cpu_s"] + p["cpu_s"])))
    return out


_COST_HEAD = ["| runs | f_θ wall min | f_φ wall min | **θ then φ wall min** | θ then φ CPU min |",
              "|---|---|---|---|---|"]


# The table's order: the recipe before, each seed's f_θ, control and f_φ, then the rest (a merged
# result file keeps its older rows first).
_CAMVID_ORDER = ["theta_noaug", "theta_s0", "control_s0", "phi_s0", "theta_s1", "control_s1",
                 "phi_s1", "guard_s0"]


def _camvid_place(row_id: str) -> int:
    return _CAMVID_ORDER.index(row_id) if row_id in _CAMVID_ORDER else len(_CAMVID_ORDER)


@renderer("camvid_augmented")
def camvid_augmented() -> str:
    """The augmented recipes on the CamVid folds, the bar per seed and fold, and the costs."""
    result = load_result("camvid_augmented")
    rows = {k: result["rows"][k] for k in sorted(result["rows"], key=_camvid_place)}
    sources = ["camvid_augmented"]
    if "theta_noaug" not in rows:  # what users had: the un-augmented recipe's f_θ, same folds
        before = load_result("camvid_folds")["rows"]["theta_maxs"]
        rows = {"theta_noaug": {**before, "label": "f_θ max-softmax, no augmentation (the "
                                "recipe before; camvid_folds.json)"}, **rows}
        sources.append("camvid_folds")
    out = [folds_table(rows, FOLDS).rstrip(), "",
           "f_φ against f_θ's max-softmax and the control of its seed, on each fold's unseen "
           "frames (the bar: better on both AUPR and MaxF0.5):", "",
           "| model | seed | fold | − f_θ AUPR / MaxF0.5 | − control AUPR / MaxF0.5 | "
           "day/val mIoU − f_θ | beats both |", "|---|---|---|---|---|---|---|"]
    for seed in (0, 1):
        out += camvid_bar(rows, f"phi_s{seed}", seed)
    out += camvid_bar(rows, "guard_s0", 0)
    pairs = [(f"theta_s{s}", f"phi_f{f}_s{s}") for s in (0, 1) for f in range(FOLDS)]
    costs = cost_lines(result.get("training", {}), pairs)
    if costs:
        out += ["", "Training cost on this machine (a run's wall time depends on what else ran; "
                "f_θ's first run builds the view bank's features, which later runs read from "
                "its cache file):", "", *_COST_HEAD, *costs]
    return "\n".join(out) + "\n\n" + source_line(*sources)


def _synth(row: dict[str, Any], part: str, domain: str, metric: str) -> float | None:
    figures = row["metrics"].get(f"{part}/{domain}")
    return None if figures is None else float(figures[metric])


def _mean(row: dict[str, Any], part: str, metric: str) -> float | None:
    values = [_synth(row, part, d, metric) for d in SYNTH_DOMAINS]
    return None if None in values else sum(values) / len(values)  # type: ignore[arg-type]


def synth_bar(phi: dict[str, Any], theta: dict[str, Any], control: dict[str, Any]) -> str:
    """Where PHI beats THETA and CONTROL on both figures, and its worst AUPR against THETA."""
    wins = [d for d in SYNTH_DOMAINS if all(
        (_synth(phi, "unseen", d, m) or 0.0) > max(_synth(theta, "unseen", d, m) or 1.0,
                                                   _synth(control, "unseen", d, m) or 1.0)
        for m in ("aupr", "maxf05"))]
    gaps = {d: (_synth(phi, "unseen", d, "aupr") or 0.0) - (_synth(theta, "unseen", d, "aupr")
                                                            or 0.0) for d in SYNTH_DOMAINS}
    worst = min(gaps, key=lambda d: gaps[d])
    met = len(wins) >= 4 and gaps[worst] >= -TIE_AUPR
    return (f"{phi['label']}: beats both on AUPR and MaxF0.5 in {len(wins)} of "
            f"{len(SYNTH_DOMAINS)} domains ({', '.join(wins) or 'none'}); its worst AUPR "
            f"against f_θ is {gaps[worst]:+.3f} ({worst}); the synthetic bar is "
            f"{'**met**' if met else 'not met'}.")


@renderer("synth_augmented")
def synth_augmented() -> str:
    """Per synthetic target domain, unseen frames first: the augmented default model's run."""
    rows = load_result("synth_augmented")["rows"]
    before = load_result("synth_domains")["rows"]["theta_maxs"]
    shown = [dict(before, label="f_θ max-softmax, no augmentation (the default before)"),
             *(rows[k] for k in ("theta_maxs", "control", "phi", "guard") if k in rows)]
    out = ["| method | " + " | ".join(f"{d} unseen AUPR / MaxF0.5" for d in SYNTH_DOMAINS)
           + " | **unseen mean AUPR / MaxF0.5** | seen mean AUPR / MaxF0.5 | unseen mean mIoU |",
           "|---|" + "---|" * (len(SYNTH_DOMAINS) + 3)]
    for row in shown:
        cells = [f"{fmt(_synth(row, 'unseen', d, 'aupr'))} / "
                 f"{fmt(_synth(row, 'unseen', d, 'maxf05'))}" for d in SYNTH_DOMAINS]
        out.append(table_row(
            row["label"], *cells,
            f"{fmt(_mean(row, 'unseen', 'aupr'))} / {fmt(_mean(row, 'unseen', 'maxf05'))}",
            f"{fmt(_mean(row, 'seen', 'aupr'))} / {fmt(_mean(row, 'seen', 'maxf05'))}",
            fmt(_mean(row, "unseen", "miou"))))
    if all(k in rows for k in ("theta_maxs", "control")):
        out.append("")
        out += [synth_bar(rows[k], rows["theta_maxs"], rows["control"])
                for k in ("phi", "guard") if k in rows]
    return "\n".join(out) + "\n\n" + source_line("synth_augmented", "synth_domains")


_SCALING_DOMAINS = ("fog", "night", "offroad")  # the N-curve's domains (phi_<domain>_<N> rows)


@renderer("synth_augmented_scaling")
def synth_augmented_scaling() -> str:
    """One f_φ per domain against N unlabelled frames, beside the joint model, augmented."""
    result = load_result("synth_augmented")
    rows = result["rows"]
    theta, control = rows.get("theta_maxs"), rows.get("control")
    out = ["| domain | f_φ from | f_θ unseen AUPR / MaxF0.5 | control unseen | f_φ unseen | "
           "**f_φ − control** AUPR / MaxF0.5 | f_φ − f_θ AUPR / MaxF0.5 | f_φ seen |",
           "|---|---|---|---|---|---|---|---|"]
    if theta is None or control is None:
        return "\n".join(out) + "\n\n" + source_line("synth_augmented")

    def pair(row: dict[str, Any] | None, key: str) -> str:
        f = None if row is None else row["metrics"].get(key)
        return "—" if f is None else f"{fmt(f['aupr'])} / {fmt(f['maxf05'])}"

    def gain(a: dict[str, Any] | None, b: dict[str, Any], key: str) -> str:
        fa, fb = (None if a is None else a["metrics"].get(key)), b["metrics"].get(key)
        if fa is None or fb is None:
            return "—"
        return f"{fa['aupr'] - fb['aupr']:+.3f} / {fa['maxf05'] - fb['maxf05']:+.3f}"

    for domain in _SCALING_DOMAINS:
        key = f"unseen/{domain}"
        variants = [("80 of each domain (joint)", rows.get("phi"), f"seen/{domain}")]
        variants += [(f"{n} of {domain}", rows.get(f"phi_{domain}_{n}"), f"seen/{domain}-{n}")
                     for n in (100, 400)]
        for label, phi, seen in variants:
            if phi is None:
                continue
            out.append(table_row(domain, label, pair(theta, key), pair(control, key),
                                 pair(phi, key), gain(phi, control, key),
                                 gain(phi, theta, key), pair(phi, seen)))
    costs = [(name, run) for name, run in result.get("training", {}).items()
             if name.startswith(tuple(f"phi_{d}_" for d in _SCALING_DOMAINS))]
    if costs:
        out += ["", "Each per-domain f_φ run (its command in the file's `training`):", "",
                "| run | wall min | CPU min | peak memory GB (10^9 bytes) |", "|---|---|---|---|"]
        out += [table_row(f"`{name}`", _minutes(run["wall_s"]), _minutes(run["cpu_s"]),
                          "—" if "max_rss_mb" not in run else f"{run['max_rss_mb'] / 1000:.1f}")
                for name, run in costs]
    return "\n".join(out) + "\n\n" + source_line("synth_augmented")


@renderer("view_bank_cost")
def view_bank_cost() -> str:
    """The view bank's size and build time against K, and a step's cost with it."""
    result = load_result("view_bank_cost")
    out = ["| K views per image | source views | target views (each with its masks) | "
           "entries | MB | build wall s | build ms per entry |", "|---|---|---|---|---|---|---|"]
    for row_id, row in result["rows"].items():
        if not row_id.startswith("build_k"):
            continue
        m = row["metrics"]
        out.append(table_row(m["k"], m["source_views"], m["target_views"], m["entries"],
                             fmt(m["megabytes"], 1), fmt(m["build_wall_s"], 1),
                             fmt(m["build_ms_per_entry"], 1)))
    step = result["rows"].get("step", {}).get("metrics")
    if step:
        out += ["", "| one supervised step, batch 8 (median of interleaved repeats) | s |",
                "|---|---|",
                table_row("un-augmented images, features from the cache (the recipe before)",
                          fmt(step["step_s_plain"])),
                table_row("view-bank views, features from the cache (the recipe now)",
                          fmt(step["step_s_bank"])),
                table_row("fresh random views, the encoder runs every step (no bank)",
                          fmt(step["step_s_fresh"])),
                table_row("ratio bank / un-augmented; fresh / bank",
                          f"{fmt(step['ratio_bank_over_plain'], 2)}; "
                          f"{fmt(step['ratio_fresh_over_bank'], 2)}")]
    return "\n".join(out) + "\n\n" + source_line("view_bank_cost")


@renderer("offroad_classes")
def offroad_classes() -> str:
    """Per off-road class: what each model calls it, how much it calls certain, how rightly."""
    result = load_result("offroad_classes")
    models = list(result["rows"].values())
    first = models[0]["metrics"]["classes"]
    head = "| class | share of pixels | " + " | ".join(
        f"{m['label']}: called (share) | certain, its precision" for m in models) + " |"
    out = [head, "|---|---|" + "---|---|" * len(models)]
    for name in sorted(first, key=lambda n: -first[n]["share"]):
        cells: list[str] = []
        for m in models:
            c = m["metrics"]["classes"].get(name)
            cells += (["—", "—"] if c is None else [
                f"{c['top_prediction']} ({fmt(c['top_prediction_share'], 2)})",
                f"{fmt(c['certain_fraction'], 2)}, {fmt(c['certain_precision'])}"])
        out.append(table_row(name, fmt(first[name]["share"]), *cells))
    out.append(table_row("**all pixels**", "1.000", *[
        cell for m in models for cell in (
            f"accuracy {fmt(m['metrics']['accuracy'])}",
            f"{fmt(m['metrics']['certain_fraction'], 2)}, "
            f"{fmt(m['metrics']['certain_precision'])} (γ {fmt(m['metrics']['gamma'])})")]))
    return "\n".join(out) + "\n\n" + source_line("offroad_classes")
