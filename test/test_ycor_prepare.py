"""`uncertainty-seg ycor-prepare` on a small YCOR-shaped fixture made here, and the shared copy's
class map checked against the mapping table.

The fixture has YCOR's layout (`yamaha_v0/{train,valid}/iidNNNNNN/{rgb.jpg,labels.png}`), its
class colours and a frame of its size halved twice (no real YCOR frame is in the repository). The
rule checked: train/ -> offroad/train, valid/ -> offroad/valid with --with-valid, frames named
ycor_<iid>, images halved to the layout's 512x272 as JPEG, labels halved nearest into CamVid ids
(labels/) and YCOR ids (labels_ycor/), from colour PNGs and from id PNGs alike.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.data import open_labelled
from uncertainty_seg_node.data.classmap import ClassMap
from uncertainty_seg_node.data.ycor_prepare import (
    CAMVID_OF_YCOR,
    SIZE,
    YCOR_COLOURS,
    ycor_classes_yaml,
)

SPLITS = {"train": [0, 1, 1053], "valid": [839, 840]}
BLOCK = 8  # label blocks of 8x8 pixels: halving keeps each block whole


def _frame(iid: int, height: int = 2 * SIZE[0], width: int = 2 * SIZE[1]
           ) -> tuple[np.ndarray, np.ndarray]:
    """A smooth RGB frame and its YCOR ids (blocks of BLOCK pixels), full size."""
    rng = np.random.default_rng(iid)
    ids = rng.integers(0, 9, (height // BLOCK, width // BLOCK), dtype=np.uint8)
    ids = np.kron(ids, np.ones((BLOCK, BLOCK), np.uint8))
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([40 + rows / 4, 60 + cols / 8, 200 - rows / 4], axis=-1)
    return np.clip(image + iid % 50, 0, 255).astype(np.uint8), ids


def _colours(ids: np.ndarray) -> np.ndarray:
    return np.array(YCOR_COLOURS, np.uint8)[ids]


def make_ycor_copy(root: Path, as_ids: bool = False) -> Path:
    """`root/yamaha_v0/{train,valid}/iidNNNNNN/` with rgb.jpg and labels.png (colours or ids)."""
    for split, iids in SPLITS.items():
        for iid in iids:
            folder = root / "yamaha_v0" / split / f"iid{iid:06d}"
            folder.mkdir(parents=True)
            image, ids = _frame(iid)
            cv2.imwrite(str(folder / "rgb.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 98])
            labels = ids if as_ids else cv2.cvtColor(_colours(ids), cv2.COLOR_RGB2BGR)
            cv2.imwrite(str(folder / "labels.png"), labels)
    return root


def _read(path: Path) -> np.ndarray:
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert pixels is not None, path
    return pixels


@pytest.mark.parametrize("as_ids", [False, True], ids=["colour_png", "id_png"])
def test_prepare_writes_the_shared_layout(tmp_path: Path, as_ids: bool,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    source = make_ycor_copy(tmp_path / "ycor_src", as_ids)
    out = tmp_path / "ycor"
    assert main(["ycor-prepare", "--src", str(source), "--out", str(out), "--with-valid"]) == 0
    shown = capsys.readouterr().out
    assert "offroad/train: 3 frames\n" in shown and "offroad/valid: 2 frames\n" in shown
    lut = np.array(CAMVID_OF_YCOR, np.uint8)
    for split, iids in SPLITS.items():
        folder = out / "offroad" / split
        names = [f"ycor_{iid:06d}" for iid in iids]
        assert sorted(p.name for p in folder.iterdir()) == ["images", "labels", "labels_ycor"]
        assert sorted(p.name for p in (folder / "images").iterdir()) == [n + ".jpg" for n in names]
        for iid, name in zip(iids, names):
            image, ids = _frame(iid)
            small = _read(folder / "images" / f"{name}.jpg")
            assert small.shape == (*SIZE, 3)
            expected = cv2.resize(image, SIZE[::-1], interpolation=cv2.INTER_AREA)
            assert np.abs(cv2.cvtColor(small, cv2.COLOR_BGR2RGB).astype(int)
                          - expected).mean() < 3.0
            half = ids[::2, ::2]  # nearest halving of whole 8x8 blocks
            ycor = _read(folder / "labels_ycor" / f"{name}.png")
            camvid = _read(folder / "labels" / f"{name}.png")
            assert ycor.shape == camvid.shape == SIZE and ycor.dtype == np.uint8
            np.testing.assert_array_equal(ycor, half)
            np.testing.assert_array_equal(camvid, lut[half])
    # the class maps sit where the training commands look for them (no --classes needed)
    day = open_labelled(out / "offroad" / "train")
    assert len(day) == 3 and day.class_names[5] == "tree" and day.class_names[3] == "road"
    assert ClassMap.from_yaml(out / "classes_ycor.yaml").class_names[8] == "sky"


def test_without_with_valid_only_train(tmp_path: Path) -> None:
    source = make_ycor_copy(tmp_path / "src")
    out = tmp_path / "ycor"
    assert main(["ycor-prepare", "--src", str(source / "yamaha_v0"), "--out", str(out)]) == 0
    assert sorted(p.name for p in (out / "offroad").iterdir()) == ["train"]
    assert sorted(p.name for p in out.iterdir()) == ["classes.yaml", "classes_ycor.yaml",
                                                     "offroad"]


def test_a_colour_of_no_class_becomes_void_and_is_counted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = make_ycor_copy(tmp_path / "src")
    label = source / "yamaha_v0" / "train" / "iid000001" / "labels.png"
    colours = _read(label)
    colours[:BLOCK, :BLOCK] = (7, 7, 7)  # one 8x8 block: 16 pixels once halved
    cv2.imwrite(str(label), colours)
    out = tmp_path / "ycor"
    assert main(["ycor-prepare", "--src", str(source), "--out", str(out)]) == 0
    assert f"offroad/train: 3 frames ({BLOCK * BLOCK} pixels" in capsys.readouterr().out
    ycor = _read(out / "offroad" / "train" / "labels_ycor" / "ycor_000001.png")
    camvid = _read(out / "offroad" / "train" / "labels" / "ycor_000001.png")
    assert (ycor[:BLOCK // 2, :BLOCK // 2] == 255).all()
    assert (camvid[:BLOCK // 2, :BLOCK // 2] == 11).all()


@pytest.mark.parametrize(("damage", "message"), [
    ("no_layout", "not the YCOR layout"),
    ("missing_label", r"iid000001/labels.png is missing"),
    ("bad_name", "is not named iidNNNNNN"),
    ("id_too_high", "holds id 9"),
    ("size", "label .* is 64x32 but its image"),
    ("aspect", "YCOR frames are 1024x544"),
    ("exists", "already holds offroad/train"),
])
def test_a_bad_copy_is_a_one_line_error(tmp_path: Path, damage: str, message: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    source = make_ycor_copy(tmp_path / "src", as_ids=damage == "id_too_high")
    train = source / "yamaha_v0" / "train"
    out = tmp_path / "ycor"
    if damage == "no_layout":
        train.rename(train.parent / "training")
    elif damage == "missing_label":
        (train / "iid000001" / "labels.png").unlink()
    elif damage == "bad_name":
        (train / "iid000001").rename(train / "frame1")
    elif damage == "id_too_high":
        cv2.imwrite(str(train / "iid000001" / "labels.png"), np.full((32, 64), 9, np.uint8))
        cv2.imwrite(str(train / "iid000001" / "rgb.jpg"), np.zeros((32, 64, 3), np.uint8))
    elif damage == "size":
        cv2.imwrite(str(train / "iid000001" / "labels.png"), np.zeros((32, 64), np.uint8))
    elif damage == "aspect":
        image, ids = _frame(1, 64, 64)
        cv2.imwrite(str(train / "iid000001" / "rgb.jpg"), image)
        cv2.imwrite(str(train / "iid000001" / "labels.png"), ids)
    else:
        (out / "offroad" / "train").mkdir(parents=True)
    assert main(["ycor-prepare", "--src", str(source), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert re.search(message, err), err
    if damage != "exists":  # staged: nothing half-made is left
        assert not out.exists() or list(out.iterdir()) == []


def test_the_ycor_class_map_parses_with_the_dataset_colours() -> None:
    classes = ClassMap.from_dict(yaml.safe_load(ycor_classes_yaml()))
    assert classes.num_classes == 9 and classes.palette == YCOR_COLOURS
    assert len(set(YCOR_COLOURS)) == 9  # one colour per class: decoding is unambiguous


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ycor" / "offroad" / "train"


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/data/ycor here")
def test_the_shared_copy_obeys_the_mapping_table() -> None:
    """The shared folder's CamVid labels are its YCOR labels through CAMVID_OF_YCOR, frame by
    frame, on every 25th frame, and it holds the layout's names and sizes."""
    names = sorted(p.stem for p in (SHARED / "images").iterdir())
    assert len(names) == 931 and all(re.fullmatch(r"ycor_\d{6}", n) for n in names)
    lut = np.full(256, 11, np.uint8)
    lut[:9] = CAMVID_OF_YCOR
    for name in names[::25]:
        ycor = _read(SHARED / "labels_ycor" / f"{name}.png")
        camvid = _read(SHARED / "labels" / f"{name}.png")
        assert ycor.shape == SIZE and int(ycor.max()) <= 8
        np.testing.assert_array_equal(camvid, lut[ycor], err_msg=name)
        assert _read(SHARED / "images" / f"{name}.jpg").shape == (*SIZE, 3)
