"""Temporal folds: adapt on one stretch of a drive, measure on frames never adapted to."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from uncertainty_seg_node.data.folds import temporal_folds, write_fold_folders
from uncertainty_seg_node.errors import UserError

CAMVID_DUSK = Path(__file__).resolve().parents[2] / "shared" / "data" / "camvid" / "dusk" / "val"


@pytest.mark.parametrize("count,k", [(62, 2), (7, 2), (10, 3), (5, 5)])
def test_folds_are_disjoint_contiguous_and_cover_the_drive(count: int, k: int) -> None:
    names = [f"seq_{i * 30:06d}" for i in range(count)]
    shuffled = list(np.random.default_rng(0).permutation(names))
    folds = temporal_folds(shuffled, k)
    assert len(folds) == k
    for fold in folds:
        assert not set(fold.adapt) & set(fold.unseen), "a frame on both sides"
        assert sorted(fold.adapt + fold.unseen) == names
        start = names.index(fold.adapt[0])  # adapt is one stretch in drive order
        assert list(fold.adapt) == names[start:start + len(fold.adapt)]
    adapted = [n for fold in folds for n in fold.adapt]
    assert adapted == names, "each frame is adapted to in exactly one fold, in drive order"
    sizes = [len(f.adapt) for f in folds]
    assert max(sizes) - min(sizes) <= 1


def test_two_folds_are_first_half_then_reverse() -> None:
    names = [f"f{i:02d}" for i in range(6)]
    first, second = temporal_folds(names, 2)
    assert first.adapt == ("f00", "f01", "f02") and first.unseen == ("f03", "f04", "f05")
    assert second.adapt == first.unseen and second.unseen == first.adapt


@pytest.mark.parametrize("names,k", [(["a", "b"], 1), (["a"], 2), (["a", "a", "b"], 2)])
def test_bad_fold_requests_are_refused(names: list[str], k: int) -> None:
    with pytest.raises(UserError):
        temporal_folds(names, k)


def _frames(root: Path, count: int) -> tuple[Path, Path]:
    images, labels = root / "images", root / "labels"
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    for i in range(count):
        Image.fromarray(np.full((4, 6, 3), i, np.uint8)).save(images / f"s_{i:03d}.jpg")
        Image.fromarray(np.full((4, 6), i % 3, np.uint8)).save(labels / f"s_{i:03d}.png")
    return images, labels


def test_fold_folders_link_the_right_frames(tmp_path: Path) -> None:
    images, labels = _frames(tmp_path / "src", 9)
    folds = write_fold_folders(images, labels, tmp_path / "folds", k=2)
    for fold in folds:
        root = tmp_path / "folds" / f"fold{fold.index}"
        adapt = sorted(p.stem for p in (root / "adapt" / "images").iterdir())
        unseen = sorted(p.stem for p in (root / "unseen" / "labels").iterdir())
        assert adapt == list(fold.adapt) and unseen == list(fold.unseen)
        assert sorted(p.stem for p in (root / "seen" / "labels").iterdir()) == adapt
        assert not set(adapt) & set(unseen)
        link = root / "unseen" / "labels" / f"{fold.unseen[0]}.png"
        assert link.resolve() == (labels / f"{fold.unseen[0]}.png").resolve()
    record = json.loads((tmp_path / "folds" / "folds.json").read_text())
    assert [f["adapt"] for f in record["folds"]] == [list(f.adapt) for f in folds]
    write_fold_folders(images, labels, tmp_path / "folds", k=2)  # rewriting is idempotent


def test_fold_folders_refuse_frames_without_labels(tmp_path: Path) -> None:
    images, labels = _frames(tmp_path / "src", 4)
    (labels / "s_002.png").unlink()
    with pytest.raises(UserError, match="no label"):
        write_fold_folders(images, labels, tmp_path / "folds")


@pytest.mark.skipif(not CAMVID_DUSK.is_dir(), reason="../shared/data/camvid is absent")
def test_camvid_dusk_folds_split_the_62_frames_31_31(tmp_path: Path) -> None:
    folds = write_fold_folders(CAMVID_DUSK / "images", CAMVID_DUSK / "labels", tmp_path, k=2)
    assert [len(f.adapt) for f in folds] == [31, 31]
    assert folds[0].adapt[-1] < folds[0].unseen[0], "fold 0 adapts on the earlier frames"
    assert folds[0].adapt[0] == "0001TP_006690" and folds[1].adapt[-1] == "0001TP_008520"
