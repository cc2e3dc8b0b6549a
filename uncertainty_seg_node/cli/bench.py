"""`uncertainty-seg bench`: per-stage latency of the backends and their ratios, in one run.

Median and p99 latency per backend and per stage (pre-processing, inference, post-processing)
on a camera image of --size, and the ratios measured in the same run: onnxruntime / torch
eager, whole pipeline / network alone. A checkpoint is exported to a temporary ONNX file for
onnxruntime; for an .onnx model the torch side uses --checkpoint, else the checkpoint recorded
in its metadata, else a sibling <stem>.pt.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.cli import arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `bench`."""
    arguments.add_model(parser)
    parser.add_argument("--backends", default="torch,onnxruntime",
                        help="comma-separated backend[:precision] entries, run interleaved: "
                        "torch, onnxruntime, openvino, tensorrt, e.g. "
                        "onnxruntime:fp32,onnxruntime:int8,openvino:bf16,openvino:int8")
    arguments.add_camera_size(parser)
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="checkpoint for the torch side when --model is an .onnx file")
    arguments.add_device(parser)
    arguments.add_precision(parser)
    parser.add_argument("--compile", action="store_true", help="torch.compile the torch model")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch, onnxruntime and openvino alike (default: "
                        "each library's own choice)")
    arguments.add_encoding(parser)
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="a few iterations only (CI smoke run): --iters 5 --warmup 1")
    arguments.add_json_out(parser)


def run(args: argparse.Namespace) -> int:
    """Measure, print the table (and write the JSON)."""
    from uncertainty_seg_node.bench import run_benchmark, table

    iters, warmup = (5, 1) if args.quick else (args.iters, args.warmup)
    torch_options: dict[str, Any] = {}
    if args.compile:
        torch_options["compile"] = True
    result = run_benchmark(
        args.model, [b.strip() for b in args.backends.split(",") if b.strip()],
        image_size=args.size, iters=iters, warmup=warmup, device=args.device,
        checkpoint=args.checkpoint, encoding=args.encoding, torch_options=torch_options,
        threads=args.threads, precision=args.precision,
    )
    for line in table(result):
        print(line)
    if args.json is not None:
        atomic_write(args.json, json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
