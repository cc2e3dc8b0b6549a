"""Bag round trips through real rosbags files (MCAP and sqlite3), errors and broken bags."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from uncertainty_seg_node.bags import (
    BagReadError,
    BagWriter,
    list_topics,
    read_arrays,
    read_images,
    read_mono,
    read_pairs,
    read_strings,
)
from uncertainty_seg_node.errors import UserError

T0 = 1_700_000_000_123_456_789
STEP = 100_000_000


def _frames(n: int, h: int = 24, w: int = 32) -> list[np.ndarray]:
    """Smooth random images (JPEG keeps them close) with a little pixel noise."""
    import cv2

    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        coarse = rng.integers(0, 256, (4, 4, 3)).astype(np.float32)
        smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
        out.append(np.clip(smooth + rng.normal(0, 3, smooth.shape), 0, 255).astype(np.uint8))
    return out


def _write(path: Path, storage: str, frames: list[np.ndarray]) -> None:
    with BagWriter(path, storage) as writer:
        for i, rgb in enumerate(frames):
            stamp = T0 + i * STEP
            writer.write_image("/cam/rgb", stamp, "cam", rgb, "rgb8")
            writer.write_image("/cam/bgr", stamp, "cam", rgb[:, :, ::-1].copy(), "bgr8")
            writer.write_compressed("/cam/jpeg", stamp, "cam", rgb, "jpeg")
            writer.write_compressed("/cam/png", stamp, "cam", rgb, "png")
            writer.write_labels("/cam/labels", stamp, "cam", rgb[:, :, 0].copy())
            writer.write_image("/cam/depth", stamp, "cam", rgb[:, :, 1].astype(np.float32) / 7,
                               "32FC1")
            writer.write_string("/cam/domain", stamp, f"d{i}")


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_round_trip(tmp_path: Path, storage: str) -> None:
    frames = _frames(5)
    bag = tmp_path / "bag"
    _write(bag, storage, frames)
    assert list_topics(bag) == {
        "/cam/rgb": "sensor_msgs/msg/Image", "/cam/bgr": "sensor_msgs/msg/Image",
        "/cam/jpeg": "sensor_msgs/msg/CompressedImage",
        "/cam/png": "sensor_msgs/msg/CompressedImage", "/cam/labels": "sensor_msgs/msg/Image",
        "/cam/depth": "sensor_msgs/msg/Image", "/cam/domain": "std_msgs/msg/String",
    }
    stamps = [T0 + i * STEP for i in range(5)]
    for topic in ("/cam/rgb", "/cam/bgr", "/cam/png"):
        got = list(read_images(bag, topic))
        assert [g.stamp_ns for g in got] == stamps
        assert all(g.frame_id == "cam" for g in got)
        for g, rgb in zip(got, frames):
            assert g.image.dtype == np.uint8 and np.array_equal(g.image, rgb), topic
    assert [g.encoding for g in read_images(bag, "/cam/bgr")] == ["bgr8"] * 5
    jpeg = list(read_images(bag, "/cam/jpeg"))
    assert [g.stamp_ns for g in jpeg] == stamps
    assert np.abs(jpeg[0].image.astype(int) - frames[0]).mean() < 8  # lossy, but the frame
    labels = list(read_mono(bag, "/cam/labels"))
    assert all(np.array_equal(g.image, rgb[:, :, 0]) for g, rgb in zip(labels, frames))
    depth = list(read_arrays(bag, "/cam/depth"))
    assert depth[2].image.dtype == np.float32 and depth[2].encoding == "32FC1"
    assert np.allclose(depth[2].image, frames[2][:, :, 1] / 7)
    assert list(read_strings(bag, "/cam/domain")) == [(s, f"d{i}") for i, s in enumerate(stamps)]
    pairs = list(read_pairs(bag, "/cam/rgb", "/cam/labels"))
    assert len(pairs) == 5 and pairs[3][0].stamp_ns == pairs[3][1].stamp_ns == stamps[3]


def test_step_padding_is_honoured(tmp_path: Path) -> None:
    """Rows padded beyond width * channels (step > packed row) read back unpadded."""
    from uncertainty_seg_node.bags import messages

    rgb = _frames(1, 5, 7)[0]
    msg = messages.image_message(T0, "cam", rgb, "rgb8")
    padded = np.zeros((5, 7 * 3 + 11), np.uint8)
    padded[:, :21] = rgb.reshape(5, 21)
    msg.step, msg.data = 32, padded.reshape(-1)
    array, encoding = messages.image_array(msg)
    assert encoding == "rgb8" and np.array_equal(array, rgb)


def test_missing_topic_lists_the_topics(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    _write(bag, "mcap", _frames(1))
    with pytest.raises(UserError, match=r"/nope is not in bag .*/cam/labels \(sensor_msgs"):
        next(read_images(bag, "/nope"))
    with pytest.raises(UserError, match="carries std_msgs/msg/String"):
        next(read_images(bag, "/cam/domain"))
    with pytest.raises(UserError, match="32FC1 images, not colour"):
        next(read_images(bag, "/cam/depth"))


def test_missing_or_foreign_path(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        list_topics(tmp_path / "absent")
    (tmp_path / "folder").mkdir()
    with pytest.raises(UserError, match="not a ROS 2 bag"):
        list_topics(tmp_path / "folder")
    (tmp_path / "x.db3").write_bytes(b"not sqlite at all" * 10)
    with pytest.raises(BagReadError, match="x.db3"):
        list_topics(tmp_path / "x.db3")


def test_truncated_mcap_keeps_what_was_read(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    frames = _frames(30, 120, 160)  # ~58 kB a frame: several chunks
    with BagWriter(bag, "mcap") as writer:
        for i, rgb in enumerate(frames):
            writer.write_image("/cam/rgb", T0 + i * STEP, "cam", rgb, "rgb8")
    storage = bag / "bag.mcap"
    storage.write_bytes(storage.read_bytes()[: int(storage.stat().st_size * 0.6)])
    assert list_topics(bag) == {"/cam/rgb": "sensor_msgs/msg/Image"}
    got = []
    with pytest.raises(BagReadError) as info:
        for item in read_images(bag, "/cam/rgb"):
            got.append(item)
    err = info.value
    assert 5 <= err.count == len(got) < 30
    assert err.last_stamp_ns == got[-1].stamp_ns == T0 + (len(got) - 1) * STEP
    assert all(np.array_equal(g.image, f) for g, f in zip(got, frames))
    assert "truncated or corrupt" in str(err) and str(len(got)) in str(err)


def test_truncated_sqlite_is_a_bag_read_error(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    with BagWriter(bag, "sqlite3") as writer:
        for i, rgb in enumerate(_frames(10, 64, 64)):
            writer.write_image("/cam/rgb", T0 + i * STEP, "cam", rgb, "rgb8")
    storage = bag / "bag.db3"
    storage.write_bytes(storage.read_bytes()[: storage.stat().st_size // 2])
    with pytest.raises(BagReadError) as info:
        list(read_images(bag, "/cam/rgb"))
    assert info.value.count == 0 and "bag.db3" in str(info.value)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_recorder_died_before_metadata(tmp_path: Path, storage: str) -> None:
    """A bag folder without metadata.yaml is read from its storage file."""
    bag = tmp_path / "bag"
    _write(bag, storage, _frames(3))
    (bag / "metadata.yaml").unlink()
    assert len(list(read_images(bag, "/cam/rgb"))) == 3


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_writer_leaves_a_valid_bag_on_interrupt(tmp_path: Path, storage: str) -> None:
    bag = tmp_path / "bag"
    frames = _frames(4)
    with pytest.raises(KeyboardInterrupt):
        with BagWriter(bag, storage) as writer:
            for i, rgb in enumerate(frames):
                if i == 3:
                    raise KeyboardInterrupt
                writer.write_image("/cam/rgb", T0 + i * STEP, "cam", rgb, "rgb8")
    assert (bag / "metadata.yaml").is_file()
    got = list(read_images(bag, "/cam/rgb"))  # no BagReadError: the bag is complete
    assert [g.stamp_ns for g in got] == [T0, T0 + STEP, T0 + 2 * STEP]


def test_writer_refuses_existing_path_and_bad_input(tmp_path: Path) -> None:
    (tmp_path / "bag").mkdir()
    with pytest.raises(UserError, match="already exists"):
        with BagWriter(tmp_path / "bag"):
            pass
    with pytest.raises(UserError, match="storage 'zip'"):
        BagWriter(tmp_path / "b2", "zip")
    with BagWriter(tmp_path / "b3") as writer:
        with pytest.raises(UserError, match="mono8 needs uint8 with 1 channel"):
            writer.write_image("/x", T0, "cam", _frames(1)[0], "mono8")
        with pytest.raises(UserError, match="labels must be uint8"):
            writer.write_labels("/l", T0, "cam", np.zeros((4, 4), np.int32))
        writer.write_image("/x", T0, "cam", _frames(1)[0], "rgb8")
        with pytest.raises(UserError, match="already carries"):
            writer.write_string("/x", T0, "text")
    shutil.rmtree(tmp_path / "b3")
