"""`uncertainty-seg make-bag`: a sorted folder of frames (and labels) as a ROS 2 bag.

    uncertainty-seg make-bag --images camvid/day/val --rate 1 --out val.bag
        [--labels camvid/day/val --classes camvid/classes.yaml] [--compressed]

Frames go on /camera/image_raw (rgb8) or, with --compressed, /camera/image_raw/compressed
(JPEG files as they are); labels (matched by file stem) on /camera/labels as mono8.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from uncertainty_seg_node.cli import arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `make-bag`."""
    parser.add_argument("--images", type=Path, required=True, metavar="DIR",
                        help="folder of frames (or with an images/ subfolder), in name order")
    parser.add_argument("--rate", type=float, required=True, metavar="HZ",
                        help="frame rate in Hz")
    parser.add_argument("--out", type=Path, required=True, metavar="BAG",
                        help="bag to write (a new folder)")
    parser.add_argument("--labels", type=Path, metavar="DIR",
                        help="folder of label images (or with a labels/ subfolder), same stems")
    parser.add_argument("--classes", type=Path, metavar="YAML",
                        help="class-map YAML: checks label ids, maps its ignore ids to 255")
    parser.add_argument("--to-cityscapes", action="store_true",
                        help="map labels to Cityscapes train ids (cityscapes_train_id in YAML)")
    arguments.add_compressed(parser)
    arguments.add_storage(parser)
    parser.add_argument("--start-ns", type=int, default=None, metavar="NS",
                        help="stamp of the first frame in ns (default: a fixed time)")


def _progress(frames: list[Path]) -> Iterable[Path]:
    if not sys.stderr.isatty():
        return frames
    from tqdm import tqdm

    return tqdm(frames, unit="frame", desc="make-bag")  # type: ignore[no-any-return]


def run(args: argparse.Namespace) -> int:
    """Write the bag and print one summary line."""
    from uncertainty_seg_node.bags.topics import DEFAULT_START_NS
    from uncertainty_seg_node.data.folder_to_bag import folder_to_bag
    from uncertainty_seg_node.errors import UserError

    if args.classes is not None and args.labels is None:
        raise UserError("--classes describes labels: give --labels DIR too")
    start = time.perf_counter()
    result = folder_to_bag(
        args.images, args.out, args.rate, labels=args.labels, classes=args.classes,
        to_cityscapes=args.to_cityscapes, compressed=args.compressed, storage=args.storage,
        start_ns=DEFAULT_START_NS if args.start_ns is None else args.start_ns,
        progress=_progress,
    )
    seconds = time.perf_counter() - start
    labels = f", {result.labelled} labelled" if args.labels is not None else ""
    print(f"wrote {result.frames} frames{labels} ({result.size[0]}x{result.size[1]}) at "
          f"{args.rate:g} Hz to {args.out} ({args.storage}, {result.image_topic}) "
          f"in {seconds:.1f} s")
    return 0
