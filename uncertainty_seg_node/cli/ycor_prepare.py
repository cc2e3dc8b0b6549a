"""`uncertainty-seg ycor-prepare`: the Yamaha-CMU Off-Road set -> the offroad/ folders.

Arrange your own copy of the Yamaha-CMU Off-Road dataset (YCOR; cite Maturana, Chou, Uenoyama,
Scherer, "Real-time Semantic Mapping for Autonomous Off-Road Navigation", FSR 2017; its own
terms apply, and no weights trained on it ship with this package) as a real off-road target:

  offroad/train/images       ycor_<iid>.jpg, 512x272 (JPEG quality 92), from train/iid*/rgb.jpg
  offroad/train/labels       CamVid's 11 class ids (11 = void), for measuring only
  offroad/train/labels_ycor  the dataset's own 9 ids (255 where a colour is no class)
  classes.yaml               CamVid's class map (labels/), classes_ycor.yaml (labels_ycor/)

--src is the folder holding yamaha_v0/{train,valid}/iidNNNNNN/{rgb.jpg,labels.png} (labels.png
in the dataset's class colours, or as ids). --with-valid adds offroad/valid from valid/: further
frames of the same drive that no step should train on.
"""

from __future__ import annotations

import argparse

from uncertainty_seg_node.cli import arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `ycor-prepare`."""
    arguments.add_prepare_paths(
        parser, src="the folder holding yamaha_v0/ (or yamaha_v0/ itself)",
        out="where offroad/ and the class maps go", extra="--with-valid",
        extra_help="also write offroad/valid from YCOR's valid split")


def run(args: argparse.Namespace) -> int:
    """Arrange the frames, print the count of each folder."""
    from uncertainty_seg_node.data.ycor_prepare import prepare_ycor

    def shown(folder: str, count: int, unknown: int) -> None:
        extra = f" ({unknown} pixels of no class colour made void)" if unknown else ""
        print(f"{folder}: {count} frames{extra}", flush=True)

    prepare_ycor(args.src, args.out, with_valid=args.with_valid, progress=shown)
    print(f"classes: {args.out / 'classes.yaml'} (labels), {args.out / 'classes_ycor.yaml'} "
          "(labels_ycor)")
    return 0
