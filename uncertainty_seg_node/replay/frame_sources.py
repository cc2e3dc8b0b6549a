"""Per-frame side information of a replayed bag: ground truth (folder or topics) and domain.

`open_frame_sources` decides where labels, anomaly masks and domains come from (and checks the
topics exist); `FrameSources.truth_for` / `.domain_at` give them for one frame. Label and mask
topics are streamed alongside the images (`StampJoiner`), domains are a short list of strings.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.replay.evaluation import UNKNOWN_DOMAIN
from uncertainty_seg_node.replay.ground_truth import (
    GroundTruth,
    LabelFolder,
    StampJoiner,
    check_train_ids,
)


class DomainTrack:
    """The domain of each frame from a std_msgs/String topic logged with (or before) it."""

    def __init__(self, entries: list[tuple[int, str]]) -> None:
        entries = sorted(entries)
        self._times = [t for t, _ in entries]
        self._values = [v for _, v in entries]

    def at(self, stamp_ns: int) -> str:
        """The latest domain logged at or before `stamp_ns` ('' if none yet)."""
        i = bisect.bisect_right(self._times, stamp_ns)
        return self._values[i - 1] if i else UNKNOWN_DOMAIN

    def __len__(self) -> int:
        return len(self._times)


@dataclass
class FrameSources:
    """Where one frame's ground truth and domain come from, and which topics to copy."""

    folder: LabelFolder | None = None
    labels: StampJoiner[np.ndarray] | None = None
    anomaly: StampJoiner[np.ndarray] | None = None
    domains: DomainTrack | None = None
    label_topic: str = ""
    anomaly_topic: str = ""
    domain_topic: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def has_ground_truth(self) -> bool:
        """True when labels come from a folder or a topic."""
        return self.folder is not None or self.labels is not None

    def domain_at(self, stamp_ns: int) -> str:
        """The frame's domain ('' without a domain topic)."""
        return self.domains.at(stamp_ns) if self.domains is not None else UNKNOWN_DOMAIN

    def truth_for(self, stamp_ns: int, index: int, shape: tuple[int, int],
                  num_classes: int) -> GroundTruth | None:
        """Labels (+ anomaly mask) of frame `index` with this stamp, or None if unlabelled."""
        anomaly = self.anomaly.get(stamp_ns) if self.anomaly is not None else None
        if anomaly is not None:
            if anomaly.shape != shape:
                raise UserError(
                    f"anomaly mask at stamp {stamp_ns} is {anomaly.shape[1]}x{anomaly.shape[0]} "
                    f"but its image is {shape[1]}x{shape[0]} (WxH)")
            anomaly = anomaly > 0
        if self.folder is not None:
            found = self.folder.lookup(index, stamp_ns)
            if found is None:
                return None
            truth = self.folder.load(found, shape, num_classes)
            if anomaly is not None:
                truth.anomaly = anomaly
            return truth
        if self.labels is not None:
            labels = self.labels.get(stamp_ns)
            if labels is None:
                return None
            where = f"label message at stamp {stamp_ns}"
            if labels.shape != shape:
                raise UserError(
                    f"{where} is {labels.shape[1]}x{labels.shape[0]} but its image is "
                    f"{shape[1]}x{shape[0]} (WxH); labels must have the image's size")
            return GroundTruth(check_train_ids(labels, num_classes, where), anomaly, where)
        return None

    def warnings(self, frames: int, first_stamp: int | None, last_stamp: int | None,
                 complete: bool) -> list[str]:
        """Ground truth that found no frame (`complete`: the whole bag was replayed)."""
        out: list[str] = []
        if self.folder is not None and complete:
            message = self.folder.mismatch_message(first_stamp, last_stamp)
            if message:
                out.append(message)
        for what, join in (("label", self.labels), ("anomaly", self.anomaly)):
            if join is None:
                continue
            unmatched = join.finish()
            if join.matched == 0 and frames:
                out.append(f"no {what} message matched an image stamp (timestamps mismatch): "
                           f"{what}s must carry the header stamp of their image")
            elif unmatched:
                out.append(f"{unmatched} {what} message(s) matched no image stamp")
        return out


def require_topic(bag: Path, topics: dict[str, str], topic: str, what: str) -> None:
    """UserError listing the bag's topics when `topic` is not among them."""
    if topic not in topics:
        have = ", ".join(f"{t} ({m.rsplit('/', 1)[-1]})" for t, m in sorted(topics.items()))
        raise UserError(f"{what} topic {topic} is not in bag {bag}; its topics: {have or 'none'}")


def open_frame_sources(
    bag: Path,
    topics: dict[str, str],
    *,
    labels: Path | None = None,
    label_match: str = "auto",
    label_topic: str | None = None,
    anomaly_topic: str | None = None,
    domain_topic: str | None = None,
    image_messages: int | None = None,
) -> FrameSources:
    """Check and open the ground-truth and domain sources of a replay.

    `anomaly_topic` None uses `/camera/anomaly` when labels come from a topic and the bag has it;
    `domain_topic` None uses `/camera/domain` when the bag has it, "" turns domains off.
    `image_messages` (the image topic's count, when known) lets index matching fail up front.
    """
    from uncertainty_seg_node.bags import bag_io
    from uncertainty_seg_node.bags.topics import ANOMALY_TOPIC, DOMAIN_TOPIC

    src = FrameSources()
    if labels is not None and label_topic:
        raise UserError("give either --labels DIR or --label-topic T, not both")
    if labels is not None:
        src.folder = LabelFolder(labels, label_match)
        src.folder.check_count(image_messages)
        src.facts.update(labels=str(labels), label_match=src.folder.match)
    elif label_topic:
        require_topic(bag, topics, label_topic, "label")
        src.label_topic = label_topic
        src.labels = StampJoiner((m.stamp_ns, m.image) for m in bag_io.read_mono(bag, label_topic))
        src.facts["label_topic"] = label_topic
    if anomaly_topic is None and src.labels is not None and ANOMALY_TOPIC in topics:
        anomaly_topic = ANOMALY_TOPIC
    if anomaly_topic:
        require_topic(bag, topics, anomaly_topic, "anomaly")
        src.anomaly_topic = anomaly_topic
        src.anomaly = StampJoiner(
            (m.stamp_ns, m.image) for m in bag_io.read_mono(bag, anomaly_topic))
        src.facts["anomaly_topic"] = anomaly_topic
    if domain_topic is None:
        domain_topic = DOMAIN_TOPIC if DOMAIN_TOPIC in topics else ""
    if domain_topic:
        require_topic(bag, topics, domain_topic, "domain")
        src.domain_topic = domain_topic
        src.domains = DomainTrack(list(bag_io.read_strings(bag, domain_topic)))
        src.facts["domain_topic"] = domain_topic
    return src
