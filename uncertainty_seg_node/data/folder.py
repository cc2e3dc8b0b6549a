"""Generic labelled folders: `images/` and `labels/` with the same stems, plus a class-map YAML.

`DIR/images/a.jpg` pairs with `DIR/labels/a.png` (any image suffix; nested folders keep their
relative path); an optional `DIR/anomaly/a.png` holds a 0/255 anomaly mask. `DIR` may also hold
several such folders (e.g. `camvid/day/` with `train/` and `val/`): `split` picks one, no split
takes them all. Without `--classes`, `classes.yaml` is looked up in `DIR` and up to three parents
(the CamVid copy keeps it at its root).
"""

from __future__ import annotations

from pathlib import Path

from uncertainty_seg_node.data.classmap import ClassMap
from uncertainty_seg_node.data.imageio import IMAGE_EXTENSIONS, is_image_file
from uncertainty_seg_node.data.sample import LabelledItem
from uncertainty_seg_node.errors import UserError

CLASS_MAP_NAMES = ("classes.yaml", "classes.yml")


def folder_subsets(root: Path, split: str | None) -> list[Path] | None:
    """The `images/`+`labels/` folders under `root` to use, or None if this is no such layout."""
    if (root / "images").is_dir():
        return [root]
    if split is not None:
        if (root / split / "images").is_dir():
            return [root / split]
        return None
    subsets = sorted(p for p in root.iterdir() if p.is_dir() and (p / "images").is_dir())
    return subsets or None


def find_class_map(root: Path, levels: int = 3) -> Path | None:
    """`classes.yaml` in `root` or up to `levels` parents, nearest first."""
    for folder in [root, *list(root.parents)[:levels]]:
        for name in CLASS_MAP_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def list_images(folder: Path) -> dict[str, Path]:
    """Relative stem (posix, no suffix) -> image path for every image file under `folder`."""
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        if is_image_file(path):
            key = path.relative_to(folder).with_suffix("").as_posix()
            # Prefer a lossless file when the same stem exists twice (x.png and x.jpg).
            if key not in found or path.suffix.lower() == ".png":
                found[key] = path
    return found


def find_folder_items(subsets: list[Path], classmap: ClassMap) -> list[LabelledItem]:
    """Pair images with labels (and anomaly masks) in each subset folder."""
    items: list[LabelledItem] = []
    for subset in subsets:
        if not (subset / "labels").is_dir():
            raise UserError(
                f"{subset} has images/ but no labels/ folder; add labels/ with one label PNG "
                "per image (same name), or pass it as unlabelled data"
            )
        images = list_images(subset / "images")
        if not images:
            raise UserError(
                f"no images found in {subset / 'images'} (searched "
                f"{', '.join('*' + e for e in IMAGE_EXTENSIONS)}, recursively)"
            )
        labels = list_images(subset / "labels")
        anomalies = list_images(subset / "anomaly") if (subset / "anomaly").is_dir() else {}
        missing = [images[k] for k in images if k not in labels]
        if missing:
            raise UserError(
                f"{len(missing)} image(s) have no label, e.g. {missing[0]} has no "
                f"{subset / 'labels'}/{missing[0].stem}.png; add the labels or remove the images"
            )
        prefix = f"{subset.name}/" if len(subsets) > 1 else ""
        for key, image_path in images.items():
            items.append(
                LabelledItem(
                    prefix + key, image_path, labels[key], classmap, anomalies.get(key)
                )
            )
    return items
