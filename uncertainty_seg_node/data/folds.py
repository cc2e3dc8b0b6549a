"""Temporal folds of a drive: adapt on one stretch of frames, measure on frames never adapted to.

A user records a bag of a new route, runs `train uncertainty` on it, and then drives the route
again: the frames the model serves on are never the frames it adapted to. Measuring on the
adaptation frames themselves (transductive) overstates the method. So the target frames are split
in drive order into `k` contiguous stretches; fold `i` adapts on stretch `i` and is measured on
all the others. With `k = 2` fold 0 adapts on the first half and is measured on the second, and
fold 1 the reverse. Contiguous stretches, not a random split: neighbouring frames of a 1 Hz drive
look alike, and a random split would put near-copies of test frames into the adaptation set.

`write_fold_folders` lays the folds out as folders of symbolic links (no copies of the data):

    OUT/fold<i>/adapt/images/      the unlabelled frames `train uncertainty --unlabelled` reads
    OUT/fold<i>/seen/{images,labels}/    their labels (measurement of the transductive case)
    OUT/fold<i>/unseen/{images,labels}/  the frames the fold never adapted to, with labels
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from uncertainty_seg_node.data.folder import list_images
from uncertainty_seg_node.errors import UserError


@dataclass(frozen=True)
class Fold:
    """One fold: the frame names adapted to and the frame names measured on (disjoint)."""

    index: int
    adapt: tuple[str, ...]
    unseen: tuple[str, ...]


def temporal_folds(names: list[str], k: int = 2) -> list[Fold]:
    """Split frame names, sorted into drive order, into `k` contiguous stretches.

    Fold `i` adapts on stretch `i` and is measured on every other stretch. Stretch sizes differ
    by at most one frame (the first `len(names) % k` stretches take the extra frame).
    """
    if k < 2:
        raise UserError(f"temporal folds need k >= 2, got {k}")
    ordered = sorted(set(names))
    if len(ordered) != len(names):
        raise UserError("temporal folds: frame names must be unique")
    if len(ordered) < k:
        raise UserError(f"temporal folds: {len(ordered)} frames cannot make {k} folds")
    base, extra = divmod(len(ordered), k)
    bounds = [0]
    for i in range(k):
        bounds.append(bounds[-1] + base + (1 if i < extra else 0))
    stretches = [tuple(ordered[bounds[i]:bounds[i + 1]]) for i in range(k)]
    return [
        Fold(i, stretches[i], tuple(n for j, s in enumerate(stretches) if j != i for n in s))
        for i in range(k)
    ]


def write_fold_folders(images: Path, labels: Path, out: Path, k: int = 2) -> list[Fold]:
    """Lay out `k` temporal folds of labelled target frames under `out` (symbolic links).

    `images` and `labels` hold the same stems (e.g. CamVid `dusk/val/images` and `labels`).
    Writes `out/folds.json` with the frame names of every fold, and returns the folds.
    """
    frames = list_images(images)
    targets = list_images(labels)
    missing = sorted(set(frames) - set(targets))
    if missing:
        raise UserError(f"{labels} has no label for {len(missing)} frame(s), e.g. {missing[0]}")
    folds = temporal_folds(list(frames), k)
    for fold in folds:
        root = out / f"fold{fold.index}"
        _link_all(fold.adapt, frames, root / "adapt" / "images")
        for part, names in (("seen", fold.adapt), ("unseen", fold.unseen)):
            _link_all(names, frames, root / part / "images")
            _link_all(names, targets, root / part / "labels")
    record = {"k": k, "images": str(images), "labels": str(labels),
              "folds": [{"adapt": list(f.adapt), "unseen": list(f.unseen)} for f in folds]}
    (out / "folds.json").write_text(json.dumps(record, indent=1) + "\n")
    return folds


def _link_all(names: tuple[str, ...], paths: dict[str, Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        if stale.is_symlink():
            stale.unlink()
    for name in names:
        source = paths[name]
        link = folder / (name + source.suffix)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(source.resolve())
