"""A sorted folder of frames (and their labels) written as a ROS 2 bag: a drive to replay.

Frames are the image files directly in the folder or in its `images/` subfolder, in name
order, stamped `start_ns + i / rate`. Labels are matched by file stem. A class-map YAML (the
format of CamVid's `classes.yaml`) checks the label ids and maps its ignore ids to 255;
`to_cityscapes` maps the ids to Cityscapes train ids instead. JPEG frames go into a compressed
bag as they are, without re-encoding.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from uncertainty_seg_node.bags.topics import (
    COMPRESSED_TOPIC,
    DEFAULT_START_NS,
    FRAME_ID,
    IMAGE_TOPIC,
    LABEL_TOPIC,
)
from uncertainty_seg_node.bags.writer import BagWriter
from uncertainty_seg_node.data.classmap import ClassMap
from uncertainty_seg_node.data.imageio import IMAGE_EXTENSIONS, is_image_file
from uncertainty_seg_node.errors import UserError

_LABEL_STEMS = (("_leftImg8bit", "_gtFine_labelTrainIds"), ("_leftImg8bit", "_gtFine_labelIds"))


@dataclass(frozen=True)
class FolderBag:
    """What `folder_to_bag` wrote."""

    frames: int
    labelled: int
    image_topic: str
    size: tuple[int, int]  # (H, W) of the first frame


def list_frames(folder: Path) -> list[Path]:
    """Image files of `folder` (or of `folder/images`), sorted by name."""
    if not folder.is_dir():
        raise UserError(f"image folder {folder} does not exist or is not a folder")
    if (folder / "images").is_dir():
        folder = folder / "images"
    files = sorted(p for p in folder.iterdir()
                   if is_image_file(p))
    if not files:
        raise UserError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {folder}")
    return files


def _label_index(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise UserError(f"label folder {folder} does not exist or is not a folder")
    if (folder / "labels").is_dir():
        folder = folder / "labels"
    return {p.stem: p for p in sorted(folder.iterdir())
            if p.is_file() and p.suffix.lower() in (".png", ".bmp", ".tif", ".tiff")}


def _match(stem: str, labels: dict[str, Path]) -> Path | None:
    if stem in labels:
        return labels[stem]
    for image_part, label_part in _LABEL_STEMS:
        if stem.endswith(image_part):
            found = labels.get(stem[: -len(image_part)] + label_part)
            if found is not None:
                return found
    return None


def _read(path: Path, flags: int) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    if image is None:
        raise UserError(f"cannot read image {path}; is it a valid image file?")
    return image


def _label_reader(classes: Path | None, to_cityscapes: bool
                  ) -> Callable[[np.ndarray, Path], np.ndarray]:
    if classes is None:
        if to_cityscapes:
            raise UserError("--to-cityscapes needs --classes YAML (it holds the mapping)")

        def plain(raw: np.ndarray, path: Path) -> np.ndarray:
            if raw.ndim != 2 or raw.dtype != np.uint8:
                raise UserError(f"label {path} is not a single-channel 8-bit image; give "
                                "--classes YAML to decode colour or 16-bit labels")
            return raw

        return plain
    classmap = ClassMap.from_yaml(classes)
    if to_cityscapes:
        classmap = classmap.to_cityscapes()

    def mapped(raw: np.ndarray, path: Path) -> np.ndarray:
        if raw.ndim == 3:
            raw = cv2.cvtColor(raw[:, :, :3], cv2.COLOR_BGR2RGB)
        return classmap.map_labels(raw, where=str(path))

    return mapped


def _write_frame(writer: BagWriter, topic: str, stamp: int, path: Path, compressed: bool
                 ) -> tuple[int, int]:
    """One frame: JPEG files pass through into compressed bags, the rest is (re-)encoded."""
    bgr = _read(path, cv2.IMREAD_COLOR)
    if compressed and path.suffix.lower() in (".jpg", ".jpeg"):
        writer.write_encoded(topic, stamp, FRAME_ID, path.read_bytes(), "jpeg")
    elif compressed:
        writer.write_compressed(topic, stamp, FRAME_ID, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    else:
        writer.write_image(topic, stamp, FRAME_ID, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), "rgb8")
    return int(bgr.shape[0]), int(bgr.shape[1])


def folder_to_bag(images: Path, out: Path, rate: float, *, labels: Path | None = None,
                  classes: Path | None = None, to_cityscapes: bool = False,
                  compressed: bool = False, storage: str = "mcap",
                  start_ns: int = DEFAULT_START_NS,
                  progress: Callable[[list[Path]], Iterable[Path]] | None = None) -> FolderBag:
    """Write the frames of `images` (and their labels) as a bag at `out`.

    Every frame must have a label when `labels` is given (a missing one is an error naming it).
    A bad frame or label stops with a UserError and removes the partial bag; an interruption
    (Ctrl-C) keeps the frames written so far as a valid bag.
    """
    if rate <= 0:
        raise UserError(f"--rate must be positive; got {rate}")
    frames = list_frames(images)
    label_files = _label_index(labels) if labels is not None else None
    if label_files is not None:
        missing = [p.name for p in frames if _match(p.stem, label_files) is None]
        if missing:
            raise UserError(f"{len(missing)} frame(s) have no label in {labels} (matched by "
                            f"file stem), e.g. {missing[0]}")
    read_labels = _label_reader(classes, to_cityscapes) if labels is not None else None
    topic = COMPRESSED_TOPIC if compressed else IMAGE_TOPIC
    size: tuple[int, int] = (0, 0)
    iterable: Iterable[Path] = progress(frames) if progress is not None else frames
    count = labelled = 0
    existed = out.exists()
    try:
        with BagWriter(out, storage) as writer:
            for i, path in enumerate(iterable):
                stamp = start_ns + round(i * 1e9 / rate)
                shape = _write_frame(writer, topic, stamp, path, compressed)
                size = size if i else shape
                if label_files is not None and read_labels is not None:
                    label_path = _match(path.stem, label_files)
                    assert label_path is not None  # checked above
                    ids = read_labels(_read(label_path, cv2.IMREAD_UNCHANGED), label_path)
                    if ids.shape[:2] != shape:
                        raise UserError(f"label {label_path} is {ids.shape[1]}x{ids.shape[0]} "
                                        f"but frame {path} is {shape[1]}x{shape[0]}")
                    writer.write_labels(LABEL_TOPIC, stamp, FRAME_ID, np.ascontiguousarray(ids))
                    labelled += 1
                count += 1
    except UserError:
        if out.is_dir() and not existed:
            shutil.rmtree(out)  # bad input: leave no half-written bag behind
        raise
    return FolderBag(count, labelled, topic, size)
