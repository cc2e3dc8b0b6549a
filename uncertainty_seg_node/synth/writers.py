"""Write synthetic frames as a Cityscapes-format folder or as a ROS 2 bag.

Folder layout (`--split` defaults to train; the domain takes the place of the city)::

    DIR/leftImg8bit/<split>/<domain>/<name>_leftImg8bit.png
    DIR/gtFine/<split>/<domain>/<name>_gtFine_labelTrainIds.png   uint8 train ids, 255 ignore
    DIR/gtFine/<split>/<domain>/<name>_anomaly.png                uint8 0 / 255
    DIR/SYNTHETIC                                                 says so; training records it

with <name> = <domain>_<seq>_<frame>.

Bags carry the topics of `uncertainty_seg_node.bags.topics`: the image (raw rgb8 or jpeg), the
labels and the anomaly mask (mono8) and the domain (std_msgs/String), all stamped alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from uncertainty_seg_node.bags.topics import (
    ANOMALY_TOPIC,
    COMPRESSED_TOPIC,
    DEFAULT_START_NS,
    DOMAIN_TOPIC,
    FRAME_ID,
    IMAGE_TOPIC,
    LABEL_TOPIC,
)
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.synth.drive import SynthFrame

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelTrainIds.png"
ANOMALY_SUFFIX = "_anomaly.png"
# A folder holding this file is the synthetic world's: a model trained on it says so at start.
SYNTHETIC_MARKER = "SYNTHETIC"
_MARKER_TEXT = ("Frames rendered by `uncertainty-seg synth` (the package's synthetic world, "
                "not a camera).\nTraining records `synthetic` in the model's provenance from "
                "this file.\n")


def frame_name(frame: SynthFrame, sequence: int | None) -> str:
    """`<domain>_<seq>_<frame>`: a drive is one sequence; independent scenes are one each."""
    if sequence is None:
        return f"{frame.domain}_{frame.index:06d}_000000"
    return f"{frame.domain}_{sequence:06d}_{frame.index:06d}"


def _imwrite(path: Path, image: np.ndarray) -> None:
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise UserError(f"could not write {path}; check the folder is writable and has space")


def write_folder(frames: Iterable[SynthFrame], out: Path, split: str = "train",
                 sequence: int | None = None) -> int:
    """Write frames into a Cityscapes-format folder; returns how many were written."""
    if not split or "/" in split:
        raise UserError(f"--split {split!r} must be a plain folder name such as train or val")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    count = 0
    made: set[Path] = set()
    for frame in frames:
        name = frame_name(frame, sequence)
        img_dir = out / "leftImg8bit" / split / frame.domain
        gt_dir = out / "gtFine" / split / frame.domain
        if img_dir not in made:
            try:
                img_dir.mkdir(parents=True, exist_ok=True)
                gt_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot create {img_dir}: {exc}") from None
            made.add(img_dir)
        _imwrite(img_dir / f"{name}{IMAGE_SUFFIX}", cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
        _imwrite(gt_dir / f"{name}{LABEL_SUFFIX}", frame.labels)
        _imwrite(gt_dir / f"{name}{ANOMALY_SUFFIX}", frame.anomaly)
        count += 1
    if count:
        (out / SYNTHETIC_MARKER).write_text(_MARKER_TEXT)
    return count


def is_synthetic_folder(path: str | Path) -> bool:
    """Whether `path` or one of its two parents was written by `write_folder` (its marker).

    Two parents, because training is often given a subfolder (`DIR/leftImg8bit`).
    """
    path = Path(path)
    return any((folder / SYNTHETIC_MARKER).is_file() for folder in (path, *path.parents[:2]))


def write_bag(frames: Iterable[SynthFrame], bag: Path, storage: str = "mcap",
              compressed: bool = False, rate: float = 10.0,
              start_ns: int = DEFAULT_START_NS) -> int:
    """Write frames as a bag, frame i stamped start_ns + i / rate; returns the frame count.

    The bag is closed properly even when writing is interrupted (Ctrl-C keeps a valid bag).
    """
    from uncertainty_seg_node.bags.writer import BagWriter

    if rate <= 0:
        raise UserError(f"--rate must be positive; got {rate}")
    count = 0
    with BagWriter(bag, storage) as writer:
        for i, frame in enumerate(frames):
            stamp = start_ns + round(i * 1e9 / rate)
            if compressed:
                writer.write_compressed(COMPRESSED_TOPIC, stamp, FRAME_ID, frame.image, "jpeg")
            else:
                writer.write_image(IMAGE_TOPIC, stamp, FRAME_ID, frame.image, "rgb8")
            writer.write_labels(LABEL_TOPIC, stamp, FRAME_ID, frame.labels)
            writer.write_labels(ANOMALY_TOPIC, stamp, FRAME_ID, frame.anomaly)
            writer.write_string(DOMAIN_TOPIC, stamp, frame.domain)
            count += 1
    return count
