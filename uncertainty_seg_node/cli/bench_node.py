"""`uncertainty-seg bench-node`: the node's end-to-end latency over real DDS vs the backend's.

Starts the node as its own process, sends camera frames over DDS and measures publish ->
receipt of ~/certain_mask, against predict() of the same backend on the same frames in this
process (before and after, same run): the overhead and the ratio. Then a camera faster than the
model: latency of what gets through and the frames the node dropped, from its /diagnostics.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.cli import arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `bench-node`."""
    arguments.add_model(parser, required=False,
                        help="model file (default: the node's default model_path)")
    arguments.add_camera_size(parser)
    parser.add_argument("--frames", type=int, default=100,
                        help="frames for the one-at-a-time phase (default 100)")
    parser.add_argument("--rate", type=float, default=None,
                        help="camera rate (Hz) of the overload phase (default: 3x the model's "
                        "own rate)")
    parser.add_argument("--overload-seconds", type=float, default=3.0)
    parser.add_argument("--camera-rate", type=float, default=5.0,
                        help="camera rate (Hz) the node must keep up with; printed as the ratio "
                        "node rate / camera rate (default 5, the demo drive's)")
    arguments.add_backend_device(parser)
    arguments.add_encoding(parser)
    arguments.add_json_out(parser)
    parser.add_argument("--node-log", type=Path, default=None, help="the node's output")


def run(args: argparse.Namespace) -> int:
    """Run both phases, print the summary and the JSON (or write it to --json)."""
    from uncertainty_seg_node.errors import UserError
    from uncertainty_seg_node.ros_drivers.bench_node import (
        BenchSettings,
        default_model,
        run_bench,
        summary_lines,
    )

    if args.frames < 1 or (args.rate is not None and args.rate <= 0):
        raise UserError("--frames must be >= 1 and --rate > 0")
    result = run_bench(BenchSettings(
        model=str(args.model or default_model()), size=args.size, frames=args.frames,
        rate_hz=args.rate, overload_s=args.overload_seconds, backend=args.backend,
        device=args.device, precision=args.precision, encoding=args.encoding,
        log_path=str(args.node_log) if args.node_log else None, camera_hz=args.camera_rate,
    ))
    for line in summary_lines(result):
        print(line)
    text = json.dumps(result, indent=2)
    if args.json is not None:
        atomic_write(args.json, text + "\n")
    else:
        print(text)
    return 0
