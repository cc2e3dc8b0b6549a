"""Ground truth for replayed frames: a Cityscapes-format label folder, or a label topic.

Label folder (`--labels DIR`). The label files are found recursively (under `DIR/gtFine` when it
exists, else under `DIR`), the first kind present wins:
    *_gtFine_labelTrainIds.png   train ids as they are (0..K-1, 255 = ignore)
    *_gtFine_labelIds.png        Cityscapes label ids, mapped to the 19 train ids
    *.png inside `DIR/labels/`   train ids (generic folders)
An anomaly mask beside a label (`<stem>_gtFine_anomaly.png` or `<stem>_anomaly.png`, 0 / 255)
marks out-of-distribution pixels. `<stem>` is the file name without those suffixes.

Matching rule (`--label-match auto|stamp|index`):
- stamp: every stem contains a timestamp, either 19 digits of nanoseconds (`1700000000123456789`)
  or seconds and nanoseconds separated by `_`, `.` or `-` (`1700000000_123456789`, 9-digit
  nanoseconds). A label belongs to the image whose header stamp equals it. Frames without a
  label file are replayed unlabelled (sequences are often labelled sparsely); a label file that
  matches no frame is an error at the end ("mismatched timestamps").
- index: the labels sorted by path are matched to the image messages in bag order (label 0 to
  the first message of the image topic, ...). The numbers of labels and messages must agree.
- auto (default): stamp when every stem has a timestamp, index otherwise.
Labels must have their image's size (no silent resizing): another size is an error.

Label topic (`--label-topic T`): mono8 label images with the same header stamps as the images;
`StampJoiner` pairs the two streams by stamp with a small bounded look-ahead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from uncertainty_seg_node.errors import UserError

TRAIN_IDS_SUFFIX = "_gtFine_labelTrainIds.png"
LABEL_IDS_SUFFIX = "_gtFine_labelIds.png"
ANOMALY_SUFFIXES = ("_gtFine_anomaly.png", "_anomaly.png")
MATCH_MODES = ("auto", "stamp", "index")

_NS_RE = re.compile(r"(?<!\d)(\d{19})(?!\d)")
_SEC_NSEC_RE = re.compile(r"(?<!\d)(\d{9,10})[._-](\d{9})(?!\d)")


def stamp_from_name(stem: str) -> int | None:
    """The nanosecond timestamp in a file stem (see the module docstring), or None."""
    match = _SEC_NSEC_RE.search(stem)
    if match:
        return int(match.group(1)) * 1_000_000_000 + int(match.group(2))
    match = _NS_RE.search(stem)
    if match:
        return int(match.group(1))
    return None


@dataclass(frozen=True)
class LabelFile:
    """One label file found in the folder."""

    stem: str
    path: Path
    label_ids: bool  # Cityscapes labelIds (mapped) rather than train ids
    anomaly_path: Path | None
    stamp_ns: int | None


def find_label_files(root: Path) -> list[LabelFile]:
    """The label files of a folder (see the module docstring), sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"label folder {root} does not exist")
    search = root / "gtFine" if (root / "gtFine").is_dir() else root
    for pattern, label_ids, suffix in (
        (f"*{TRAIN_IDS_SUFFIX}", False, TRAIN_IDS_SUFFIX),
        (f"*{LABEL_IDS_SUFFIX}", True, LABEL_IDS_SUFFIX),
    ):
        paths = sorted(p for p in search.rglob(pattern) if p.is_file())
        if paths:
            return [_label_file(p, p.name[: -len(suffix)], label_ids) for p in paths]
    generic = root / "labels"
    if generic.is_dir():
        paths = sorted(
            p for p in generic.rglob("*.png")
            if p.is_file() and not p.name.endswith(ANOMALY_SUFFIXES)
        )
        if paths:
            return [_label_file(p, p.stem, False) for p in paths]
    raise UserError(
        f"no label files in {root}: expected gtFine/**/*{TRAIN_IDS_SUFFIX}, "
        f"**/*{LABEL_IDS_SUFFIX} or labels/*.png"
    )


def _label_file(path: Path, stem: str, label_ids: bool) -> LabelFile:
    anomaly = next(
        (path.parent / f"{stem}{s}" for s in ANOMALY_SUFFIXES
         if (path.parent / f"{stem}{s}").is_file()),
        None,
    )
    return LabelFile(stem, path, label_ids, anomaly, stamp_from_name(stem))


@dataclass
class GroundTruth:
    """Labels (uint8 train ids, 255 ignore) and optional anomaly mask of one frame."""

    labels: np.ndarray
    anomaly: np.ndarray | None
    source: str  # file path or "topic@stamp", for error messages and the report


class LabelFolder:
    """Labels from a folder, matched to frames by timestamp or by index (module docstring)."""

    def __init__(self, root: str | Path, match: str = "auto") -> None:
        if match not in MATCH_MODES:
            raise UserError(f"unknown --label-match {match!r}; choose one of {MATCH_MODES}")
        self.root = Path(root)
        self.files = find_label_files(self.root)
        has_stamps = all(f.stamp_ns is not None for f in self.files)
        if match == "stamp" and not has_stamps:
            example = next(f for f in self.files if f.stamp_ns is None)
            raise UserError(
                f"--label-match stamp, but {example.path.name} has no timestamp in its name "
                "(expected 19 digits of nanoseconds or <sec>_<9-digit nsec>)"
            )
        self.match = ("stamp" if has_stamps else "index") if match == "auto" else match
        self._by_stamp: dict[int, LabelFile] = {}
        if self.match == "stamp":
            for f in self.files:
                assert f.stamp_ns is not None
                if f.stamp_ns in self._by_stamp:
                    raise UserError(
                        f"two label files for stamp {f.stamp_ns}: "
                        f"{self._by_stamp[f.stamp_ns].path} and {f.path}"
                    )
                self._by_stamp[f.stamp_ns] = f
        self._used: set[Path] = set()

    def __len__(self) -> int:
        return len(self.files)

    def check_count(self, messages: int | None) -> None:
        """Index matching needs one label per image message; refuse a mismatch up front."""
        if self.match == "index" and messages is not None and messages != len(self.files):
            raise UserError(
                f"{len(self.files)} label files in {self.root} but {messages} image messages; "
                "index matching pairs them one to one (sorted names vs bag order). Name the "
                "files by header stamp (ns) to label a subset of frames"
            )

    def lookup(self, index: int, stamp_ns: int) -> LabelFile | None:
        """The label file of frame `index` (0-based, bag order) with header stamp `stamp_ns`."""
        if self.match == "index":
            if index >= len(self.files):
                raise UserError(
                    f"image message {index + 1} has no label: {self.root} holds only "
                    f"{len(self.files)} label files (index matching)"
                )
            found: LabelFile | None = self.files[index]
        else:
            found = self._by_stamp.get(stamp_ns)
        if found is not None:
            self._used.add(found.path)
        return found

    def load(
        self, label_file: LabelFile, image_shape: tuple[int, int], num_classes: int
    ) -> GroundTruth:
        """Read a label (and its anomaly mask), checking its size and its ids."""
        from uncertainty_seg_node.data.imageio import read_label, read_mask

        raw = read_label(label_file.path)
        if label_file.label_ids:
            from uncertainty_seg_node.data.classmap import ClassMap

            labels = ClassMap.cityscapes_label_ids().map_labels(raw, where=str(label_file.path))
        else:
            labels = check_train_ids(raw, num_classes, str(label_file.path))
        _check_size(labels.shape[:2], image_shape, label_file.path, "label")
        anomaly = None
        if label_file.anomaly_path is not None:
            anomaly = read_mask(label_file.anomaly_path)
            _check_size(anomaly.shape[:2], image_shape, label_file.anomaly_path, "anomaly mask")
        return GroundTruth(labels, anomaly, str(label_file.path))

    def unmatched(self) -> list[LabelFile]:
        """Label files no frame has asked for so far."""
        return [f for f in self.files if f.path not in self._used]

    def mismatch_message(self, first_stamp: int | None, last_stamp: int | None) -> str | None:
        """Why labels were left over (None when every label file found its frame)."""
        left = self.unmatched()
        if not left:
            return None
        what = "timestamps" if self.match == "stamp" else "frames"
        span = (
            f"; the image stamps ran from {first_stamp} to {last_stamp}"
            if first_stamp is not None else ""
        )
        return (
            f"{len(left)} of {len(self.files)} label files matched no image ({what} mismatch), "
            f"e.g. {left[0].path.name} (stamp {left[0].stamp_ns}){span}. Label stamps must equal "
            "the images' header stamps in nanoseconds"
        )


def check_train_ids(raw: np.ndarray, num_classes: int, where: str) -> np.ndarray:
    """Single-channel train-id labels -> uint8, refusing ids that are not a class or 255."""
    if raw.ndim == 3:
        if raw.shape[2] >= 3 and (raw[..., 0] == raw[..., 1]).all() and (
            raw[..., 1] == raw[..., 2]
        ).all():
            raw = raw[..., 0]
        else:
            raise UserError(
                f"{where}: labels must be single-channel train ids, got {raw.shape[2]} channels"
            )
    if raw.dtype != np.uint8:
        if raw.dtype.kind not in "iu" or (raw.size and int(raw.max()) > 255):
            raise UserError(f"{where}: labels must be 8-bit train ids, got {raw.dtype}")
        raw = raw.astype(np.uint8)
    bad = (raw >= num_classes) & (raw != 255)
    if bad.any():
        ids = np.unique(raw[bad])[:10].tolist()
        raise UserError(
            f"{where}: label ids {ids} are not classes of the model (0..{num_classes - 1}, "
            "255 = ignore)"
        )
    return np.ascontiguousarray(raw)


def _check_size(got: tuple[int, ...], want: tuple[int, int], path: Path, what: str) -> None:
    if tuple(got) != tuple(want):
        raise UserError(
            f"{what} {path} is {got[1]}x{got[0]} (WxH) but its image is {want[1]}x{want[0]}; "
            f"{what}s must have the image's size"
        )


T = TypeVar("T")


class StampJoiner(Generic[T]):
    """Pairs a stream of (stamp, item) with query stamps in (roughly) increasing order.

    Keeps at most `window` items read ahead; items older than the query that never matched are
    dropped and counted in `unmatched`. Memory stays bounded whatever the stream length.
    """

    def __init__(self, stream: Iterator[tuple[int, T]], window: int = 64) -> None:
        self._stream = stream
        self._pending: dict[int, T] = {}
        self._last_read: int | None = None
        self._exhausted = False
        self._window = window
        self._last_query: int | None = None
        self.unmatched = 0
        self.matched = 0

    def get(self, stamp_ns: int) -> T | None:
        """The item with exactly this stamp, or None."""
        self._last_query = stamp_ns
        while not self._exhausted and (self._last_read is None or self._last_read <= stamp_ns):
            try:
                stamp, item = next(self._stream)
            except StopIteration:
                self._exhausted = True
                break
            self._last_read = stamp
            self._pending[stamp] = item
            if len(self._pending) > self._window:
                self._drop_oldest()
        found = self._pending.pop(stamp_ns, None)
        stale = [s for s in self._pending if s < stamp_ns]
        if len(self._pending) > self._window // 2:
            for s in stale:
                del self._pending[s]
                self.unmatched += 1
        if found is not None:
            self.matched += 1
        return found

    def _drop_oldest(self) -> None:
        oldest = min(self._pending)
        del self._pending[oldest]
        self.unmatched += 1

    def finish(self) -> int:
        """Count the items older than the last query that never matched; returns the total.

        Items read ahead beyond the last queried stamp (the replay stopped before their frame)
        are not counted.
        """
        last = self._last_query
        self.unmatched += sum(1 for s in self._pending if last is not None and s < last)
        self._pending.clear()
        return self.unmatched
