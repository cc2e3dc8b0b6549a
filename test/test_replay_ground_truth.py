"""Label folders matched by timestamp or index, size / id checks, and the stamp joiner."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.replay.ground_truth import (
    LabelFolder,
    StampJoiner,
    find_label_files,
    stamp_from_name,
)


def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def test_stamp_from_name_formats() -> None:
    assert stamp_from_name("frame_1700000000123456789") == 1700000000123456789
    assert stamp_from_name("cam_1700000000_000000042_x") == 1700000000_000000042
    assert stamp_from_name("1700000000.5") is None  # nanoseconds need 9 digits
    assert stamp_from_name("aachen_000000_000019") is None  # Cityscapes frame numbers


def test_stamp_matching_and_anomaly_masks(tmp_path: Path) -> None:
    city = tmp_path / "gtFine" / "val" / "drive"
    stamps = [1_000_000_000_000_000_000 + i * 50_000_000 for i in range(3)]
    for i, stamp in enumerate(stamps):
        _write(city / f"drive_{stamp}_gtFine_labelTrainIds.png", np.full((4, 6), i, np.uint8))
    anomaly = np.zeros((4, 6), np.uint8)
    anomaly[1, 2] = 255
    _write(city / f"drive_{stamps[1]}_gtFine_anomaly.png", anomaly)
    folder = LabelFolder(tmp_path)
    assert folder.match == "stamp" and len(folder) == 3
    assert folder.lookup(0, stamps[0] + 1) is None  # not this frame's label
    found = folder.lookup(7, stamps[1])
    assert found is not None
    gt = folder.load(found, (4, 6), num_classes=19)
    assert (gt.labels == 1).all()
    assert gt.anomaly is not None and gt.anomaly.sum() == 1 and gt.anomaly[1, 2]
    message = folder.mismatch_message(stamps[0], stamps[1])
    assert message is not None and "2 of 3 label files matched no image" in message


def test_index_matching_and_count_check(tmp_path: Path) -> None:
    for name in ("b", "a", "c"):
        _write(tmp_path / "labels" / f"{name}.png", np.full((4, 6), ord(name) - 97, np.uint8))
    folder = LabelFolder(tmp_path)
    assert folder.match == "index"
    first = folder.lookup(0, 123)
    assert first is not None and first.path.name == "a.png"
    folder.check_count(3)
    with pytest.raises(UserError, match="3 label files .* but 5 image messages"):
        folder.check_count(5)
    with pytest.raises(UserError, match="has no label"):
        folder.lookup(3, 0)
    with pytest.raises(UserError, match="has no timestamp"):
        LabelFolder(tmp_path, match="stamp")


def test_label_of_another_size_and_unknown_ids_are_errors(tmp_path: Path) -> None:
    _write(tmp_path / "labels" / "0.png", np.zeros((5, 6), np.uint8))
    _write(tmp_path / "labels" / "1.png", np.full((4, 6), 40, np.uint8))
    folder = LabelFolder(tmp_path)
    with pytest.raises(UserError, match=r"is 6x5 \(WxH\) but its image is 6x4"):
        folder.load(folder.files[0], (4, 6), num_classes=19)
    with pytest.raises(UserError, match=r"label ids \[40\] are not classes"):
        folder.load(folder.files[1], (4, 6), num_classes=19)


def test_cityscapes_label_ids_are_mapped(tmp_path: Path) -> None:
    raw = np.array([[7, 26, 0]], np.uint8)  # road, car, unlabeled
    _write(tmp_path / "x" / "a_000000_000001_gtFine_labelIds.png", raw)
    files = find_label_files(tmp_path)
    assert files[0].label_ids
    gt = LabelFolder(tmp_path).load(files[0], (1, 3), num_classes=19)
    assert gt.labels.tolist() == [[0, 13, 255]]


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no label files"):
        LabelFolder(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        LabelFolder(tmp_path / "missing")


def test_stamp_joiner_pairs_by_stamp_with_bounded_memory() -> None:
    labels = [(s, f"L{s}") for s in (10, 20, 25, 30, 50)]
    joiner = StampJoiner(iter(labels), window=4)
    assert joiner.get(10) == "L10"
    assert joiner.get(20) == "L20"
    assert joiner.get(40) is None  # no label at 40; 25 and 30 never match
    assert joiner.get(50) == "L50"
    assert joiner.matched == 3
    assert joiner.finish() == 2
    # A long stream of labels no image asks for does not pile up.
    many = StampJoiner(iter((s, s) for s in range(10_000)), window=8)
    assert many.get(9_999) == 9_999
    assert len(many._pending) <= 8


def test_read_ahead_beyond_the_last_frame_is_not_unmatched() -> None:
    joiner = StampJoiner(iter([(10, "a"), (20, "b"), (30, "c")]))
    assert joiner.get(10) == "a"  # reads 20 ahead to know 10 is complete
    assert joiner.finish() == 0  # the replay stopped (--max-frames) before frame 20
