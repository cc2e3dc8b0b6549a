from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from uncertainty_seg_node.data import open_unlabelled
from uncertainty_seg_node.data.framestore import FrameStore
from uncertainty_seg_node.data.unlabelled import choose_image_topic
from uncertainty_seg_node.errors import UserError

H, W = 32, 48


def _frame(i: int) -> np.ndarray:
    """A smooth frame whose mean colour encodes i (survives video compression)."""
    frame = np.zeros((H, W, 3), np.uint8)
    frame[:, :, 0] = 10 + 20 * i
    frame[:, :, 1] = np.linspace(0, 200, W, dtype=np.uint8)[None, :]
    frame[:, :, 2] = 200 - 15 * i
    return frame


def _save(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def test_folder_direct_images_subfolder_and_stride(tmp_path: Path) -> None:
    for i in range(5):
        _save(tmp_path / "flat" / f"{i:02d}.png", _frame(i))
        _save(tmp_path / "nested" / "images" / f"{i:02d}.png", _frame(i))
    (tmp_path / "flat" / "notes.txt").write_text("ignored")
    flat = open_unlabelled(tmp_path / "flat")
    assert len(flat) == 5 and flat.kind == "folder" and flat.names[0] == "00"
    np.testing.assert_array_equal(flat[3], _frame(3))  # RGB, lossless
    nested = open_unlabelled(tmp_path / "nested", stride=2, max_frames=2)
    assert nested.names == ["00", "02"]
    np.testing.assert_array_equal(nested[1], _frame(2))
    # the first / the last frames in drive order (sorted names)
    assert open_unlabelled(tmp_path / "flat", max_frames=2).names == ["00", "01"]
    assert open_unlabelled(tmp_path / "flat", start=3).names == ["03", "04"]
    assert open_unlabelled(tmp_path / "flat", start=1, stride=2, max_frames=1).names == ["01"]
    with pytest.raises(UserError, match="no frames left .* after skipping the first 5"):
        open_unlabelled(tmp_path / "flat", start=5)
    assert len(open_unlabelled(tmp_path / "flat" / "01.png")) == 1


def test_cityscapes_tree_and_labelled_folder_skip_labels(tmp_path: Path) -> None:
    for split in ("train", "val"):
        _save(tmp_path / "cs" / "leftImg8bit" / split / "c" / f"c_0_{split}_leftImg8bit.png",
              _frame(1))
        label = tmp_path / "cs" / "gtFine" / split / "c" / f"c_0_{split}_gtFine_labelIds.png"
        _save(label, _frame(2))
    assert len(open_unlabelled(tmp_path / "cs")) == 2
    assert open_unlabelled(tmp_path / "cs", split="val").names == ["c/c_0_val_leftImg8bit"]
    # camvid-like: day/{train,val}/{images,labels}: only the images are read
    for sub in ("train", "val"):
        _save(tmp_path / "day" / sub / "images" / "a.jpg", _frame(0))
        _save(tmp_path / "day" / sub / "labels" / "a.png", _frame(0))
    assert len(open_unlabelled(tmp_path / "day")) == 2
    # a plain tree that happens to keep labels next to images
    _save(tmp_path / "tree" / "seq1" / "a.png", _frame(0))
    _save(tmp_path / "tree" / "labels" / "a.png", _frame(0))
    assert open_unlabelled(tmp_path / "tree").names == ["seq1/a"]


@pytest.mark.parametrize(("fourcc", "suffix"), [("MJPG", ".avi"), ("mp4v", ".mp4")])
def test_video(tmp_path: Path, fourcc: str, suffix: str) -> None:
    path = tmp_path / f"drive{suffix}"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10.0, (W, H))
    assert writer.isOpened()
    for i in range(7):
        writer.write(cv2.cvtColor(_frame(i), cv2.COLOR_RGB2BGR))
    writer.release()
    video = open_unlabelled(path)
    assert video.kind == "video" and len(video) == 7
    # random access, out of order, close to the written frame (lossy codec), RGB order kept
    for i in (5, 0, 3):
        frame = video[i].astype(int)
        assert frame.shape == (H, W, 3)
        assert abs(frame[..., 0].mean() - (10 + 20 * i)) < 6
        assert abs(frame[..., 2].mean() - (200 - 15 * i)) < 6
    sub = open_unlabelled(path, stride=3, max_frames=2)
    assert sub.names == ["drive_000000", "drive_000003"]
    assert open_unlabelled(path, start=4, stride=2).names == ["drive_000004", "drive_000006"]
    assert abs(sub[1][..., 0].astype(int).mean() - 70) < 6
    video.close()


def test_not_a_video_or_missing(tmp_path: Path) -> None:
    bogus = tmp_path / "clip.mp4"
    bogus.write_bytes(b"\x00" * 100)
    with pytest.raises(UserError, match=r"clip\.mp4"):
        open_unlabelled(bogus)
    with pytest.raises(UserError, match="does not exist"):
        open_unlabelled(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"no images found in .*empty \(searched \*\.png"):
        open_unlabelled(tmp_path / "empty")
    with pytest.raises(UserError, match="stride"):
        open_unlabelled(tmp_path / "empty", stride=0)
    with pytest.raises(UserError, match="start must be >= 0"):
        open_unlabelled(tmp_path / "empty", start=-1)


def _write_bag(path: Path, storage: str, compressed: bool) -> None:
    from uncertainty_seg_node.bags.bag_io import BagWriter

    with BagWriter(path, storage=storage) as bag:
        for i in range(6):
            stamp = 1_000_000_000 + i * 100_000_000
            if compressed:
                bag.write_compressed("/camera/image_raw/compressed", stamp, "cam", _frame(i),
                                     fmt="png")
            else:
                bag.write_image("/camera/image_raw", stamp, "cam",
                                cv2.cvtColor(_frame(i), cv2.COLOR_RGB2BGR), "bgr8")
            bag.write_labels("/camera/labels", stamp, "cam", np.full((H, W), i, np.uint8))


@pytest.mark.parametrize(("storage", "compressed"), [("mcap", False), ("sqlite3", True)])
def test_bag(tmp_path: Path, storage: str, compressed: bool) -> None:
    bag = tmp_path / "drive"
    _write_bag(bag, storage, compressed)
    data = open_unlabelled(bag)  # labels topic is skipped when choosing the camera topic
    assert data.kind == "bag" and len(data) == 6
    assert data.topic.startswith("/camera/image_raw")  # type: ignore[union-attr]
    assert data.stamps_ns == [1_000_000_000 + i * 100_000_000 for i in range(6)]
    for i in (4, 1):
        np.testing.assert_array_equal(data[i], _frame(i))  # lossless raw or png
    sub = open_unlabelled(bag, stride=2, max_frames=2)
    assert len(sub) == 2
    np.testing.assert_array_equal(sub[1], _frame(2))
    late = open_unlabelled(bag, start=3, stride=2)
    assert late.stamps_ns == [1_300_000_000, 1_500_000_000]
    np.testing.assert_array_equal(late[0], _frame(3))
    with pytest.raises(UserError, match="no messages after the first 6"):
        open_unlabelled(bag, start=6)
    storage_file = next(p for p in bag.iterdir() if p.suffix in (".mcap", ".db3"))
    assert len(open_unlabelled(storage_file)) == 6
    with pytest.raises(UserError, match=r"topic /nope is not an image topic.*/camera/labels"):
        open_unlabelled(bag, topic="/nope")


def test_truncated_bag_keeps_the_good_frames(tmp_path: Path) -> None:
    bag = tmp_path / "crashed"
    _write_bag(bag, "mcap", compressed=False)
    storage = next(bag.glob("*.mcap"))
    data = storage.read_bytes()
    storage.write_bytes(data[: int(len(data) * 0.6)])  # the recorder died mid-write
    with pytest.warns(UserWarning, match="using the [1-5] frames read before it"):
        frames = open_unlabelled(bag)
    assert 1 <= len(frames) <= 5
    np.testing.assert_array_equal(frames[0], _frame(0))


def test_choose_topic_lists_candidates() -> None:
    img = "sensor_msgs/msg/Image"
    assert choose_image_topic({"/a": img, "/b": "std_msgs/msg/String"}, Path("x")) == "/a"
    assert choose_image_topic({"/cam": img, "/seg/confidence": img}, Path("x")) == "/cam"
    # the option of `train uncertainty` that picks it (not `--topic`, which it does not have)
    with pytest.raises(UserError, match=r"several image topics \(/left, /right\); choose one "
                       r"with --unlabelled-topic$"):
        choose_image_topic({"/left": img, "/right": img}, Path("x"))
    with pytest.raises(UserError, match=r"no Image/CompressedImage topic \(topics: /b"):
        choose_image_topic({"/b": "std_msgs/msg/String"}, Path("x"))


def test_frame_store_spills_to_disk() -> None:
    store = FrameStore(memory_mb=0.008)  # ~8 kB: one 4.7 kB frame stays in RAM, the rest spill
    frames = [np.random.default_rng(i).integers(0, 256, (H, W, 3), np.uint8) for i in range(4)]
    for frame in frames:
        store.append(frame)
    assert len(store) == 4 and store.bytes_on_disk > 0
    assert 0 < store.bytes_in_memory <= 8400 and store.bytes_on_disk > store.bytes_in_memory
    for i in (3, 0, 2, -1):
        np.testing.assert_array_equal(store[i], frames[i])
    with pytest.raises(IndexError):
        store[4]
    store.close()
    assert len(store) == 0


def test_real_camvid_dusk(camvid_root: Path) -> None:
    dusk = open_unlabelled(camvid_root / "dusk" / "unlabelled")
    assert len(dusk) == 62 and dusk.names[0].startswith("0001TP_")
    assert dusk[0].shape == (360, 480, 3) and dusk[0].dtype == np.uint8
    assert dusk[0].mean() < open_unlabelled(camvid_root / "day" / "val")[0].mean()  # it is dusk
