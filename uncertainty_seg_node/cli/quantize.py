"""`uncertainty-seg quantize`: int8 dynamic quantisation, with the test whether it may ship.

Quantise an exported model's MatMul/Gemm weights to int8 (ONNX Runtime dynamic quantisation),
then run fp32 and int8 interleaved on labelled frames at the network size: label agreement
(must be >= 99 %), AUPR change (must be < 0.005) and the speed-up. `ships` says whether both
hold. The frames are the user's own (`--data`, `--classes`: labelled in the model's classes,
e.g. the validation frames it was calibrated on) or, for a model in the 19 Cityscapes classes
only, synthetic frames of every domain; a model in other classes without `--data` is refused.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.cli import arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `quantize`."""
    arguments.add_model(parser, help="the fp32 model: .onnx, or a delta file (assembled in fp32 "
                        "first, also when it is packed --int8)")
    parser.add_argument("--out", required=True, type=Path, help="the int8 .onnx to write")
    parser.add_argument("--data", default=None, metavar="DIR",
                        help="labelled frames in the model's classes to gate on (images/ + "
                        "labels/, or Cityscapes format); needed unless the model is in the 19 "
                        "Cityscapes classes (default: synthetic frames of every domain)")
    parser.add_argument("--classes", metavar="YAML", help="class-map YAML of --data's labels")
    parser.add_argument("--split", help="split of a --data folder (e.g. val)")
    arguments.add_max_frames(parser)
    parser.add_argument("--frames-per-domain", type=int, default=4,
                        help="synthetic frames per domain, without --data (default 4)")
    parser.add_argument("--threads", type=int, default=None, help="ORT intra-op threads")
    parser.add_argument("--seed", type=int, default=11, help="of the synthetic frames")
    arguments.add_json_out(parser)


def run(args: argparse.Namespace) -> int:
    """Quantise, check, print the verdict (and write the JSON)."""
    from uncertainty_seg_node.export.assemble import assemble_onnx
    from uncertainty_seg_node.export.delta_header import is_delta_file
    from uncertainty_seg_node.export.quantize import quantize_onnx
    from uncertainty_seg_node.inference.quantize_check import (
        model_gate_frames,
        quantization_check,
    )
    from uncertainty_seg_node.model.artifact import read_onnx_metadata, resolve_model_path

    model = resolve_model_path(args.model)
    # A delta packed --int8 assembles to int8: compare against its fp32 assembly instead.
    fp32 = assemble_onnx(model, fp32=True) if is_delta_file(model) else model
    config, _ = read_onnx_metadata(fp32)
    # The frames first: a model that cannot be gated is refused before anything is written.
    frames = model_gate_frames(config, args.data, args.classes, split=args.split,
                               max_frames=args.max_frames, per_domain=args.frames_per_domain,
                               seed=args.seed)
    quantize_onnx(fp32, args.out)
    result = quantization_check(fp32, args.out, frames.images, frames.labels,
                                threads=args.threads)
    result.update(fp32=str(fp32), int8=str(args.out), frames=len(frames.images),
                  gate_frames=frames.source, classes=len(config.class_names),
                  fp32_mb=round(fp32.stat().st_size / 2**20, 1),
                  int8_mb=round(args.out.stat().st_size / 2**20, 1))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json is not None:
        atomic_write(args.json, text + "\n")
    print(f"int8 vs fp32 on {frames.source}: labels agree on "
          f"{100 * result['label_agreement']:.2f} % of pixels, AUPR {result['aupr_fp32']:.4f} "
          f"-> {result['aupr_int8']:.4f}, speed-up {result['speedup']:.2f}x "
          f"({result['fp32_ms_median']:.1f} -> {result['int8_ms_median']:.1f} ms): "
          + (f"ships: serve {args.out}" if result["ships"] else
             f"does NOT ship: serve {fp32} (fp32)"))
    return 0
