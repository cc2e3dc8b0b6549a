"""`uncertainty-seg demo`: the main job on the built-in sample drive (no camera, no downloads).

Starts the ROS 2 node (real DDS) with the default model, plays the built-in synthetic drive
(source domain, then shifted domains and unknown objects) into it, records its outputs to an
MCAP bag, evaluates them and writes an HTML report.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from uncertainty_seg_node.cli import arguments
from uncertainty_seg_node.model.artifact import DEFAULT_MODEL_PATH

_DEFAULT_PARAMS = "config/params.yaml"
# The other model of the default's training run (f_theta when f_phi ships, f_phi when f_theta
# measured better and ships), shipped beside the default to show what L_c changed.
DEFAULT_COMPARE = "models/compare.delta.safetensors"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `demo`."""
    arguments.add_model(parser, required=False, default=DEFAULT_MODEL_PATH,
                        help="model file (relative paths: package share dir, then cwd)")
    parser.add_argument("--params-file", default=_DEFAULT_PARAMS, help="node parameters YAML")
    parser.add_argument("--out", default="runs/demo", help="output folder")
    parser.add_argument("--frames", type=int, default=180, help="frames in the sample drive")
    arguments.add_camera_size(parser)
    parser.add_argument("--rate", type=float, default=5.0, help="camera rate in Hz")
    parser.add_argument("--domains", default="city-day,rural,fog,night,snow,offroad",
                        help="domains the drive passes through, in order")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--compare", default="auto", metavar="MODEL",
                        help="a second model run in-process on the same frames, reported per "
                        f"domain beside the node's (default auto: {DEFAULT_COMPARE} when it "
                        "ships; none: off)")


def run(args: argparse.Namespace) -> int:
    """Run the demo and print its summary."""
    from uncertainty_seg_node.model.artifact import resolve_model_path
    from uncertainty_seg_node.ros_drivers.demo_drive import DemoOptions, run_demo

    options = DemoOptions(
        model=resolve_model_path(args.model), params_file=resolve_model_path(args.params_file),
        out=Path(args.out), domains=args.domains, frames=args.frames,
        size=args.size, rate=args.rate, seed=args.seed,
        compare=compare_model(args.compare))
    summary = run_demo(options)
    (options.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    _print_summary(summary)
    return 0


def compare_model(value: str) -> Path | None:
    """`--compare`: none -> None; auto -> the shipped comparison model if present; else a path."""
    from uncertainty_seg_node.errors import UserError
    from uncertainty_seg_node.model.artifact import resolve_model_path

    if value.lower() == "none":
        return None
    if value.lower() == "auto":
        path = resolve_model_path(DEFAULT_COMPARE)
        return path if path.is_file() else None
    path = resolve_model_path(value)
    if not path.is_file():
        raise UserError(f"--compare model {path} does not exist")
    return path


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _print_summary(summary: dict) -> None:
    print(f"frames: {summary['frames_received']} received, {summary['frames_missing']} missing; "
          f"end-to-end latency median {_fmt(summary['latency_ms_median'])} ms, "
          f"max {_fmt(summary['latency_ms_max'])} ms; wall {summary['wall_s']} s")
    diag = summary.get("diagnostics", {})
    if diag:
        keys = [k for k in diag if any(w in k for w in ("rate", "latency", "dropped",
                                                         "rejected", "certain", "backend"))]
        print("node diagnostics: " + ", ".join(f"{k}={diag[k]}" for k in keys))
    print(f"{'domain':<10} {'mIoU':>6} {'MaxF0.5':>8} {'@p(a,c)':>8} {'AUPR':>6} "
          f"{'certain':>8} {'precision':>9} {'anomaly AUROC':>14}")
    rows = dict(summary["domains"])
    rows["overall"] = summary["overall"]
    for name, m in rows.items():
        print(f"{name:<10} {_fmt(m.get('miou')):>6} {_fmt(m.get('maxf05')):>8} "
              f"{_fmt(m.get('p_ac_at_maxf05')):>8} {_fmt(m.get('aupr')):>6} "
              f"{_fmt(m.get('certain_fraction')):>8} {_fmt(m.get('precision_at_gamma')):>9} "
              f"{_fmt(m.get('anomaly_auroc')):>14}")
    compare = summary.get("compare")
    if compare:
        print(f"same frames, {summary.get('stage')} model in the node vs {compare['stage']} model "
              f"{Path(compare['model']).name} in-process (gamma {_fmt(compare['gamma'])}):")
        print(Path(compare["table"]).read_text().split("\n\n", 1)[-1].rstrip())
    print(f"recording: {summary['recording']}")
    print(f"report:    {summary['report']}")
