"""`uncertainty-seg bench-node`: the node's end-to-end latency over real DDS vs the backend's."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from uncertainty_seg_node.config import parse_size


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench-node", help="end-to-end latency of the ROS 2 node over real DDS",
        description="Starts the node as its own process, sends camera frames over DDS and "
        "measures publish -> receipt of ~/certain_mask, against predict() of the same backend "
        "on the same frames in this process (before and after, same run): the overhead and "
        "the ratio. Then a camera faster than the model: latency of what gets through and the "
        "frames the node dropped, from its /diagnostics.",
    )
    parser.add_argument("--model", default=None,
                        help="model file (default: the node's default model_path)")
    parser.add_argument("--size", type=parse_size, default=(480, 640),
                        help="camera image HxW (default 480x640)")
    parser.add_argument("--frames", type=int, default=100,
                        help="frames for the one-at-a-time phase (default 100)")
    parser.add_argument("--rate", type=float, default=None,
                        help="camera rate (Hz) of the overload phase (default: 3x the model's "
                        "own rate)")
    parser.add_argument("--overload-seconds", type=float, default=3.0)
    parser.add_argument("--camera-rate", type=float, default=5.0,
                        help="camera rate (Hz) the node must keep up with; printed as the ratio "
                        "node rate / camera rate (default 5, the demo drive's)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--encoding", choices=("bgr8", "rgb8"), default="bgr8")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--node-log", type=Path, default=None, help="the node's output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
        device=args.device, encoding=args.encoding,
        log_path=str(args.node_log) if args.node_log else None, camera_hz=args.camera_rate,
    ))
    for line in summary_lines(result):
        print(line)
    text = json.dumps(result, indent=2)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    else:
        print(text)
    return 0
