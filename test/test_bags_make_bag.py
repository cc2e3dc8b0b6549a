"""`uncertainty-seg make-bag`: folders of frames (and labels) into bags; written and real files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from uncertainty_seg_node.bags import list_topics, read_images, read_mono
from uncertainty_seg_node.cli.main import main

T0 = 1_600_000_000 * 10**9


def _folder(root: Path, n: int = 3, size: tuple[int, int] = (20, 30)) -> list[np.ndarray]:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rng = np.random.default_rng(1)
    frames = []
    for i in range(n):
        rgb = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "images" / f"f{i:03d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        labels = np.full(size, i % 4, np.uint8)
        labels[0, :] = 7  # the class map's ignore id
        cv2.imwrite(str(root / "labels" / f"f{i:03d}.png"), labels)
        frames.append(rgb)
    (root / "classes.yaml").write_text(
        "ignore_index: 7\nclasses:\n" + "".join(
            f"  - {{id: {k}, name: c{k}, color: [{k}, {k}, {k}], cityscapes_train_id: {k + 10}}}\n"
            for k in range(4)))
    return frames


def test_folder_to_raw_bag_with_labels(tmp_path: Path) -> None:
    frames = _folder(tmp_path / "d")
    bag = tmp_path / "bag"
    assert main(["make-bag", "--images", str(tmp_path / "d"), "--rate", "4", "--out", str(bag),
                 "--labels", str(tmp_path / "d" / "labels"), "--classes",
                 str(tmp_path / "d" / "classes.yaml"), "--start-ns", str(T0)]) == 0
    assert list_topics(bag) == {"/camera/image_raw": "sensor_msgs/msg/Image",
                                "/camera/labels": "sensor_msgs/msg/Image"}
    images = list(read_images(bag, "/camera/image_raw"))
    assert [i.stamp_ns for i in images] == [T0, T0 + 250_000_000, T0 + 500_000_000]
    assert all(np.array_equal(i.image, f) and i.frame_id == "camera"
               for i, f in zip(images, frames))
    labels = list(read_mono(bag, "/camera/labels"))
    assert [lab.stamp_ns for lab in labels] == [i.stamp_ns for i in images]
    for k, lab in enumerate(labels):
        assert (lab.image[0] == 255).all() and (lab.image[1:] == k % 4).all()


def test_to_cityscapes_and_sqlite(tmp_path: Path) -> None:
    _folder(tmp_path / "d", n=2)
    bag = tmp_path / "bag"
    classes = str(tmp_path / "d" / "classes.yaml")
    assert main(["make-bag", "--images", str(tmp_path / "d"), "--rate", "1", "--out", str(bag),
                 "--labels", str(tmp_path / "d"), "--classes", classes, "--to-cityscapes",
                 "--storage", "sqlite3", "--compressed"]) == 0
    assert (bag / "bag.db3").is_file()
    assert set(list_topics(bag)) == {"/camera/image_raw/compressed", "/camera/labels"}
    second = list(read_mono(bag, "/camera/labels"))[1].image
    assert (second[1:] == 11).all() and (second[0] == 255).all()


@pytest.mark.parametrize(("damage", "message"), [
    ("missing", "have no label"),
    ("bad_id", "label ids [9] are not in"),
    ("size", "is 10x10 but frame"),
])
def test_label_problems_are_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   damage: str, message: str) -> None:
    _folder(tmp_path / "d")
    label = tmp_path / "d" / "labels" / "f001.png"
    if damage == "missing":
        label.unlink()
    elif damage == "bad_id":
        cv2.imwrite(str(label), np.full((20, 30), 9, np.uint8))
    else:
        cv2.imwrite(str(label), np.zeros((10, 10), np.uint8))
    code = main(["make-bag", "--images", str(tmp_path / "d"), "--rate", "1", "--out",
                 str(tmp_path / "bag"), "--labels", str(tmp_path / "d"), "--classes",
                 str(tmp_path / "d" / "classes.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "bag").exists()  # no half-written bag left behind on bad input


def test_empty_folder_and_bad_rate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["make-bag", "--images", str(tmp_path / "empty"), "--rate", "1", "--out",
                 str(tmp_path / "bag")]) == 2
    assert "no images" in capsys.readouterr().err
    _folder(tmp_path / "d", n=1)
    assert main(["make-bag", "--images", str(tmp_path / "d"), "--rate", "0", "--out",
                 str(tmp_path / "bag")]) == 2
    assert "--rate must be positive" in capsys.readouterr().err


def test_real_camvid_frames(tmp_path: Path, camvid_root: Path) -> None:
    """A handful of real CamVid frames: JPEG bytes pass through, void (11) becomes 255."""
    src = camvid_root / "day" / "val"
    names = sorted(p.stem for p in (src / "images").glob("*.jpg"))[:4]
    for sub in ("images", "labels"):
        (tmp_path / "cv" / sub).mkdir(parents=True)
    for name in names:
        (tmp_path / "cv" / "images" / f"{name}.jpg").symlink_to(src / "images" / f"{name}.jpg")
        (tmp_path / "cv" / "labels" / f"{name}.png").symlink_to(src / "labels" / f"{name}.png")
    bag = tmp_path / "camvid.bag"
    assert main(["make-bag", "--images", str(tmp_path / "cv"), "--labels", str(tmp_path / "cv"),
                 "--classes", str(camvid_root / "classes.yaml"), "--rate", "1", "--out", str(bag),
                 "--compressed"]) == 0
    frames = list(read_images(bag, "/camera/image_raw/compressed"))
    assert len(frames) == 4
    assert np.diff([f.stamp_ns for f in frames]).tolist() == [10**9] * 3
    for frame, name in zip(frames, names):
        original = cv2.imread(str(src / "images" / f"{name}.jpg"))
        assert np.array_equal(frame.image, cv2.cvtColor(original, cv2.COLOR_BGR2RGB))
    for lab, name in zip(read_mono(bag, "/camera/labels"), names):
        raw = cv2.imread(str(src / "labels" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        assert lab.image.shape == raw.shape == (360, 480)
        assert np.array_equal(lab.image, np.where(raw == 11, 255, raw))
