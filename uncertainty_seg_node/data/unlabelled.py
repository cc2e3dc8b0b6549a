"""Unlabelled target-domain images: a folder, a video file, or an image topic of a ROS 2 bag.

This is the data the uncertainty training (L_c) learns from: a drive recorded on a new route.
- Folders are listed on open and read lazily (an `images/` sub-folder, the `leftImg8bit/` tree of
  a Cityscapes-format folder, sub-folders with `images/`, or image files anywhere below, skipping
  `labels/`, `gtFine/` and `anomaly/` folders).
- Videos and bags are decoded once on open into a `FrameStore` (PNG in RAM up to `memory_mb`,
  the rest in a self-deleting temp file), so `dataset[i]` is random access at PNG-decode cost
  and memory stays bounded for thousands of frames. `start`, `stride` and `max_frames` apply
  while decoding, so a long drive can be subsampled without storing every frame.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from uncertainty_seg_node.data.cityscapes import cityscapes_root
from uncertainty_seg_node.data.framestore import FrameStore
from uncertainty_seg_node.data.imageio import IMAGE_EXTENSIONS, is_image_file, read_rgb
from uncertainty_seg_node.data.sample import content_digest
from uncertainty_seg_node.errors import UserError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".mjpeg")
BAG_EXTENSIONS = (".mcap", ".db3")
IMAGE_MSGTYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
_SKIP_FOLDERS = {"labels", "gtFine", "anomaly", "gtCoarse"}
# Image topics that are outputs or ground truth, not camera frames (skipped when choosing).
_NOT_CAMERA = ("label", "semantic", "anomaly", "mask", "confidence", "uncertain", "certain",
               "class", "seg", "overlay", "depth")


class UnlabelledDataset:
    """Frames without labels; `dataset[i]` is a uint8 (H, W, 3) RGB image."""

    def __init__(
        self,
        source: Path,
        kind: str,
        names: list[str],
        paths: list[Path] | None = None,
        store: FrameStore | None = None,
        stamps_ns: list[int] | None = None,
        topic: str | None = None,
    ) -> None:
        if not names:
            raise UserError(f"no frames found in {source}")
        self.source = source
        self.kind = kind  # "folder", "video" or "bag"
        self.names = names
        self.paths = paths
        self.store = store
        self.stamps_ns = stamps_ns
        self.topic = topic

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> np.ndarray:
        if self.paths is not None:
            return read_rgb(self.paths[index])
        assert self.store is not None
        return self.store[index]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    def image_digests(self) -> list[str]:
        """Each frame's digest: of its file's bytes, or of the frame as its store holds it."""
        if self.paths is not None:
            return [content_digest(path.read_bytes()) for path in self.paths]
        assert self.store is not None
        return [self.store.digest(i) for i in range(len(self))]

    def close(self) -> None:
        """Release the decoded frames of a video or bag (their temp file is deleted)."""
        if self.store is not None:
            self.store.close()

    def __repr__(self) -> str:
        topic = f", topic {self.topic}" if self.topic else ""
        return f"UnlabelledDataset({self.source}, {len(self)} frames, {self.kind}{topic})"


def open_unlabelled(
    source: str | Path,
    topic: str | None = None,
    stride: int = 1,
    max_frames: int | None = None,
    *,
    start: int = 0,
    split: str | None = None,
    memory_mb: float = 512.0,
    topic_option: str = "--unlabelled-topic",
) -> UnlabelledDataset:
    """Open a folder of images, a video file, or a ROS 2 bag (folder or .mcap/.db3) of images.

    topic: the bag's image topic (None: the single camera-like Image/CompressedImage topic).
    start: skip this many frames first (in drive order: a folder's sorted names, a bag's
    messages); stride: then keep every stride-th frame; max_frames: stop after this many kept.
    split: for a Cityscapes-format folder, read only `leftImg8bit/<split>`.
    memory_mb: RAM for decoded video/bag frames before they spill to a temp file.
    topic_option: the option that names the topic, for the error when a bag has several.
    """
    path = Path(source).expanduser()
    if start < 0:
        raise UserError(f"start must be >= 0, got {start}")
    if stride < 1:
        raise UserError(f"stride must be >= 1, got {stride}")
    if max_frames is not None and max_frames < 1:
        raise UserError(f"max_frames must be >= 1, got {max_frames}")
    if not path.exists():
        raise UserError(
            f"unlabelled source {path} does not exist; pass a folder of images, a video file "
            "or a ROS 2 bag"
        )
    if _is_bag(path):
        return _open_bag(path, topic, _Pick(start, stride, max_frames), memory_mb, topic_option)
    if path.is_dir():
        return _open_folder(path, _Pick(start, stride, max_frames), split)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return UnlabelledDataset(path, "folder", [path.stem], paths=[path])
    return _open_video(path, _Pick(start, stride, max_frames), memory_mb)


@dataclass(frozen=True)
class _Pick:
    """Which frames of a source to keep: from `start`, every `stride`-th, up to `max_frames`."""

    start: int
    stride: int
    max_frames: int | None

    def keeps(self, index: int) -> bool:
        return index >= self.start and (index - self.start) % self.stride == 0

    def full(self, kept: int) -> bool:
        return self.max_frames is not None and kept >= self.max_frames


def _is_bag(path: Path) -> bool:
    if path.is_dir():  # a bag folder; one without metadata.yaml (crashed recorder) too
        return (path / "metadata.yaml").is_file() or any(
            p.suffix in BAG_EXTENSIONS for p in path.iterdir() if p.is_file()
        )
    return path.suffix.lower() in BAG_EXTENSIONS


def _open_folder(root: Path, pick: _Pick, split: str | None) -> UnlabelledDataset:
    cs_root = cityscapes_root(root)
    if cs_root is not None:
        folders = [cs_root / "leftImg8bit" / split] if split else [cs_root / "leftImg8bit"]
        if split and not folders[0].is_dir():
            raise UserError(f"split {split!r} not found in {cs_root / 'leftImg8bit'}")
    elif (root / "images").is_dir():
        folders = [root / "images"]
    else:
        subsets = sorted(p / "images" for p in root.iterdir() if (p / "images").is_dir())
        folders = subsets or [root]
    paths: list[Path] = []
    for folder in folders:
        paths.extend(_images_below(folder))
    if not paths:
        raise UserError(
            f"no images found in {', '.join(str(f) for f in folders)} (searched "
            f"{', '.join('*' + e for e in IMAGE_EXTENSIONS)} recursively); pass a folder of "
            "images, a video or a bag"
        )
    paths = paths[pick.start::pick.stride][:pick.max_frames]
    if not paths:
        raise UserError(f"no frames left in {root} after skipping the first {pick.start}")
    base = folders[0] if len(folders) == 1 else root
    names = [p.relative_to(base).with_suffix("").as_posix() for p in paths]
    return UnlabelledDataset(root, "folder", names, paths=paths)


def _images_below(folder: Path) -> list[Path]:
    found: list[Path] = []
    for path in sorted(folder.rglob("*")):
        rel_dirs = path.relative_to(folder).parts[:-1]
        if any(part in _SKIP_FOLDERS for part in rel_dirs):
            continue
        if is_image_file(path):
            found.append(path)
    return found


def _open_video(path: Path, pick: _Pick, memory_mb: float) -> UnlabelledDataset:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise UserError(
            f"cannot open {path} as a video (supported: {', '.join(VIDEO_EXTENSIONS)} via "
            "OpenCV); pass a folder of images, a video or a ROS 2 bag"
        )
    store = FrameStore(memory_mb)
    names: list[str] = []
    index = 0
    try:
        while not pick.full(len(names)):
            if not pick.keeps(index):
                if not capture.grab():  # skip without decoding
                    break
            else:
                ok, bgr = capture.read()
                if not ok:
                    break
                store.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                names.append(f"{path.stem}_{index:06d}")
            index += 1
    finally:
        capture.release()
    if not names:
        raise UserError(f"video {path} has no readable frames (corrupt or unsupported codec)")
    return UnlabelledDataset(path, "video", names, store=store)


def choose_image_topic(topics: dict[str, str], bag: Path,
                       option: str = "--unlabelled-topic") -> str:
    """The single camera-like image topic of a bag, or a UserError listing the candidates.

    `option` is the command-line option that picks a topic, named in the error.
    """
    images = {t: m for t, m in topics.items() if m in IMAGE_MSGTYPES}
    if not images:
        listed = ", ".join(f"{t} ({m})" for t, m in sorted(topics.items())) or "none"
        raise UserError(f"bag {bag} has no Image/CompressedImage topic (topics: {listed})")
    if len(images) == 1:
        return next(iter(images))
    camera = [t for t in images if not any(word in t.lower() for word in _NOT_CAMERA)]
    if len(camera) == 1:
        return camera[0]
    raise UserError(
        f"bag {bag} has several image topics ({', '.join(sorted(images))}); "
        f"choose one with {option}"
    )


def _open_bag(
    path: Path, topic: str | None, pick: _Pick, memory_mb: float, topic_option: str
) -> UnlabelledDataset:
    from uncertainty_seg_node.bags import bag_io  # lazy: rosbags is only needed for bags

    bag = path
    if path.is_file() and (path.parent / "metadata.yaml").is_file():
        bag = path.parent
    topics = bag_io.list_topics(bag)
    if topic is None:
        topic = choose_image_topic(topics, bag, topic_option)
    elif topics.get(topic) not in IMAGE_MSGTYPES:
        listed = ", ".join(sorted(t for t, m in topics.items() if m in IMAGE_MSGTYPES))
        raise UserError(
            f"topic {topic} is not an image topic of bag {bag}; image topics: {listed or 'none'}"
        )
    store = FrameStore(memory_mb)
    names: list[str] = []
    stamps: list[int] = []
    try:
        for index, message in enumerate(bag_io.read_images(bag, topic)):
            if pick.full(len(names)):
                break
            if not pick.keeps(index):
                continue
            store.append(message.image)
            stamps.append(message.stamp_ns)
            names.append(f"{message.stamp_ns}")
    except bag_io.BagReadError as exc:
        if not names:
            raise
        # A crashed recording: the frames before the damage are good training data.
        warnings.warn(f"{exc}; using the {len(names)} frames read before it", stacklevel=2)
    if not names:
        raise UserError(f"topic {topic} of bag {bag} has no messages"
                        + (f" after the first {pick.start}" if pick.start else ""))
    return UnlabelledDataset(path, "bag", names, store=store, stamps_ns=stamps, topic=topic)
