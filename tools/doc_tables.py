"""Regenerate every generated table of the docs from the result files under docs/results/.

A generated table sits between two markers in README.md, docs/**/*.md or models/MODEL_CARD.md::

    <!-- table:NAME -->
    ... (written by this script; do not edit by hand) ...
    <!-- /table:NAME -->

NAME is a renderer registered below with `@renderer("NAME")`: a function of no arguments that
reads its result file(s) (`load_result`, `figures_file`) and returns markdown. To add a table,
write its renderer here and put the two markers where it goes, then run this script. E.g. the
CamVid folds of `tools/study_camvid.py eval`, recorded with
`python tools/results.py run camvid_folds --figures-from RESULTS.json -- python
tools/study_camvid.py eval ...`::

    @renderer("camvid_folds")
    def camvid_folds() -> str:
        from study_camvid import folds_table
        with figures_file("camvid_folds") as path:
            return folds_table(path)

Usage: `python tools/doc_tables.py` rewrites the tables in place; `--check` changes nothing and
exits 1, naming each table that differs from what would be written (test/test_doc_tables.py).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import ROOT, load_result  # noqa: E402

RENDERERS: dict[str, Callable[[], str]] = {}
MARKER = re.compile(r"(<!-- table:([\w-]+) -->\n)(.*?)(<!-- /table:\2 -->)", re.DOTALL)


def renderer(name: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Register FUNCTION as the renderer of the table NAME."""
    def register(function: Callable[[], str]) -> Callable[[], str]:
        RENDERERS[name] = function
        return function
    return register


def doc_files() -> list[Path]:
    """The files whose tables this script writes."""
    files = [ROOT / "README.md", ROOT / "models" / "MODEL_CARD.md"]
    files += sorted((ROOT / "docs").rglob("*.md"))
    return [f for f in files if f.is_file()]


@contextlib.contextmanager
def figures_file(name: str) -> Iterator[Path]:
    """The figures of result NAME as a JSON file of their own (for renderers that read files)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.json"
        path.write_text(json.dumps(load_result(name)["figures"]))
        yield path


def _f(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def source_line(*names: str) -> str:
    """The line under a table that names its result file(s), date and machine."""
    parts = []
    for name in names:
        r = load_result(name)
        m = r["machine"]
        load = m.get("load_avg_1_5_15_before") or m.get("load_avg_1_5_15_after")
        parts.append(f"[`docs/results/{name}.json`](docs/results/{name}.json) "
                     f"({r['date'][:10]}, {m['cpu_cores']} CPU cores, load {load[0]:.1f} before, "
                     f"commit {r['commit'][:7]})")
    return "*Source: " + "; ".join(parts) + ".*\n"


# --- CamVid: the shipped models on real frames (docs/results/default_model_camvid.json) ---

_CAMVID_CLASSES = ("road", "sidewalk", "building", "fence", "pole", "traffic sign",
                   "vegetation", "sky", "person", "rider", "car")


@renderer("default_model_camvid")
def default_model_camvid() -> str:
    """Both shipped models on CamVid day/val and dusk/val, Cityscapes class map."""
    figures = load_result("default_model_camvid")["figures"]
    # Named by the training stage each evaluation recorded, so the table stays right whichever
    # of the two files is the default.
    names = {"uncertainty": "f_φ", "task": "f_θ"}
    rows = []
    for key in ("default", "compare"):
        first = figures.get(f"{key} | day/val") or figures.get(f"{key} | dusk/val") or {}
        rows.append((key, f"{names.get(str(first.get('stage')), 'model')} ({key})"))
    out = ["| model | set | frames | pixel acc. | mIoU | mIoU-11 | MaxF0.5 @ p(a,c) | AUPR | "
           "AUROC | certain at γ |", "|---|---|---|---|---|---|---|---|---|---|"]
    for key, label in rows:
        for split in ("day/val", "dusk/val"):
            r = figures.get(f"{key} | {split}")
            if r is None:
                continue
            out.append(f"| {label} | {split} | {r['frames']} | {_f(r['accuracy'])} | "
                       f"{_f(r['miou'])} | {_f(_miou11(r))} | {_f(r['maxf05'])} @ "
                       f"{_f(r['p_ac_at_maxf05'])} | {_f(r['aupr'])} | {_f(r['auroc'])} | "
                       f"{_f(r['certain_fraction'])} |")
    out += ["", "Per-class IoU (the Cityscapes classes CamVid's 11 map to):", ""]
    head = "| model | set | " + " | ".join(_CAMVID_CLASSES) + " |"
    out += [head, "|---|---|" + "---|" * len(_CAMVID_CLASSES)]
    for key, label in rows:
        for split in ("day/val", "dusk/val"):
            r = figures.get(f"{key} | {split}")
            if r is None:
                continue
            iou = r["per_class_iou"]
            out.append(f"| {label} | {split} | "
                       + " | ".join(_f(iou.get(c), 2) for c in _CAMVID_CLASSES) + " |")
    return "\n".join(out) + "\n\n" + source_line("default_model_camvid")


def _miou11(r: dict[str, Any]) -> float | None:
    """Mean IoU over the Cityscapes classes CamVid's 11 map to (those it can score)."""
    values = [r["per_class_iou"].get(c) for c in _CAMVID_CLASSES]
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


# --- int8 against fp32, both shipped models (quantize.json, `uncertainty-seg quantize`) ---

@renderer("quantize")
def quantize() -> str:
    """The shipping check of int8: label agreement, AUPR change and speed-up per model."""
    figures = load_result("quantize")["figures"]
    # The speed-up is a ratio of interleaved runs; absolute times on the shared development
    # machine are the README's speed table (speed_cpu.json), not repeated here.
    out = ["| model | frames | labels equal to fp32 | AUPR fp32 → int8 | int8 speed-up "
           "(interleaved) | MB fp32 → int8 | ships (≥ 99 %, < 0.005) |",
           "|---|---|---|---|---|---|---|"]
    for key, r in figures.items():
        out.append(f"| {key} | {r['frames']} | {100 * r['label_agreement']:.2f} % | "
                   f"{_f(r['aupr_fp32'])} → {_f(r['aupr_int8'])} | "
                   f"{_f(r['speedup'], 2)}× | {r['fp32_mb']} → {r['int8_mb']} | "
                   f"{'yes' if r['ships'] else 'no'} |")
    return "\n".join(out) + "\n\n" + source_line("quantize")


# --- DDS delivery of the node's outputs in a burst, per distro (dds_delivery.json) ---

@renderer("dds_delivery")
def dds_delivery() -> str:
    """Per distro and profile condition: where the time of a burst's outputs goes."""
    figures = load_result("dds_delivery")["figures"]
    conditions = {"fastdds_name_only": "only FASTDDS_DEFAULT_PROFILES_FILE set (before)",
                  "node_default": "both names set (the node now)"}
    out = ["| distro (rclpy wheel) | profile | messages | node median / max ms | "
           "DDS delivery median / p99 / max ms | end-to-end max ms |",
           "|---|---|---|---|---|---|"]
    for distro, runs in figures.items():
        for key, label in conditions.items():
            r = runs.get(key)
            if not r:
                continue
            out.append(f"| {distro} ({runs.get('rclpy', '?')}) | {label} | {r['messages']} | "
                       f"{_f(r['node_ms']['median'], 1)} / {_f(r['node_ms']['max'], 1)} | "
                       f"{_f(r['dds_ms']['median'], 1)} / {_f(r['dds_ms']['p99'], 1)} / "
                       f"{_f(r['dds_ms']['max'], 1)} | {_f(r['e2e_ms']['max'], 1)} |")
    return "\n".join(out) + "\n\n" + source_line("dds_delivery")


# --- The demo drive: default model in the node, compare model in-process (demo.json) ---

@renderer("demo_domains")
def demo_domains() -> str:
    """Per domain: the default model in the node beside the compare model, same frames."""
    summary = load_result("demo")["figures"]
    other = summary.get("compare") or {}
    rows = dict(summary["domains"])
    rows["overall"] = summary["overall"]
    # Named by training stage, so the table stays right whichever of the two is the default.
    names = {"uncertainty": "f_φ", "task": "f_θ"}
    pair = (f"{names.get(str(summary.get('stage')), 'default')} / "
            f"{names.get(str(other.get('stage')), 'compare')}")
    out = ["| domain | " + " | ".join(f"{q} {pair}" for q in
                                      ("mIoU", "MaxF0.5", "p(a,c)", "AUPR", "certain")) + " |",
           "|---|---|---|---|---|---|"]
    for name, m in rows.items():
        o = other.get("overall", {}) if name == "overall" else \
            other.get("domains", {}).get(name, {})
        cells = [f"{_f(m.get(k))} / {_f(o.get(k))}" for k in
                 ("miou", "maxf05", "p_ac_at_maxf05", "aupr", "certain_fraction")]
        label = f"{name} (source)" if name == "city-day" else name
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    run = (f"{summary['frames_received']} frames received, {summary['frames_missing']} missing; "
           f"end-to-end latency median {_f(summary['latency_ms_median'], 1)} ms, max "
           f"{_f(summary['latency_ms_max'], 1)} ms; {summary['wall_s']} s wall; γ "
           f"{_f(summary['gamma'])} / {_f(other.get('gamma'))}; the first model ran in the "
           "node, the second in-process on the same frames.")
    return "\n".join(out) + "\n\n" + run + "\n\n" + source_line("demo")


# --- CPU speed of the default model (docs/results/speed_cpu.json, `uncertainty-seg bench`) ---

@renderer("speed_cpu")
def speed_cpu() -> str:
    """`bench` of the default model: one row per (input size, precision, threads, backend)."""
    r = load_result("speed_cpu")
    precision = {"onnxruntime": r["machine"].get("precision_onnxruntime", "—"),
                 "torch": r["machine"].get("precision_torch", "—")}
    out = ["| network input | camera image | precision | threads | backend | network alone "
           "median (p99) ms | whole pipeline median (p99) ms | load at the end |",
           "|---|---|---|---|---|---|---|---|"]
    for bench in r["figures"].values():
        size = "×".join(map(str, bench["input_size"]))
        image = "×".join(map(str, bench["image_size"]))
        load = bench["machine"].get("load_average", [None])[0]
        for backend, entry in bench["backends"].items():
            stages = entry["stages"]
            out.append(
                f"| {size} | {image} {bench['encoding']} | {precision.get(backend, '—')} | "
                f"{bench['threads'] or 'default'} | {backend} | "
                f"{_f(stages['network_alone']['median_ms'], 1)} "
                f"({_f(stages['network_alone']['p99_ms'], 1)}) | "
                f"{_f(stages['total']['median_ms'], 1)} ({_f(stages['total']['p99_ms'], 1)}) | "
                f"{_f(load, 1)} |")
    return "\n".join(out) + "\n\n" + source_line("speed_cpu")


# --- The node over DDS (docs/results/speed_node.json, `uncertainty-seg bench-node`) ---

@renderer("speed_node")
def speed_node() -> str:
    """`bench-node` of the default model: backend alone vs the node, then a too-fast camera."""
    f = load_result("speed_node")["figures"]
    over, keeps = f["overload"], f["keeps_up"]
    rows = [
        ("backend `predict()` in-process, median (p90)",
         f"{_f(f['backend_predict_ms']['median_ms'], 1)} ms "
         f"({_f(f['backend_predict_ms']['p90_ms'], 1)})"),
        ("node end to end, publish → `certain_mask` received, median (p90)",
         f"{_f(f['node_e2e_ms']['median_ms'], 1)} ms ({_f(f['node_e2e_ms']['p90_ms'], 1)})"),
        ("overhead of the node, ratio end to end / predict",
         f"{_f(f['overhead_ms'], 1)} ms, {_f(f['ratio_e2e_over_predict'], 2)}"),
        (f"camera at {_f(over['camera_rate_hz'], 1)} Hz: published / dropped (busy)",
         f"{over['published']} / {over['dropped_busy']} of {over['received_by_node']}, "
         f"latency median {_f(over['e2e_ms']['median_ms'], 1)} ms"),
        (f"node rate / camera rate ({_f(keeps['camera_rate_hz'], 1)} Hz)",
         f"{_f(keeps['node_rate_hz'], 1)} Hz / {_f(keeps['camera_rate_hz'], 1)} Hz = "
         f"{_f(keeps['ratio'], 2)} ({'keeps up' if keeps['keeps_up'] else 'does not keep up'})"),
        ("node start to first output, RSS",
         f"{_f(f['node_start_to_first_output_s'], 1)} s, "
         f"{_f(f['node_memory']['rss_mb'], 1)} MB"),
    ]
    out = ["| quantity | measured |", "|---|---|"]
    out += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(out) + "\n\n" + source_line("speed_node")


# --- rewriting -------------------------------------------------------------------------------

# --- CamVid dusk in two temporal folds: unseen frames first (docs/experiments/unseen.md) ---

SYNTH_DOMAINS = ("rural", "night", "fog", "snow", "offroad")


@renderer("synth_domains")
def synth_domains() -> str:
    """Per synthetic target domain: unseen frames first, the adapted (seen) frames beside."""
    figures = load_result("synth_domains")["figures"]
    labels = list(dict.fromkeys(key.split(" | ")[0] for key in figures))

    def get(label: str, part: str, domain: str, metric: str) -> float | None:
        r = figures.get(f"{label} | {part}/{domain}")
        return None if r is None else r.get(metric)

    def mean(label: str, part: str, metric: str) -> float | None:
        values = [get(label, part, d, metric) for d in SYNTH_DOMAINS]
        present = [v for v in values if v is not None]
        return sum(present) / len(present) if len(present) == len(values) else None

    head = ("| method | passes | "
            + " | ".join(f"{d} unseen AUPR / MaxF0.5" for d in SYNTH_DOMAINS)
            + " | **unseen mean AUPR** | **unseen mean MaxF0.5** | seen mean AUPR / MaxF0.5 | "
            "unseen mean mIoU |")
    out = [head, "|---|---|" + "---|" * (len(SYNTH_DOMAINS) + 4)]
    for label in labels:
        first = next(v for k, v in figures.items() if k.startswith(f"{label} | "))
        cells = [f"{_f(get(label, 'unseen', d, 'aupr'))} / "
                 f"{_f(get(label, 'unseen', d, 'maxf05'))}" for d in SYNTH_DOMAINS]
        out.append(f"| {label} | {first.get('passes', 1)} | " + " | ".join(cells)
                   + f" | {_f(mean(label, 'unseen', 'aupr'))} | "
                   f"{_f(mean(label, 'unseen', 'maxf05'))} | {_f(mean(label, 'seen', 'aupr'))} / "
                   f"{_f(mean(label, 'seen', 'maxf05'))} | {_f(mean(label, 'unseen', 'miou'))} |")
    phi = next((x for x in labels if x.startswith("f_φ")), None)
    rivals = [x for x in labels if x.startswith(("f_θ max-softmax", "control"))]
    if phi and rivals:
        wins = [d for d in SYNTH_DOMAINS if all(
            (get(phi, "unseen", d, m) or 0.0) > (get(r, "unseen", d, m) or 1.0)
            for r in rivals for m in ("aupr", "maxf05"))]
        out += ["", f"On unseen frames, {phi} beats {' and '.join(rivals)} on both AUPR and "
                f"MaxF0.5 in {len(wins)} of {len(SYNTH_DOMAINS)} domains: "
                f"{', '.join(wins) or 'none'}."]
    return "\n".join(out) + "\n\n" + source_line("synth_domains")


_SCALING_ROW = re.compile(r"^(control|f_φ), (\w+) N=(\d+)$")


def scaling_runs(figures: dict[str, Any]) -> tuple[
        dict[tuple[str, int], dict[str, dict[str, Any]]], dict[str, dict[str, Any]]]:
    """{(domain, N): {'f_φ unseen' | 'control seen' | ...: figures}}, {domain: f_θ figures}."""
    runs: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    theta: dict[str, dict[str, Any]] = {}
    for key, r in figures.items():
        label, _, data = key.partition(" | ")
        match = _SCALING_ROW.match(label)
        if match:
            variant, domain, n = match.group(1), match.group(2), int(match.group(3))
            part = "unseen" if data.startswith("test/") else "seen"
            runs.setdefault((domain, n), {})[f"{variant} {part}"] = r
        elif label.startswith("f_θ") and data.startswith("test/"):
            theta[data.split("/", 1)[1]] = r
    return runs, theta


def _pair(r: dict[str, Any] | None) -> str:
    """AUPR / MaxF0.5 of one row's figures ("n/a" when the row is missing)."""
    return "n/a" if r is None else f"{_f(r['aupr'])} / {_f(r['maxf05'])}"


def _gain(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    """AUPR / MaxF0.5 of A minus B, signed ("n/a" when either is missing)."""
    if a is None or b is None:
        return "n/a"
    return f"{a['aupr'] - b['aupr']:+.3f} / {a['maxf05'] - b['maxf05']:+.3f}"


@renderer("synth_scaling")
def synth_scaling() -> str:
    """Unseen-frame gain of f_φ over the control and f_θ against N unlabelled frames."""
    runs, thetas = scaling_runs(load_result("synth_scaling")["figures"])
    out = ["| domain | N unlabelled frames | f_θ unseen AUPR / MaxF0.5 | control unseen | "
           "f_φ unseen | **f_φ − control** AUPR / MaxF0.5 | f_φ − f_θ AUPR / MaxF0.5 | "
           "f_φ seen |", "|---|---|---|---|---|---|---|---|"]

    for (domain, n), r in sorted(runs.items()):
        theta = thetas.get(domain)
        phi, control = r.get("f_φ unseen"), r.get("control unseen")
        out.append(f"| {domain} | {n} | {_pair(theta)} | {_pair(control)} | {_pair(phi)} | "
                   f"{_gain(phi, control)} | {_gain(phi, theta)} | {_pair(r.get('f_φ seen'))} |")
    return "\n".join(out) + "\n\n" + source_line("synth_scaling")


@renderer("synth_joint")
def synth_joint() -> str:
    """One model per target domain (synth_scaling) against the one joint model (synth_domains).

    Both are the default recipe with the shipped f_θ as teacher, measured on the same 40 unseen
    frames a domain; each f_φ is set against the control of its own corpus.
    """
    runs, thetas = scaling_runs(load_result("synth_scaling")["figures"])
    joint = load_result("synth_domains")["figures"]
    labels = list(dict.fromkeys(key.split(" | ")[0] for key in joint))
    phi_label = next(x for x in labels if x.startswith("f_φ"))
    control_label = next(x for x in labels if x.startswith("control"))
    out = ["| domain | f_φ | unlabelled frames (this domain / all) | f_θ unseen AUPR / MaxF0.5 | "
           "control unseen | f_φ unseen | **f_φ − control** AUPR / MaxF0.5 | "
           "f_φ − f_θ AUPR / MaxF0.5 |", "|---|---|---|---|---|---|---|---|"]

    def row(domain: str, kind: str, frames: str, theta: dict[str, Any],
            control: dict[str, Any], phi: dict[str, Any]) -> str:
        return (f"| {domain} | {kind} | {frames} | {_pair(theta)} | {_pair(control)} | "
                f"{_pair(phi)} | {_gain(phi, control)} | {_gain(phi, theta)} |")

    per_domain = joint[f"{phi_label} | seen/{SYNTH_DOMAINS[0]}"]["frames"]
    for domain in sorted({d for d, _ in runs}):
        theta = thetas[domain]
        out.append(row(domain, "joint (shipped)",
                       f"{per_domain} / {per_domain * len(SYNTH_DOMAINS)}", theta,
                       joint[f"{control_label} | unseen/{domain}"],
                       joint[f"{phi_label} | unseen/{domain}"]))
        out += [row(domain, "this domain only", f"{n} / {n}", theta, r["control unseen"],
                    r["f_φ unseen"])
                for (d, n), r in sorted(runs.items())
                if d == domain and "f_φ unseen" in r and "control unseen" in r]
    return "\n".join(out) + "\n\n" + source_line("synth_domains", "synth_scaling")


def camvid_folds_result(name: str) -> str:
    """A CamVid temporal-folds table (tools/study_camvid.py folds_table) of result NAME."""
    from study_camvid import folds_table

    with figures_file(name) as path:
        return folds_table(path) + "\n" + source_line(name)


# the main fold study, its early-stopping curve, and the levers of issue 18
for _name in ("camvid_folds", "camvid_folds_curve", "camvid_levers"):
    renderer(_name)(functools.partial(camvid_folds_result, _name))


def render_file(text: str, source: Path) -> tuple[str, list[str]]:
    """TEXT with every marked table re-rendered, and the names of the tables that changed."""
    changed: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in RENDERERS:
            raise SystemExit(f"{source}: no renderer for table {name!r} in tools/doc_tables.py "
                             f"(known: {', '.join(sorted(RENDERERS))})")
        body = RENDERERS[name]()
        if source.parent != ROOT:  # links in the source line are relative to the repo root
            body = _relative_links(body, source)
        if body != match.group(3):
            changed.append(f"{source.relative_to(ROOT)}: {name}")
        return match.group(1) + body + match.group(4)

    return MARKER.sub(replace, text), changed


def _relative_links(body: str, source: Path) -> str:
    up = "../" * len(source.parent.relative_to(ROOT).parts)
    return body.replace("](docs/results/", f"]({up}docs/results/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 naming each table that differs")
    args = parser.parse_args(argv)
    differing: list[str] = []
    for path in doc_files():
        text = path.read_text()
        new, changed = render_file(text, path)
        differing += changed
        if changed and not args.check:
            path.write_text(new)
    for item in differing:
        print(("differs: " if args.check else "rewrote: ") + item)
    return 1 if args.check and differing else 0


if __name__ == "__main__":
    sys.exit(main())
