"""The Yamaha-CMU Off-Road set (YCOR) -> the project's real off-road layout.

The original dataset (Maturana, Chou, Uenoyama, Scherer, "Real-time Semantic Mapping for
Autonomous Off-Road Navigation", FSR 2017; the user fetches it, its own terms apply) holds
`yamaha_v0/{train,valid}/iidNNNNNN/{rgb.jpg,labels.png}`: 1024x544 frames of one drive in drive
order, `labels.png` an RGB colour image (one colour per class, YCOR_COLOURS, as the set's public
loaders list them). The layout made here is that of `../shared/data/ycor` (names, sizes, ids):

    offroad/train/images/ycor_<iid>.jpg    512x272, JPEG quality 92 (area-downscaled)
    offroad/train/labels/ycor_<iid>.png    CamVid's 11 class ids, 11 = void (CAMVID_OF_YCOR)
    offroad/train/labels_ycor/ycor_<iid>.png   the dataset's own 9 ids (YCOR_NAMES)
    classes.yaml, classes_ycor.yaml        the class maps of labels/ and labels_ycor/

Labels are downscaled nearest. `offroad/train` is YCOR's `train` split: the shared folder holds
931 frames with ids 0-834 and 1053-1347, and public descriptions of the set give its train split
931 frames and its `valid` split 145 starting at iid000839, inside that gap (checked against
those descriptions and the shared names, not against an original copy, which is not here). The
`valid` split, further frames of the same drive, goes to `offroad/valid` with `with_valid`.
The shared folder has no classes files: with them here, `open_labelled` and `make-bag --labels`
find the class map without `--classes`.

A `labels.png` may also hold the 9 ids directly (single channel, or three equal channels), as a
re-encoded copy might: both are read. A colour that is no class colour
(none in the dataset as documented) becomes void, and the count of such pixels is reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from uncertainty_seg_node.data.camvid_prepare import CLASSES_YAML
from uncertainty_seg_node.data.imageio import check_same_size, read_label, read_rgb
from uncertainty_seg_node.data.staging import staged_layout
from uncertainty_seg_node.errors import UserError

JPEG_QUALITY = 92
SIZE = (272, 512)  # (H, W): the original 544x1024 halved
VOID = 255  # in labels_ycor: a pixel of no class colour
CAMVID_VOID = 11
# The dataset's ids in the shared README's order, and the colours its labels.png draw them in.
YCOR_NAMES = ("background", "smooth_trail", "traversable_grass", "rough_trail", "puddle",
              "obstacle", "low_vegetation", "high_vegetation", "sky")
YCOR_COLOURS = ((255, 255, 255), (178, 176, 153), (128, 255, 0), (156, 76, 30), (255, 0, 128),
                (255, 0, 0), (0, 160, 0), (40, 80, 0), (1, 88, 255))
# YCOR id -> CamVid id: trails are road, grass and vegetation are tree (CamVid files grass verges
# under vegetation), sky is sky; background (the vehicle's hood), puddle and obstacle are void.
CAMVID_OF_YCOR = (11, 3, 5, 3, 11, 11, 5, 5, 0)
SPLITS = {"train": "offroad/train", "valid": "offroad/valid"}
_IID = re.compile(r"iid(\d+)")


def ycor_classes_yaml() -> str:
    """The class map of `labels_ycor/` (the format of `config/classes_example.yaml`)."""
    lines = ["# Yamaha-CMU Off-Road (YCOR) ids; labels_ycor/ PNGs hold these, 255 = no class.",
             "ignore_index: 255", "classes:"]
    for i, (name, (r, g, b)) in enumerate(zip(YCOR_NAMES, YCOR_COLOURS)):
        lines.append(f"  - {{id: {i}, name: {name}, color: [{r}, {g}, {b}]}}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Frame:
    """One YCOR frame folder and the name it gets (`ycor_<iid>`)."""

    folder: Path
    name: str


def ycor_root(source: Path) -> Path:
    """`source` itself when it holds train/iid*/, else its `yamaha_v0/` folder."""
    for candidate in (source, source / "yamaha_v0"):
        if (candidate / "train").is_dir() and any((candidate / "train").glob("iid*")):
            return candidate
    raise UserError(f"{source} is not the YCOR layout: no yamaha_v0/train/iidNNNNNN/ below it; "
                    "pass the folder holding yamaha_v0/ (or yamaha_v0/ itself)")


def frames_of(root: Path, split: str) -> list[Frame]:
    """The frame folders of one split in drive order (by iid), each checked for its files."""
    folder = root / split
    if not folder.is_dir():
        raise UserError(f"{folder} does not exist; the YCOR copy has no {split}/ split")
    frames = []
    for path in sorted(p for p in folder.iterdir() if p.is_dir()):
        match = _IID.fullmatch(path.name)
        if match is None:
            raise UserError(f"{path} is not named iidNNNNNN; YCOR's frame folders are")
        for needed in ("rgb.jpg", "labels.png"):
            if not (path / needed).is_file():
                raise UserError(f"{path / needed} is missing; the YCOR copy is incomplete")
        frames.append(Frame(path, f"ycor_{int(match.group(1)):06d}"))
    return sorted(frames, key=lambda f: f.name)


def ycor_ids(label: np.ndarray) -> tuple[np.ndarray, int]:
    """A labels.png as read (ids, or RGB colours) -> (YCOR ids uint8, pixels of no class).

    Three equal channels with values 0-8 are ids stored as RGB; other 3-channel images are
    decoded through YCOR_COLOURS. Ids above 8 in an id image are an error.
    """
    if label.ndim == 3:
        rgb = label[:, :, :3]
        grey = bool((rgb == rgb[:, :, :1]).all())
        if not grey or int(rgb.max()) >= len(YCOR_NAMES):
            return _ids_from_colours(rgb)
        label = rgb[:, :, 0]
    top = int(label.max())
    if top >= len(YCOR_NAMES):
        raise ValueError(f"holds id {top}; YCOR ids are 0-{len(YCOR_NAMES) - 1}")
    return label.astype(np.uint8), 0


def _ids_from_colours(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    codes = (rgb[:, :, 0].astype(np.int32) << 16) | (rgb[:, :, 1].astype(np.int32) << 8)
    codes |= rgb[:, :, 2].astype(np.int32)
    ids = np.full(codes.shape, VOID, dtype=np.uint8)
    for i, (r, g, b) in enumerate(YCOR_COLOURS):
        ids[codes == (r << 16) | (g << 8) | b] = i
    return ids, int((ids == VOID).sum())


def camvid_ids(ycor: np.ndarray) -> np.ndarray:
    """YCOR ids (255 = no class) -> CamVid ids by CAMVID_OF_YCOR (11 = void)."""
    lut = np.full(256, CAMVID_VOID, dtype=np.uint8)
    lut[:len(CAMVID_OF_YCOR)] = CAMVID_OF_YCOR
    return lut[ycor]


def prepare_ycor(
    source: Path, out: Path, *, with_valid: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    """Write the layout of the module docstring under `out`; the frame count of each folder.

    `progress(folder, frames, unknown)` is called per folder written (`unknown`: pixels of no
    class colour, made void).
    """
    root = ycor_root(source)
    plans = {SPLITS[s]: frames_of(root, s) for s in (("train", "valid") if with_valid
                                                      else ("train",))}
    if not plans["offroad/train"]:
        raise UserError(f"{root / 'train'} holds no iidNNNNNN frame folders")
    counts: dict[str, int] = {}
    with staged_layout(out, list(plans), ".ycor-prepare-") as staging:
        for folder, frames in plans.items():
            unknown = sum(_write_frame(frame, staging / folder) for frame in frames)
            counts[folder] = len(frames)
            if progress is not None:
                progress(folder, len(frames), unknown)
        (staging / "classes.yaml").write_text(CLASSES_YAML)
        (staging / "classes_ycor.yaml").write_text(ycor_classes_yaml())
    return counts


def _write_frame(frame: Frame, folder: Path) -> int:
    """Write one frame's image and both label maps; its pixels of no class colour."""
    image_path, label_path = frame.folder / "rgb.jpg", frame.folder / "labels.png"
    image = read_rgb(image_path)
    label = read_label(label_path)
    check_same_size(image, label, image_path, label_path)
    try:
        ids, unknown = ycor_ids(label)
    except ValueError as exc:
        raise UserError(f"{label_path} {exc}") from None
    height, width = image.shape[:2]
    if abs(width / height - SIZE[1] / SIZE[0]) > 0.01:
        raise UserError(f"{image_path} is {width}x{height}; YCOR frames are 1024x544 (the "
                        f"layout is {SIZE[1]}x{SIZE[0]})")
    small = cv2.resize(image, SIZE[::-1], interpolation=cv2.INTER_AREA)
    ids = cv2.resize(ids, SIZE[::-1], interpolation=cv2.INTER_NEAREST)
    writes = {
        folder / "images" / f"{frame.name}.jpg": (cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
                                                  [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]),
        folder / "labels" / f"{frame.name}.png": (camvid_ids(ids), []),
        folder / "labels_ycor" / f"{frame.name}.png": (ids, []),
    }
    for target, (pixels, params) in writes.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(target), pixels, params):
            raise UserError(f"cannot write {target}")
    return unknown
