#!/usr/bin/env python3
"""The synthetic-world experiment: does f_phi (Masked gamma-SSL) detect its errors better?

One command, end to end, through the public CLI only:

    python tools/experiment_synth.py --out runs/synth

1. `uncertainty-seg synth`: the source domain (first of `synth --list`) as a labelled train split,
   every domain as a labelled test split, and every target domain as unlabelled train images
   (splits differ by seed).
2. `uncertainty-seg train task`: the tiny f_theta on the source train split.
3. `uncertainty-seg train uncertainty`: f_phi on the source train split + the pooled unlabelled
   target images, once per `--variants` entry (`unmasked` = the paper's certainty mask,
   `masked` = the authors' code; `+tinit` starts f_phi's encoder from f_theta's).
4. `uncertainty-seg evaluate` with max-softmax on each domain's labelled test split.
5. A markdown table (mIoU, MaxF0.5 @ p(a,c), AUPR per domain and model) to stdout and
   `<out>/results.md`, every figure in `<out>/results.json`.

Defaults are sized for ~10-15 minutes on a 2-core CPU. `--reuse` skips steps whose outputs exist.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable from a checkout without `pip install -e .`


def main(argv: list[str] | None = None) -> int:
    """Run the experiment; return the process exit code."""
    args = _parser().parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    domains = _domains(args.domains)
    source, targets = domains[0], domains[1:]
    print(f"source {source}; targets {', '.join(targets)}", flush=True)

    data = out / "data"
    t0 = time.perf_counter()
    _synth(source, args.train_count, args.size, args.seed, data / source / "train", args.reuse)
    for i, name in enumerate(domains):
        _synth(name, args.test_count, args.size, args.seed + 1000 + i, data / name / "test",
               args.reuse)
    for i, name in enumerate(targets):
        _synth(name, args.unlabelled_count, args.size, args.seed + 2000 + i,
               data / "unlabelled" / name, args.reuse)
    timings["synth_s"] = time.perf_counter() - t0

    models = out / "models"
    theta = models / "f_theta.pt"
    t0 = time.perf_counter()
    _run(["train", "task", "--data", str(data / source / "train"), "--model", "tiny",
          "--size", args.size, "--steps", str(args.task_steps), "--out", str(theta),
          "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--seed", str(args.seed)],
         skip=args.reuse and theta.is_file())
    timings["train_task_s"] = time.perf_counter() - t0

    trained = {"f_theta": theta}
    for variant in args.variants.split(","):
        certainty, _, extra = variant.partition("+")
        phi = models / f"f_phi_{certainty}{'_' + extra if extra else ''}.pt"
        cmd = ["train", "uncertainty", "--teacher", str(theta),
               "--data", str(data / source / "train"), "--unlabelled", str(data / "unlabelled"),
               "--model", "tiny", "--size", args.size, "--steps", str(args.uncertainty_steps),
               "--out", str(phi), "--batch-size", str(args.batch_size), "--lr", str(args.lr),
               "--unlabelled-batch-size", str(args.unlabelled_batch_size),
               "--seed", str(args.seed), "--certainty-from", certainty,
               "--loss-weight", str(args.loss_weight), "--p-mask", str(args.p_mask)]
        if extra == "tinit":
            cmd.append("--init-from-teacher")
        t0 = time.perf_counter()
        _run(cmd, skip=args.reuse and phi.is_file())
        timings[f"train_{phi.stem}_s"] = time.perf_counter() - t0
        trained[phi.stem] = phi

    results: dict[str, dict[str, dict[str, Any]]] = {}
    t0 = time.perf_counter()
    for model_name, path in trained.items():
        for name in domains:
            json_path = out / "eval" / f"{model_name}__{name}.json"
            _run(["evaluate", "--model", str(path), "--data", str(data / name / "test"),
                  "--json", str(json_path), "--score", "msp", "--no-progress"],
                 skip=args.reuse and json_path.is_file(), quiet=True)
            results.setdefault(name, {})[model_name] = json.loads(json_path.read_text())
    timings["evaluate_s"] = time.perf_counter() - t0

    table = _table(results, domains, list(trained), source)
    summary = {
        "machine": _machine(),
        "settings": vars(args),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "source": source,
        "targets": targets,
        "results": {
            d: {m: {k: r.get(k) for k in _KEYS} for m, r in per.items()}
            for d, per in results.items()
        },
        "default_gamma": {m: _default_gamma(p) for m, p in trained.items()},
    }
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "results.md").write_text(table + "\n")
    print(table)
    print(f"\nmachine: {summary['machine']['description']}; timings (s): {summary['timings_s']}")
    print(f"wrote {out / 'results.md'} and {out / 'results.json'}")
    return 0


_KEYS = ("miou", "maxf05", "p_ac_at_maxf05", "aupr", "auroc", "fpr95", "ece", "accuracy")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/synth", help="working folder (default runs/synth)")
    parser.add_argument("--domains", default="all",
                        help="comma-separated domains, source first (default: synth --list)")
    parser.add_argument("--size", default="112x224", help="render and network size HxW")
    parser.add_argument("--train-count", type=int, default=160, help="labelled source images")
    parser.add_argument("--test-count", type=int, default=24, help="labelled test images/domain")
    parser.add_argument("--unlabelled-count", type=int, default=48,
                        help="unlabelled images per target domain")
    parser.add_argument("--task-steps", type=int, default=500)
    parser.add_argument("--uncertainty-steps", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--unlabelled-batch-size", type=int, default=4,
                        help="target images per f_phi step")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--loss-weight", type=float, default=1.0, help="w_c")
    parser.add_argument("--p-mask", type=float, default=0.5)
    parser.add_argument("--variants", default="unmasked,masked",
                        help="f_phi variants: unmasked, masked, each optionally +tinit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reuse", action="store_true", help="skip steps whose outputs exist")
    return parser


def _cli(args: list[str], *, capture: bool = False, quiet: bool = False) -> str:
    """Run `uncertainty-seg ARGS` in this process (no interpreter start-up per command)."""
    from uncertainty_seg_node.cli.main import main as cli_main

    if not quiet:
        print("$ uncertainty-seg " + " ".join(args), flush=True)
    buffer = io.StringIO()
    silent = capture or quiet
    with contextlib.redirect_stdout(buffer) if silent else contextlib.nullcontext():
        code = cli_main(args)
    if code != 0:
        raise SystemExit(f"command failed ({code}): uncertainty-seg {' '.join(args)}")
    return buffer.getvalue()


def _run(args: list[str], *, skip: bool = False, quiet: bool = False) -> None:
    if skip:
        print(f"(reusing) uncertainty-seg {' '.join(args[:2])} ... -> {_out_of(args)}")
        return
    _cli(args, quiet=quiet)


def _out_of(args: list[str]) -> str:
    for flag in ("--out", "--json"):
        if flag in args:
            return args[args.index(flag) + 1]
    return "?"


def _domains(text: str) -> list[str]:
    if text != "all":
        return [d.strip() for d in text.split(",") if d.strip()]
    listed = _cli(["synth", "--list"], capture=True, quiet=True)
    names = [line.split()[0] for line in listed.splitlines() if line.strip()]
    if len(names) < 2:
        raise SystemExit(f"`uncertainty-seg synth --list` gave {names}; need a source and targets")
    return names


def _synth(domain: str, count: int, size: str, seed: int, out: Path, reuse: bool) -> None:
    if reuse and out.is_dir() and any(out.rglob("*.png")):
        print(f"(reusing) {out}")
        return
    _cli(["synth", "--domain", domain, "--count", str(count), "--size", size,
          "--seed", str(seed), "--out", str(out)])


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _table(results: dict[str, dict[str, dict[str, Any]]], domains: list[str],
           models: list[str], source: str) -> str:
    lines = [
        "| domain | model | mIoU | MaxF0.5 @ p(a,c) | AUPR |",
        "|---|---|---|---|---|",
    ]
    for name in domains:
        label = f"{name} (source)" if name == source else name
        for model in models:
            r = results[name][model]
            lines.append(
                f"| {label} | {model} | {_fmt(r.get('miou'))} | {_fmt(r.get('maxf05'))} @ "
                f"{_fmt(r.get('p_ac_at_maxf05'))} | {_fmt(r.get('aupr'))} |"
            )
    # Mean over the target domains, the method's claim.
    lines.append("")
    lines.append("| mean over targets | model | mIoU | MaxF0.5 | AUPR |")
    lines.append("|---|---|---|---|---|")
    targets = [d for d in domains if d != source]
    for model in models:
        means = {
            k: sum(results[d][model][k] for d in targets) / len(targets)
            for k in ("miou", "maxf05", "aupr")
        }
        lines.append(f"| {len(targets)} targets | {model} | {_fmt(means['miou'])} | "
                     f"{_fmt(means['maxf05'])} | {_fmt(means['aupr'])} |")
    return "\n".join(lines)


def _default_gamma(path: Path) -> float | None:
    import torch

    payload = torch.load(path, map_location="cpu", weights_only=False)
    return json.loads(payload["config"]).get("default_gamma")


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = os.cpu_count()
    return {
        "description": f"{cores}-core CPU ({cpu}), {platform.system()} {platform.release()}, "
                       f"Python {platform.python_version()}",
        "cpu": cpu,
        "cores": cores,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


if __name__ == "__main__":
    sys.exit(main())
