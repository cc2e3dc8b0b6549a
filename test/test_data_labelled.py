from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from uncertainty_seg_node.classes import CITYSCAPES_CLASSES, LABEL_ID_TO_TRAIN_ID
from uncertainty_seg_node.data import open_labelled
from uncertainty_seg_node.data.labelled import open_labelled_for_model
from uncertainty_seg_node.errors import UserError

H, W = 28, 42


def _rgb(seed: int, h: int = H, w: int = W) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _save_rgb(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def _save_gray(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def _cityscapes(root: Path, kind: str, splits: tuple[str, ...] = ("train", "val"),
                anomaly: bool = False) -> dict[str, np.ndarray]:
    """Two frames per split; returns stem -> expected train ids."""
    expected: dict[str, np.ndarray] = {}
    label_ids = np.array(sorted(LABEL_ID_TO_TRAIN_ID) + [0, 1, 4])  # last three are ignore
    for s_i, split in enumerate(splits):
        for f in range(2):
            stem = f"city{s_i}_000000_{f:06d}"
            rng = np.random.default_rng(10 * s_i + f)
            raw = rng.choice(label_ids, size=(H, W)).astype(np.uint8)
            train = np.vectorize(lambda v: LABEL_ID_TO_TRAIN_ID.get(int(v), 255))(raw)
            train = train.astype(np.uint8)
            city = f"city{s_i}"
            _save_rgb(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png",
                      _rgb(10 * s_i + f))
            gt = root / "gtFine" / split / city
            if kind == "labelIds":
                _save_gray(gt / f"{stem}_gtFine_labelIds.png", raw)
            else:
                _save_gray(gt / f"{stem}_gtFine_labelTrainIds.png", train)
            if anomaly:
                mask = np.zeros((H, W), np.uint8)
                mask[2:5, 3:9] = 255
                _save_gray(gt / f"{stem}_anomaly.png", mask)
            expected[stem] = train
    return expected


@pytest.mark.parametrize("kind", ["labelIds", "labelTrainIds"])
def test_cityscapes_layouts(tmp_path: Path, kind: str) -> None:
    expected = _cityscapes(tmp_path, kind, anomaly=kind == "labelTrainIds")
    ds = open_labelled(tmp_path)
    assert len(ds) == 4 and ds.num_classes == 19 and ds.layout == "cityscapes"
    assert ds.class_names[0] == "road" and ds.palette[0] == (128, 64, 128)
    for sample in ds:
        assert sample.image.dtype == np.uint8 and sample.image.shape == (H, W, 3)
        np.testing.assert_array_equal(sample.labels, expected[sample.name])
        if kind == "labelTrainIds":
            assert sample.anomaly is not None and sample.anomaly.dtype == bool
            assert int(sample.anomaly.sum()) == 18
        else:
            assert sample.anomaly is None
    assert (ds[0].labels == 255).any()
    # image comes back RGB (the file is written BGR by OpenCV)
    np.testing.assert_array_equal(ds[0].image, _rgb(0))
    assert len(open_labelled(tmp_path, split="val")) == 2
    assert len(open_labelled(tmp_path / "leftImg8bit", split="train")) == 2
    with pytest.raises(UserError, match="split 'test' not found.*available: train, val"):
        open_labelled(tmp_path, split="test")


def test_cityscapes_split_without_labels_is_skipped(tmp_path: Path) -> None:
    _cityscapes(tmp_path, "labelTrainIds", splits=("train",))
    _save_rgb(tmp_path / "leftImg8bit" / "test" / "c" / "c_0_0_leftImg8bit.png", _rgb(1))
    assert len(open_labelled(tmp_path)) == 2


def test_cityscapes_image_without_label(tmp_path: Path) -> None:
    _cityscapes(tmp_path, "labelTrainIds", splits=("train",))
    _save_rgb(tmp_path / "leftImg8bit" / "train" / "city0" / "extra_leftImg8bit.png", _rgb(1))
    with pytest.raises(UserError, match=r"1 image\(s\) have no label, e\.g\. .*extra_gtFine"):
        open_labelled(tmp_path)


def _folder(root: Path, n: int = 3, with_yaml: bool = True) -> list[np.ndarray]:
    raws = []
    for i in range(n):
        raw = np.random.default_rng(i).choice([0, 1, 2, 11], size=(H, W)).astype(np.uint8)
        _save_rgb(root / "images" / f"f{i:03d}.jpg", _rgb(i))
        _save_gray(root / "labels" / f"f{i:03d}.png", raw)
        raws.append(raw)
    if with_yaml:
        (root / "classes.yaml").write_text(yaml.safe_dump({
            "ignore_index": 11,
            "classes": [
                {"id": 0, "name": "sky", "color": [128, 128, 128], "cityscapes_train_id": 10},
                {"id": 1, "name": "building", "color": [128, 0, 0], "cityscapes_train_id": 2},
                {"id": 2, "name": "thing", "color": [1, 2, 3]},
            ],
        }))
    return raws


def test_images_labels_folder_with_class_map(tmp_path: Path) -> None:
    data = tmp_path / "set" / "train"
    raws = _folder(data, with_yaml=False)
    _folder(tmp_path / "set" / "val", n=2, with_yaml=False)
    with pytest.raises(UserError, match="need a class map: pass --classes YAML"):
        open_labelled(data)
    _folder(tmp_path / "set", n=0)  # classes.yaml in the parent only
    ds = open_labelled(data)
    assert ds.layout == "folder" and ds.class_names == ("sky", "building", "thing")
    assert ds.names == ["f000", "f001", "f002"]
    lut = {0: 0, 1: 1, 2: 2, 11: 255}
    for sample, raw in zip(ds, raws):
        np.testing.assert_array_equal(sample.labels, np.vectorize(lut.get)(raw))
        assert sample.anomaly is None
    cs = open_labelled(data, to_cityscapes=True)
    assert cs.num_classes == 19
    cs_lut = {0: 10, 1: 2, 2: 255, 11: 255}
    np.testing.assert_array_equal(cs[1].labels, np.vectorize(cs_lut.get)(raws[1]))
    # a folder of subsets takes all, or the one named by split
    both = open_labelled(tmp_path / "set")
    assert len(both) == 5 and both.names[0] == "train/f000" and both.names[-1] == "val/f001"
    assert len(open_labelled(tmp_path / "set", split="val")) == 2
    explicit = open_labelled(data, classes_yaml=tmp_path / "set" / "classes.yaml")
    assert explicit.class_names == ds.class_names


def test_labels_in_the_model_classes(tmp_path: Path) -> None:
    """A Cityscapes model reads another map through it; other class lists are refused."""
    raws = _folder(tmp_path / "set")
    own = open_labelled_for_model(tmp_path / "set", ("sky", "building", "thing"))
    np.testing.assert_array_equal(own[0].labels, np.vectorize({0: 0, 1: 1, 2: 2, 11: 255}.get)(
        raws[0]))
    cs = open_labelled_for_model(tmp_path / "set", CITYSCAPES_CLASSES)
    np.testing.assert_array_equal(cs[0].labels, np.vectorize({0: 10, 1: 2, 2: 255, 11: 255}.get)(
        raws[0]))
    with pytest.raises(UserError, match=r"in 3 classes \(sky, building, thing\), the model's "
                                        r"outputs in 2 \(road, tree\); pass the class map"):
        open_labelled_for_model(tmp_path / "set", ("road", "tree"))


def _error(path: Path) -> str:
    with pytest.raises(UserError) as info:
        open_labelled(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_errors_say_what_to_fix(tmp_path: Path) -> None:
    assert "data folder" in _error(tmp_path / "missing")
    assert "does not exist" in _error(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    message = _error(empty)
    assert "leftImg8bit/<split>/<city>/*_leftImg8bit.png" in message
    assert "images/ + labels/" in message
    (tmp_path / "file.txt").write_text("x")
    assert "is a file" in _error(tmp_path / "file.txt")
    no_labels = tmp_path / "cs"
    _save_rgb(no_labels / "leftImg8bit" / "train" / "c" / "c_0_0_leftImg8bit.png", _rgb(0))
    assert "has images but no labels" in _error(no_labels)


def test_lazy_errors_on_bad_files(tmp_path: Path) -> None:
    _folder(tmp_path, n=3)
    # image without label
    _save_rgb(tmp_path / "images" / "lonely.png", _rgb(9))
    with pytest.raises(UserError, match=r"lonely\.png has no .*labels/lonely\.png"):
        open_labelled(tmp_path)
    (tmp_path / "images" / "lonely.png").unlink()
    # label/image size mismatch names the file and both sizes
    _save_gray(tmp_path / "labels" / "f001.png", np.zeros((H + 2, W), np.uint8))
    # corrupt image
    (tmp_path / "images" / "f002.jpg").write_bytes(b"not a jpeg at all")
    # an unknown label id
    _save_gray(tmp_path / "labels" / "f000.png", np.full((H, W), 7, np.uint8))
    ds = open_labelled(tmp_path)  # opening is cheap and lazy: no file is decoded yet
    assert len(ds) == 3
    with pytest.raises(UserError, match=r"f000\.png: label ids \[7\] are not in class map"):
        ds[0]
    with pytest.raises(UserError, match=rf"f001\.png is {W}x{H + 2} .*f001\.jpg is {W}x{H}"):
        ds[1]
    with pytest.raises(UserError, match=r"cannot decode .*f002\.jpg \(corrupt"):
        ds[2]


def test_empty_images_folder_and_missing_labels_folder(tmp_path: Path) -> None:
    (tmp_path / "a" / "images").mkdir(parents=True)
    (tmp_path / "a" / "labels").mkdir()
    (tmp_path / "a" / "classes.yaml").write_text("classes: [{id: 0, name: x, color: [1,2,3]}]")
    with pytest.raises(UserError, match=r"no images found in .*images \(searched \*\.png"):
        open_labelled(tmp_path / "a")
    _save_rgb(tmp_path / "b" / "images" / "x.png", _rgb(0))
    with pytest.raises(UserError, match="has images/ but no labels/ folder"):
        open_labelled(tmp_path / "b", classes_yaml=tmp_path / "a" / "classes.yaml")


def test_real_camvid(camvid_root: Path) -> None:
    train = open_labelled(camvid_root / "day" / "train")
    val = open_labelled(camvid_root / "day" / "val", classes_yaml=camvid_root / "classes.yaml")
    assert (len(train), len(val)) == (305, 101)
    assert train.num_classes == 11 and train.class_names[3] == "road"
    sample = train[0]
    assert sample.image.shape == (360, 480, 3) and sample.labels.shape == (360, 480)
    counts = train.subset(range(0, 305, 30)).class_pixel_counts()
    assert counts.sum() == 11 * 360 * 480
    assert counts[3] > counts[9] > 0  # road dominates pedestrians
    assert 0 < counts[-1] < counts.sum() * 0.1  # some void, not much
    cs = open_labelled(camvid_root / "day" / "val", to_cityscapes=True)
    cs_labels = cs[0].labels
    assert set(np.unique(cs_labels).tolist()) <= {0, 1, 2, 4, 5, 7, 8, 10, 11, 12, 13, 255}
    # same pixels, two label spaces: CamVid road (3) is Cityscapes road (0)
    np.testing.assert_array_equal(val[0].labels == 3, cs_labels == 0)
