"""Options several subcommands share, declared once: one name, default, meaning and check each.

Values are checked while the command line is parsed: a bad one raises UserError, which `main`
prints as one `error: ...` line (exit status 2), as for errors found later. Only light modules
are imported here, so `uncertainty-seg synth --help` stays fast; the bag topic names come from
`bags.topics` when a subcommand asks for them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from uncertainty_seg_node.config import parse_size
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.gamma import check_gamma
from uncertainty_seg_node.runtime import (
    BACKENDS,
    PRECISIONS,
    normalize_backend,
    normalize_precision,
    parse_device,
)

MODEL_FILES = "checkpoint (.pt), .onnx file, delta file (.delta.safetensors) or TensorRT engine"


def add_model(parser: argparse.ArgumentParser, *, required: bool = True,
              default: str | None = None, help: str = MODEL_FILES) -> None:
    """`--model FILE`: the model to run (a string: `resolve_model_path` maps some names)."""
    parser.add_argument("--model", required=required, default=default, metavar="FILE",
                        help=help)


def _device(text: str) -> str:
    parse_device(text)  # UserError naming the accepted forms
    return text


def add_device(parser: argparse.ArgumentParser) -> None:
    """`--device cpu|cuda|cuda:N|gpu|gpu:N` (default cpu)."""
    parser.add_argument("--device", type=_device, default="cpu",
                        help="cpu, cuda or cuda:N (NVIDIA), gpu or gpu:N (an Intel GPU through "
                        "OpenVINO) (default cpu)")


def add_precision(parser: argparse.ArgumentParser) -> None:
    """`--precision` (one of PRECISIONS, or an alias such as f32)."""
    parser.add_argument("--precision", type=normalize_precision, choices=PRECISIONS,
                        default="auto", help="inference precision (default auto: the model "
                        "file's for onnxruntime, the fastest that passes the shipping gate for "
                        "openvino)")


def add_backend_device(parser: argparse.ArgumentParser) -> None:
    """`--backend` (one of BACKENDS, or an alias such as ort), `--device` and `--precision`."""
    parser.add_argument("--backend", type=normalize_backend, choices=BACKENDS, default="auto",
                        help="inference backend (default auto: torch for a checkpoint, else "
                        "tensorrt on cuda; on the CPU the fastest gated pair of onnxruntime "
                        "and, when installed, openvino)")
    add_device(parser)
    add_precision(parser)


def add_json_out(parser: argparse.ArgumentParser, help: str = "also write the results here"
                 ) -> None:
    """`--json FILE` (a Path or None); write it with `atomic.atomic_write`."""
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help=help)


def add_size(parser: argparse.ArgumentParser, *, default: str | None, help: str) -> None:
    """`--size HxW` parsed to (H, W); a string default is parsed too."""
    parser.add_argument("--size", type=parse_size, default=default, metavar="HxW", help=help)


def add_camera_size(parser: argparse.ArgumentParser, default: str = "480x640") -> None:
    """`--size HxW` of the camera images a command makes up."""
    add_size(parser, default=default, help=f"camera image HxW (default {default}); the network "
             "runs at the model's own input size")


def add_encoding(parser: argparse.ArgumentParser) -> None:
    """`--encoding bgr8|rgb8` of the camera images a command makes up."""
    parser.add_argument("--encoding", choices=("bgr8", "rgb8"), default="bgr8",
                        help="camera image encoding (default bgr8)")


def _gamma(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"--gamma {text!r} is not a number in [0, 1]") from None
    return check_gamma(value, "--gamma")


def add_gamma(parser: argparse.ArgumentParser, help: str) -> None:
    """`--gamma G`: a certainty threshold in [0, 1], or None for the model's own."""
    parser.add_argument("--gamma", type=_gamma, default=None, metavar="G", help=help)


def _frame_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"--max-frames must be a whole number, got {text!r}") from None
    if value < 1:
        raise UserError(f"--max-frames must be at least 1, got {value}")
    return value


def add_max_frames(parser: argparse.ArgumentParser) -> None:
    """`--max-frames N` (N >= 1, default: every frame)."""
    parser.add_argument("--max-frames", type=_frame_count, default=None, metavar="N",
                        help="use at most N frames (default: all)")


def add_no_progress(parser: argparse.ArgumentParser) -> None:
    """`--no-progress`: no progress bar."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_labelled_data(parser: argparse.ArgumentParser, help: str, split: str = "val") -> None:
    """`--data` (required) with the `--classes` and `--split` that say how to read it."""
    parser.add_argument("--data", required=True, help=help)
    parser.add_argument("--classes", metavar="YAML", help="class-map YAML of the labels")
    parser.add_argument("--split", help=f"split of a dataset folder (e.g. {split})")


def add_bag_topics(parser: argparse.ArgumentParser) -> None:
    """`--image-topic`, `--label-topic` and `--domain-topic` of an input bag."""
    from uncertainty_seg_node.bags.topics import DOMAIN_TOPIC, IMAGE_TOPIC, LABEL_TOPIC

    parser.add_argument("--image-topic", default=IMAGE_TOPIC,
                        help=f"image topic of a bag (default {IMAGE_TOPIC})")
    parser.add_argument("--label-topic", default=LABEL_TOPIC,
                        help=f"mono8 label topic of a bag (default {LABEL_TOPIC})")
    parser.add_argument("--domain-topic", default=None,
                        help=f"std_msgs/String domain topic of a bag, for per-domain figures "
                        f"(default {DOMAIN_TOPIC} when present; '' to disable)")


def add_storage(parser: argparse.ArgumentParser, flag: str = "--storage") -> None:
    """`--storage mcap|sqlite3` of a bag to write."""
    from uncertainty_seg_node.bags.writer import STORAGES

    parser.add_argument(flag, choices=STORAGES, default=STORAGES[0],
                        help=f"storage of the bag to write (default {STORAGES[0]})")


def add_compressed(parser: argparse.ArgumentParser) -> None:
    """`--compressed`: images as JPEG CompressedImage on the compressed camera topic."""
    from uncertainty_seg_node.bags.topics import COMPRESSED_TOPIC

    parser.add_argument("--compressed", action="store_true",
                        help=f"images as JPEG CompressedImage on {COMPRESSED_TOPIC}")


def add_prepare_paths(parser: argparse.ArgumentParser, *, src: str, out: str, extra: str,
                      extra_help: str) -> None:
    """A prepare command's `--src` (the user's copy), `--out` and its one optional split."""
    parser.add_argument("--src", required=True, type=Path, metavar="DIR", help=src)
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help=out)
    parser.add_argument(extra, action="store_true", help=extra_help)
