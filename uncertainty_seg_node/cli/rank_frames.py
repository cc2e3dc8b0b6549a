"""`uncertainty-seg rank-frames`: the frames of a bag most worth labelling, first.

Image-level uncertainty of every frame: the mean of (1 - confidence) and the UAAL-style mean of
its square (exponent 2, seed 001). Writes the top-K frames as PNGs (frames/ and their
uncertainty maps in uncertainty/), ranking.csv with every frame and top_k.json. With a label
topic it also reports the Spearman rank correlation between each score and the frame error
rate.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from uncertainty_seg_node.cli import arguments
from uncertainty_seg_node.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `rank-frames`."""
    parser.add_argument("--bag", required=True, help="input bag (or a labelled folder)")
    arguments.add_model(parser)
    parser.add_argument("--top", type=int, default=20, help="how many frames to output")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--score", choices=("mean", "uaal"), default="uaal",
                        help="ranking score (default uaal: mean squared uncertainty)")
    arguments.add_bag_topics(parser)  # labels, when the bag has them: the error-rate check
    arguments.add_backend_device(parser)
    arguments.add_max_frames(parser)
    arguments.add_no_progress(parser)


def run(args: argparse.Namespace) -> int:
    """Rank, write the outputs, print the top frames and the correlation."""
    from tqdm import tqdm

    from uncertainty_seg_node.inference.factory import load_predictor
    from uncertainty_seg_node.replay.frames import open_frames
    from uncertainty_seg_node.replay.rank_frames import rank_frames, write_ranking

    if args.top < 1:
        raise UserError(f"--top must be at least 1, got {args.top}")
    if not Path(args.model).exists():
        raise UserError(f"model {args.model} does not exist")
    predictor = load_predictor(Path(args.model), backend=args.backend, device=args.device,
                               precision=args.precision)
    frame_set = open_frames(args.bag, image_topic=args.image_topic, label_topic=args.label_topic,
                            domain_topic=args.domain_topic, require_labels=False,
                            max_frames=args.max_frames,
                            num_classes=predictor.config.num_classes)
    with tqdm(total=frame_set.count, unit="frame", disable=args.no_progress,
              desc="rank") as bar:
        ranking = rank_frames(predictor, frame_set.frames, top_k=args.top, method=args.score,
                              progress=bar)
    document = write_ranking(ranking, args.out)
    print(f"ranked {document['frames']} frames by {args.score}; top {len(document['top_k'])}:")
    for item in document["top_k"][:10]:
        stamp = item["stamp_ns"] if item["stamp_ns"] is not None else item["name"]
        print(f"  {item['rank']:3d}  {stamp}  score {item['score']:.4f}")
    if document["labelled_frames"] > 1:
        print(f"Spearman(score, frame error rate) over {document['labelled_frames']} labelled "
              f"frames: mean {_f(document['spearman_mean'])}, uaal "
              f"{_f(document['spearman_uaal'])}")
    print(f"wrote {args.out}/top_k.json, ranking.csv, frames/", file=sys.stderr)
    return 0


def _f(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3f}"
