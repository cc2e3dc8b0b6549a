"""Cityscapes-format folders: `leftImg8bit/<split>/<city>/*_leftImg8bit.png` + `gtFine/...`.

Labels are `*_gtFine_labelTrainIds.png` (used as they are: 0..18, 255 ignore) or
`*_gtFine_labelIds.png` (ids 0..33 mapped to the 19 train ids, the rest ignore). With a class-map
YAML, `labelIds` files are read through it instead. An optional `*_anomaly.png` (or
`*_gtFine_anomaly.png`) beside the labels marks pixels of unknown objects (0/255); the synthetic
world writes these.
"""

from __future__ import annotations

from pathlib import Path

from uncertainty_seg_node.data.classmap import ClassMap
from uncertainty_seg_node.data.sample import LabelledItem
from uncertainty_seg_node.errors import UserError

IMAGE_SUFFIXES = ("_leftImg8bit.png", "_leftImg8bit.jpg")
TRAIN_IDS_SUFFIX = "_gtFine_labelTrainIds.png"
LABEL_IDS_SUFFIX = "_gtFine_labelIds.png"
ANOMALY_SUFFIXES = ("_gtFine_anomaly.png", "_anomaly.png")


def cityscapes_root(path: Path) -> Path | None:
    """The dataset root if `path` is a Cityscapes-format folder (or its `leftImg8bit/`)."""
    if (path / "leftImg8bit").is_dir():
        return path
    if path.name == "leftImg8bit" and path.is_dir():
        return path.parent
    return None


def list_splits(root: Path) -> list[str]:
    """Split folders under `leftImg8bit/`, sorted."""
    return sorted(p.name for p in (root / "leftImg8bit").iterdir() if p.is_dir())


def find_cityscapes_items(
    root: Path, split: str | None, classmap: ClassMap | None
) -> list[LabelledItem]:
    """All labelled frames of `split` (or of every split that has `gtFine/<split>`)."""
    splits = list_splits(root)
    if split is not None:
        if split not in splits:
            raise UserError(
                f"split {split!r} not found in {root / 'leftImg8bit'}; available: "
                f"{', '.join(splits) or 'none'}"
            )
        splits = [split]
    elif not any((root / "gtFine" / s).is_dir() for s in splits):
        raise UserError(
            f"{root} has images but no labels: expected gtFine/<split>/<city>/"
            f"*{TRAIN_IDS_SUFFIX} or *{LABEL_IDS_SUFFIX}"
        )
    else:
        # Unlabelled splits (no gtFine folder at all) are skipped when no split is asked for.
        splits = [s for s in splits if (root / "gtFine" / s).is_dir()]

    train_ids_map = ClassMap.cityscapes_train_ids()
    label_ids_map = classmap if classmap is not None else ClassMap.cityscapes_label_ids()
    items: list[LabelledItem] = []
    missing: list[Path] = []
    for s in splits:
        for image_path in _split_images(root / "leftImg8bit" / s):
            stem = _stem(image_path.name)
            gt_dir = root / "gtFine" / s / image_path.parent.name
            label_ids = gt_dir / f"{stem}{LABEL_IDS_SUFFIX}"
            train_ids = gt_dir / f"{stem}{TRAIN_IDS_SUFFIX}"
            if classmap is not None:  # a class map reads labelIds; mixing spaces is wrong
                if not label_ids.is_file():
                    missing.append(label_ids)
                    continue
                label_path, cmap = label_ids, label_ids_map
            elif train_ids.is_file():
                label_path, cmap = train_ids, train_ids_map
            elif label_ids.is_file():
                label_path, cmap = label_ids, label_ids_map
            else:
                missing.append(train_ids)
                continue
            anomaly = next(
                (gt_dir / f"{stem}{suf}" for suf in ANOMALY_SUFFIXES
                 if (gt_dir / f"{stem}{suf}").is_file()),
                None,
            )
            items.append(LabelledItem(stem, image_path, label_path, cmap, anomaly))
    if missing:
        raise UserError(
            f"{len(missing)} image(s) have no label, e.g. {missing[0]} is missing; "
            "add the labels or remove those images"
        )
    if not items:
        where = ", ".join(f"leftImg8bit/{s}/*/*{IMAGE_SUFFIXES[0]}" for s in splits) or "-"
        raise UserError(f"no images found in {root} (searched {where})")
    return items


def _split_images(split_dir: Path) -> list[Path]:
    found: list[Path] = []
    for city in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        found.extend(
            sorted(p for p in city.iterdir() if p.name.endswith(IMAGE_SUFFIXES) and p.is_file())
        )
    return found


def _stem(filename: str) -> str:
    for suffix in IMAGE_SUFFIXES:
        if filename.endswith(suffix):
            return filename[: -len(suffix)]
    return filename
