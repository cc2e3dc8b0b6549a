"""`uncertainty-seg bench`: per-stage latency of the backends and their ratios, in one run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from uncertainty_seg_node.config import parse_size


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench", help="latency of the inference backends",
        description="Median and p99 latency per backend and per stage (pre-processing, "
        "inference, post-processing) on a camera image of --size, and the ratios measured in "
        "the same run: onnxruntime / torch eager, whole pipeline / network alone. A checkpoint "
        "is exported to a temporary ONNX file for onnxruntime; for an .onnx model the torch "
        "side uses --checkpoint, else the checkpoint recorded in its metadata, else a sibling "
        "<stem>.pt.",
    )
    parser.add_argument("--model", required=True, type=Path,
                        help="checkpoint (.pt), .onnx file or TensorRT engine")
    parser.add_argument("--backends", default="torch,onnxruntime",
                        help="comma-separated: torch, onnxruntime, tensorrt")
    parser.add_argument("--size", type=parse_size, default=(480, 640),
                        help="camera image HxW fed to the pipeline (default 480x640); the "
                        "network runs at the model's own input size")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="checkpoint for the torch side when --model is an .onnx file")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32",
                        help="torch autocast precision (bf16/fp16 on CUDA)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the torch model")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch and onnxruntime alike (default: each "
                        "library's own choice)")
    parser.add_argument("--encoding", choices=("bgr8", "rgb8"), default="bgr8")
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="a few iterations only (CI smoke run): --iters 5 --warmup 1")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from uncertainty_seg_node.bench import run_benchmark, table

    iters, warmup = (5, 1) if args.quick else (args.iters, args.warmup)
    torch_options: dict[str, Any] = {}
    if args.precision != "fp32":
        torch_options["precision"] = args.precision
    if args.compile:
        torch_options["compile"] = True
    result = run_benchmark(
        args.model, [b.strip() for b in args.backends.split(",") if b.strip()],
        image_size=args.size, iters=iters, warmup=warmup, device=args.device,
        checkpoint=args.checkpoint, encoding=args.encoding, torch_options=torch_options,
        threads=args.threads,
    )
    for line in table(result):
        print(line)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
