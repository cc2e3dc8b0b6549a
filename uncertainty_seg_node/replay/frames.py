"""One stream of frames (image, optional labels / anomaly mask, domain) from a folder or a bag.

`compare` and `rank-frames` read their data through `open_frames`: a labelled dataset folder
(`data.open_labelled`: Cityscapes format or images/ + labels/) or a ROS 2 bag (image topic with
an optional label topic, anomaly topic and domain topic, as `replay` reads them).

Domains of a folder: in the Cityscapes layout the city folder (`leftImg8bit/<split>/<city>/`),
in the generic layout the sub-folder holding `images/` when there are several; none otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.replay.evaluation import UNKNOWN_DOMAIN


@dataclass
class SourceFrame:
    """One frame to evaluate or rank."""

    index: int
    name: str  # file stem, or the stamp for bag frames
    stamp_ns: int | None
    image: np.ndarray  # uint8 (H, W, 3) RGB
    labels: np.ndarray | None  # uint8 (H, W) train ids, 255 ignore
    anomaly: np.ndarray | None  # bool (H, W)
    domain: str


@dataclass
class FrameSet:
    """An opened frame source: its description, frame count (if known) and the frames."""

    description: str
    count: int | None
    frames: Iterator[SourceFrame]
    class_names: tuple[str, ...] | None = None


def is_bag(path: Path) -> bool:
    """A bag folder (metadata.yaml or storage files) or a lone .mcap / .db3 file."""
    if path.is_file():
        return path.suffix in (".mcap", ".db3")
    return path.is_dir() and (
        (path / "metadata.yaml").is_file() or any(path.glob("*.mcap")) or any(path.glob("*.db3"))
    )


def open_frames(
    data: str | Path,
    *,
    image_topic: str = "/camera/image_raw",
    label_topic: str | None = "/camera/labels",
    domain_topic: str | None = None,
    classes_yaml: str | Path | None = None,
    split: str | None = None,
    require_labels: bool = True,
    max_frames: int | None = None,
    num_classes: int = 255,
) -> FrameSet:
    """Frames of a dataset folder or bag (see the module docstring).

    `require_labels`: a bag must have the label topic and only its labelled frames are yielded.
    `num_classes`: label ids of a bag's label topic must be below it (or 255).
    """
    path = Path(data)
    if not path.exists():
        raise UserError(f"data {path} does not exist; pass a labelled folder or a ROS 2 bag")
    if is_bag(path):
        return _bag_frames(path, image_topic, label_topic, domain_topic, require_labels,
                           max_frames, num_classes)
    from uncertainty_seg_node.data import open_labelled

    dataset = open_labelled(path, classes_yaml=classes_yaml, split=split)
    domains = folder_domains(dataset)
    count = len(dataset) if max_frames is None else min(len(dataset), max_frames)

    def frames() -> Iterator[SourceFrame]:
        for index in range(count):
            sample = dataset[index]
            yield SourceFrame(index, sample.name, None, sample.image, sample.labels,
                              sample.anomaly, domains[index])

    return FrameSet(f"folder {path} ({dataset.layout})", count, frames(),
                    tuple(dataset.class_names))


def folder_domains(dataset: object) -> list[str]:
    """The domain of every item of a LabelledDataset (module docstring)."""
    items = list(getattr(dataset, "items", []))
    root = Path(getattr(dataset, "root", "."))
    layout = getattr(dataset, "layout", "")
    names: list[str] = []
    for item in items:
        path = Path(item.image_path)
        if layout == "cityscapes":
            names.append(path.parent.name)
            continue
        try:
            parts = path.relative_to(root).parts
        except ValueError:
            parts = ()
        names.append(parts[0] if len(parts) > 2 and parts[1] == "images" else UNKNOWN_DOMAIN)
    if len(set(names)) < 2:
        return [UNKNOWN_DOMAIN] * len(items)
    return names


def _bag_frames(bag: Path, image_topic: str, label_topic: str | None,
                domain_topic: str | None, require_labels: bool,
                max_frames: int | None, num_classes: int) -> FrameSet:
    from uncertainty_seg_node.bags import bag_io
    from uncertainty_seg_node.replay.frame_sources import open_frame_sources, require_topic
    from uncertainty_seg_node.replay.replay import message_count

    topics = bag_io.list_topics(bag)
    require_topic(bag, topics, image_topic, "image")
    if label_topic and label_topic not in topics:
        if require_labels:
            require_topic(bag, topics, label_topic, "label")
        label_topic = None
    src = open_frame_sources(bag, topics, label_topic=label_topic, domain_topic=domain_topic)
    count = message_count(bag, image_topic)
    if max_frames is not None:
        count = max_frames if count is None else min(count, max_frames)

    def frames() -> Iterator[SourceFrame]:
        for index, item in enumerate(bag_io.read_images(bag, image_topic)):
            if max_frames is not None and index >= max_frames:
                return
            truth = src.truth_for(item.stamp_ns, index, item.image.shape[:2], num_classes)
            if truth is None and require_labels:
                continue  # sparse labels: only labelled frames are evaluated
            yield SourceFrame(index, str(item.stamp_ns), item.stamp_ns, item.image,
                              None if truth is None else truth.labels,
                              None if truth is None else truth.anomaly,
                              src.domain_at(item.stamp_ns))

    return FrameSet(f"bag {bag} ({image_topic})", count, frames())
