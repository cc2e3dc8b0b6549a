"""`BagWriter`: camera images, labels and strings into a ROS 2 bag (MCAP or sqlite3), rosbags."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from uncertainty_seg_node.bags import messages
from uncertainty_seg_node.errors import UserError

STORAGES: tuple[str, ...] = ("mcap", "sqlite3")


class BagWriter:
    """Context manager writing one ROS 2 bag (a folder with metadata.yaml and one storage file).

    Header stamps and log times both equal the `stamp_ns` given. The bag is closed (metadata
    and MCAP index written) however the `with` block ends, KeyboardInterrupt included, so what
    was written before an interruption stays a valid bag.
    """

    def __init__(self, path: str | Path, storage: str = "mcap") -> None:
        """Prepare a writer for a new bag folder `path` (which must not exist yet)."""
        if storage not in STORAGES:
            raise UserError(
                f"bag storage {storage!r} is unknown; use one of {', '.join(STORAGES)}"
            )
        self.path = Path(path)
        self.storage = storage
        self.count = 0
        self._writer: Any = None
        self._connections: dict[str, tuple[str, Any]] = {}

    def __enter__(self) -> BagWriter:
        """Create the bag folder and open it."""
        from rosbags.rosbag2 import StoragePlugin, Writer

        if self.path.exists():
            raise UserError(f"bag {self.path} already exists; remove it or choose another path")
        plugin = StoragePlugin.MCAP if self.storage == "mcap" else StoragePlugin.SQLITE3
        writer = Writer(self.path, version=9, storage_plugin=plugin)
        try:
            writer.open()
        except OSError as exc:
            raise UserError(f"cannot create bag {self.path}: {exc}") from None
        self._writer = writer
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Close the bag, also when the block raised (the exception then propagates)."""
        self.close()

    def close(self) -> None:
        """Write the index and metadata.yaml; idempotent."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def _write(self, topic: str, msgtype: str, stamp_ns: int, msg: Any) -> None:
        if self._writer is None:
            raise UserError(f"bag {self.path} is not open; use BagWriter as a context manager")
        known = self._connections.get(topic)
        if known is None:
            connection = self._writer.add_connection(topic, msgtype,
                                                     typestore=messages.typestore())
            known = self._connections[topic] = (msgtype, connection)
        elif known[0] != msgtype:
            raise UserError(f"topic {topic} already carries {known[0]}; cannot write {msgtype}")
        data = messages.typestore().serialize_cdr(msg, msgtype)
        self._writer.write(known[1], int(stamp_ns), data)
        self.count += 1

    def write_image(self, topic: str, stamp_ns: int, frame_id: str, array: np.ndarray,
                    encoding: str = "rgb8") -> None:
        """A sensor_msgs/Image: rgb8/bgr8 uint8 HxWx3, mono8 uint8 HxW, 32FC1 float32 HxW."""
        msg = messages.image_message(stamp_ns, frame_id, array, encoding)
        self._write(topic, messages.IMAGE, stamp_ns, msg)

    def write_compressed(self, topic: str, stamp_ns: int, frame_id: str, rgb: np.ndarray,
                         fmt: str = "jpeg", quality: int = 90) -> None:
        """A sensor_msgs/CompressedImage (jpeg or png) of a uint8 HxWx3 RGB image."""
        msg = messages.compressed_message(stamp_ns, frame_id, rgb, fmt, quality)
        self._write(topic, messages.COMPRESSED_IMAGE, stamp_ns, msg)

    def write_encoded(self, topic: str, stamp_ns: int, frame_id: str, data: bytes,
                      fmt: str) -> None:
        """A sensor_msgs/CompressedImage of already encoded jpeg/png bytes (no re-encoding)."""
        msg = messages.encoded_message(stamp_ns, frame_id, data, fmt)
        self._write(topic, messages.COMPRESSED_IMAGE, stamp_ns, msg)

    def write_labels(self, topic: str, stamp_ns: int, frame_id: str,
                     labels_uint8: np.ndarray) -> None:
        """Class ids (uint8 HxW, 255 ignore) as a mono8 sensor_msgs/Image."""
        if labels_uint8.dtype != np.uint8 or labels_uint8.ndim != 2:
            raise UserError(f"labels must be uint8 HxW; got {labels_uint8.dtype} "
                            f"{labels_uint8.shape}")
        self.write_image(topic, stamp_ns, frame_id, labels_uint8, "mono8")

    def write_string(self, topic: str, stamp_ns: int, text: str) -> None:
        """A std_msgs/String logged at `stamp_ns` (it has no header)."""
        self._write(topic, messages.STRING, stamp_ns, messages.string_message(text))
