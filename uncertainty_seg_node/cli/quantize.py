"""`uncertainty-seg quantize`: int8 dynamic quantisation, with the test whether it may ship.

Quantise an exported model's MatMul/Gemm weights to int8 (ONNX Runtime dynamic quantisation),
then run fp32 and int8 interleaved on labelled synthetic frames of every domain at the network
size: label agreement (must be >= 99 %), AUPR change (must be < 0.005) and the speed-up.
`ships` says whether both hold.
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
    parser.add_argument("--frames-per-domain", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None, help="ORT intra-op threads")
    parser.add_argument("--seed", type=int, default=11)
    arguments.add_json_out(parser)


def run(args: argparse.Namespace) -> int:
    """Quantise, check, print the verdict (and write the JSON)."""
    from uncertainty_seg_node.export.assemble import assemble_onnx
    from uncertainty_seg_node.export.delta_header import is_delta_file
    from uncertainty_seg_node.export.quantize import quantize_onnx
    from uncertainty_seg_node.inference.quantize_check import gate_frames, quantization_check
    from uncertainty_seg_node.model.artifact import read_onnx_metadata, resolve_model_path

    model = resolve_model_path(args.model)
    # A delta packed --int8 assembles to int8: compare against its fp32 assembly instead.
    fp32 = assemble_onnx(model, fp32=True) if is_delta_file(model) else model
    config, _ = read_onnx_metadata(fp32)
    size = (int(config.input_size[0]), int(config.input_size[1]))
    images, labels = gate_frames(size, args.frames_per_domain, args.seed)
    quantize_onnx(fp32, args.out)
    result = quantization_check(fp32, args.out, images, labels, threads=args.threads)
    result.update(fp32=str(fp32), int8=str(args.out), frames=len(images),
                  fp32_mb=round(fp32.stat().st_size / 2**20, 1),
                  int8_mb=round(args.out.stat().st_size / 2**20, 1))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json is not None:
        atomic_write(args.json, text + "\n")
    print(f"int8 vs fp32: labels agree on {100 * result['label_agreement']:.2f} % of pixels, "
          f"AUPR {result['aupr_fp32']:.4f} -> {result['aupr_int8']:.4f}, speed-up "
          f"{result['speedup']:.2f}x ({result['fp32_ms_median']:.1f} -> "
          f"{result['int8_ms_median']:.1f} ms): {'ships' if result['ships'] else 'does NOT ship'}")
    return 0
