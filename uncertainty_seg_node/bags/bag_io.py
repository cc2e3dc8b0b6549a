"""Reading camera topics from ROS 2 bags (sqlite3 or MCAP) with rosbags; no ROS install needed.

A bag is a folder with metadata.yaml, or a lone `.mcap` / `.db3` file. A folder whose recorder
died before writing metadata.yaml is read from its storage file directly, and an MCAP file whose
end is missing is scanned front to back, so a crashed recording still gives its frames; the
reader then raises `BagReadError` after the last good message, carrying how many were read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.bags import messages
from uncertainty_seg_node.bags.writer import STORAGES, BagWriter
from uncertainty_seg_node.errors import UserError

__all__ = [
    "STORAGES", "BagImage", "BagReadError", "BagWriter", "list_topics", "read_arrays",
    "read_images", "read_mono", "read_pairs", "read_strings",
]


@dataclass(frozen=True)
class BagImage:
    """One image of a bag topic: header stamp (ns), frame id, the array and its encoding."""

    stamp_ns: int
    frame_id: str
    image: np.ndarray
    encoding: str


class BagReadError(UserError):
    """A bag is truncated or corrupt. The messages yielded before this error are good."""

    def __init__(self, message: str, *, path: Path, topic: str | None, count: int,
                 last_stamp_ns: int | None) -> None:
        super().__init__(message)
        self.path = path
        self.topic = topic
        self.count = count
        self.last_stamp_ns = last_stamp_ns


class _BrokenError(Exception):
    """Internal: storage failed at this point; `args[0]` says why."""


def _storage_paths(bag: Path) -> list[Path]:
    """What to open: the bag folder itself, or its storage files when metadata.yaml is gone."""
    if not bag.exists():
        raise UserError(f"bag {bag} does not exist; record one or write one with "
                        "`uncertainty-seg synth --bag` or `uncertainty-seg make-bag`")
    if bag.is_dir():
        if (bag / "metadata.yaml").exists():
            return [bag]
        files = sorted(bag.glob("*.mcap")) + sorted(bag.glob("*.db3"))
        if not files:
            raise UserError(f"{bag} is not a ROS 2 bag: it has no metadata.yaml, .mcap or .db3")
        return files
    if bag.suffix in (".mcap", ".db3"):
        return [bag]
    raise UserError(f"{bag} is not a ROS 2 bag: expected a bag folder, a .mcap or a .db3 file")


def _salvage_candidates(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(path.glob("*.mcap"))
    return [path] if path.suffix == ".mcap" else []


def _raw(bag: Path, topics: set[str] | None) -> Iterator[tuple[str, str, int, Any]]:
    """(topic, msgtype, log_time_ns, cdr) of the messages; `_BrokenError` where storage fails."""
    from rosbags.rosbag2 import Reader

    from uncertainty_seg_node.bags import mcap_salvage

    for path in _storage_paths(bag):
        try:
            reader = Reader(path)
            reader.open()
        except Exception as exc:  # noqa: BLE001 - any storage failure is reported, not raised raw
            candidates = _salvage_candidates(path)
            if not candidates:
                raise _BrokenError(f"cannot open: {exc}") from None
            for candidate in candidates:
                scan = mcap_salvage.SalvageScan()
                yield from mcap_salvage.scan_messages(candidate, scan, topics)
                if scan.error is not None:
                    raise _BrokenError(f"{candidate.name}: {scan.error}") from None
            raise _BrokenError(f"cannot open ({exc}); messages were recovered by a raw scan"
                               ) from None
        try:
            wanted = [c for c in reader.connections if topics is None or c.topic in topics]
            if not wanted:
                continue
            for connection, log_time, data in reader.messages(connections=wanted):
                yield connection.topic, connection.msgtype, log_time, data
        except _BrokenError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise _BrokenError(str(exc)) from None
        finally:
            try:
                reader.close()
            except Exception:  # noqa: BLE001, S110 - closing a broken storage may fail too
                pass


def list_topics(bag: str | Path) -> dict[str, str]:
    """Map of topic -> message type of every topic; UserError naming the path if unreadable."""
    from rosbags.rosbag2 import Reader

    from uncertainty_seg_node.bags import mcap_salvage

    bag = Path(bag)
    topics: dict[str, str] = {}
    for path in _storage_paths(bag):
        try:
            with Reader(path) as reader:
                topics.update({c.topic: c.msgtype for c in reader.connections})
            continue
        except Exception as exc:  # noqa: BLE001
            candidates = _salvage_candidates(path)
            if not candidates:
                raise BagReadError(f"bag {bag} is corrupt or not a ROS 2 bag: {exc}", path=bag,
                                   topic=None, count=0, last_stamp_ns=None) from None
        for candidate in candidates:
            scan = mcap_salvage.SalvageScan()
            for _ in mcap_salvage.scan_messages(candidate, scan, set()):
                pass
            topics.update(dict(scan.channels.values()))
        if not topics:
            raise BagReadError(f"bag {bag} is corrupt: no readable topic in it", path=bag,
                               topic=None, count=0, last_stamp_ns=None)
    return topics


def _messages(bag: Path, topic: str, msgtypes: tuple[str, ...], what: str
              ) -> Iterator[tuple[int, Any]]:
    """(log_time_ns, deserialised message) of one topic; BagReadError after the last good one."""
    topics = list_topics(bag)
    if topic not in topics:
        have = ", ".join(f"{t} ({m})" for t, m in sorted(topics.items())) or "none"
        raise UserError(f"topic {topic} is not in bag {bag}; its topics: {have}")
    if topics[topic] not in msgtypes:
        raise UserError(f"topic {topic} in bag {bag} carries {topics[topic]}; {what} needs "
                        f"{' or '.join(msgtypes)}")
    store = messages.typestore()
    count, last = 0, None
    try:
        for _, msgtype, log_time, data in _raw(bag, {topic}):
            try:
                msg = store.deserialize_cdr(data, msgtype)
            except Exception as exc:  # noqa: BLE001
                raise _BrokenError(f"message {count + 1} does not deserialise: {exc}") from None
            yield log_time, msg
            count += 1
            last = log_time
    except _BrokenError as broken:
        raise BagReadError(
            f"bag {bag} is truncated or corrupt: {broken.args[0]}; {count} message(s) of {topic} "
            f"were read before it (last good log time {last} ns) and are usable",
            path=bag, topic=topic, count=count, last_stamp_ns=last,
        ) from None


def _decoded(msg: Any, msgtype: str) -> tuple[np.ndarray, str]:
    if msgtype == messages.COMPRESSED_IMAGE:
        return messages.compressed_array(msg)
    return messages.image_array(msg)


_IMAGE_TYPES = (messages.IMAGE, messages.COMPRESSED_IMAGE)


def read_arrays(bag: str | Path, topic: str) -> Iterator[BagImage]:
    """Images of a topic as stored: native dtype (uint8, uint16, float32), channels as encoded."""
    bag = Path(bag)
    for _, msg in _messages(bag, topic, _IMAGE_TYPES, "reading images"):
        msgtype = messages.COMPRESSED_IMAGE if hasattr(msg, "format") else messages.IMAGE
        array, encoding = _decoded(msg, msgtype)
        yield BagImage(messages.stamp_of(msg), str(msg.header.frame_id), array, encoding)


def read_images(bag: str | Path, topic: str) -> Iterator[BagImage]:
    """Colour frames of an Image / CompressedImage topic as uint8 HxWx3 RGB.

    `encoding` is the original one (e.g. 'bgr8', or 'bgr8' for a decoded jpeg); `image` is RGB.
    """
    from uncertainty_seg_node.image_codec.encodings import (
        CAMERA_ENCODINGS,
        to_model_encoding,
        to_rgb,
    )

    for item in read_arrays(bag, topic):
        encoding = "mono8" if item.encoding == "8UC1" else item.encoding
        encoding = "rgb8" if encoding == "8UC3" else encoding
        if encoding not in CAMERA_ENCODINGS:
            raise UserError(f"topic {topic} carries {item.encoding} images, not colour frames")
        rgb = to_rgb(*to_model_encoding(item.image, encoding))
        yield BagImage(item.stamp_ns, item.frame_id, rgb, item.encoding)


def read_mono(bag: str | Path, topic: str) -> Iterator[BagImage]:
    """Single-channel uint8 images (label maps, masks) as raw uint8 HxW."""
    for item in read_arrays(bag, topic):
        if item.image.dtype != np.uint8 or item.image.ndim != 2:
            raise UserError(f"topic {topic} carries {item.encoding} images; labels and masks "
                            "must be mono8")
        yield item


def read_strings(bag: str | Path, topic: str) -> Iterator[tuple[int, str]]:
    """(log_time_ns, text) of a std_msgs/String topic (e.g. the synthetic domain per frame)."""
    for log_time, msg in _messages(Path(bag), topic, (messages.STRING,), "reading strings"):
        yield log_time, str(msg.data)


def read_pairs(bag: str | Path, image_topic: str, label_topic: str
               ) -> Iterator[tuple[BagImage, BagImage]]:
    """(RGB frame, mono8 labels) pairs with equal header stamps, in the order of the frames.

    Reads the label topic first (labels are small), then streams the frames; frames without
    labels are skipped.
    """
    labels = {item.stamp_ns: item for item in read_mono(bag, label_topic)}
    for frame in read_images(bag, image_topic):
        match = labels.get(frame.stamp_ns)
        if match is not None:
            yield frame, match
