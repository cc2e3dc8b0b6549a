"""Labelled datasets: `open_labelled(path)` detects the layout and loads frames lazily.

Layouts (see `cityscapes.py` and `folder.py`):
- Cityscapes format (`leftImg8bit/` + `gtFine/`), which the synthetic world also writes;
- generic `images/` + `labels/` folders with a class-map YAML (e.g. the CamVid copy).

Every sample comes back in one label space, the dataset's `class_names`: the YAML's own classes,
or the 19 Cityscapes train ids (Cityscapes folders, or any YAML with `to_cityscapes=True`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from uncertainty_seg_node.classes import CITYSCAPES_CLASSES, IGNORE_INDEX
from uncertainty_seg_node.data.cityscapes import cityscapes_root, find_cityscapes_items
from uncertainty_seg_node.data.classmap import ClassMap, Color
from uncertainty_seg_node.data.folder import (
    find_class_map,
    find_folder_items,
    folder_subsets,
)
from uncertainty_seg_node.data.imageio import check_same_size, read_label, read_mask, read_rgb
from uncertainty_seg_node.data.sample import LabelledItem, LabelledSample
from uncertainty_seg_node.errors import UserError


class LabelledDataset:
    """A list of labelled frames on disk; `dataset[i]` reads one `LabelledSample`."""

    def __init__(
        self, items: Sequence[LabelledItem], root: Path, classmap: ClassMap, layout: str
    ) -> None:
        if not items:
            raise UserError(f"dataset {root} is empty; it needs at least one labelled image")
        self.items = list(items)
        self.root = root
        self.classmap = classmap
        self.layout = layout  # "cityscapes" or "folder"

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> LabelledSample:
        item = self.items[index]
        image = read_rgb(item.image_path)
        raw = read_label(item.label_path)
        check_same_size(image, raw, item.image_path, item.label_path)
        labels = item.classmap.map_labels(raw, where=str(item.label_path))
        anomaly = None
        if item.anomaly_path is not None:
            anomaly = read_mask(item.anomaly_path)
            check_same_size(image, anomaly, item.image_path, item.anomaly_path, "anomaly mask")
        return LabelledSample(item.name, image, labels, anomaly)

    def __iter__(self) -> Iterator[LabelledSample]:
        for i in range(len(self)):
            yield self[i]

    @property
    def names(self) -> list[str]:
        """Sample names, in order."""
        return [item.name for item in self.items]

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the train ids in `labels`."""
        return self.classmap.class_names

    @property
    def palette(self) -> tuple[Color, ...]:
        """RGB colour per train id."""
        return self.classmap.palette

    @property
    def num_classes(self) -> int:
        """Number of train ids K (labels are 0..K-1 or 255)."""
        return self.classmap.num_classes

    @property
    def ignore_index(self) -> int:
        """The ignore value in `labels` (always 255)."""
        return IGNORE_INDEX

    def subset(self, indices: Sequence[int]) -> LabelledDataset:
        """A dataset of the given samples (e.g. a validation split taken from a folder)."""
        return LabelledDataset([self.items[i] for i in indices], self.root, self.classmap,
                               self.layout)

    def class_pixel_counts(self) -> np.ndarray:
        """(K + 1,) int64 pixel count per train id, the last entry counting ignore pixels."""
        counts = np.zeros(self.num_classes + 1, dtype=np.int64)
        for sample in self:
            hist = np.bincount(sample.labels.ravel(), minlength=256)
            counts[: self.num_classes] += hist[: self.num_classes]
            counts[-1] += hist[IGNORE_INDEX]
        return counts

    def __repr__(self) -> str:
        return (f"LabelledDataset({self.root}, {len(self)} samples, {self.layout}, "
                f"{self.num_classes} classes)")


def open_labelled(
    path: str | Path,
    classes_yaml: str | Path | None = None,
    split: str | None = None,
    to_cityscapes: bool = False,
) -> LabelledDataset:
    """Open a labelled dataset folder, detecting its layout; files are read on access.

    path: a Cityscapes-format root (or its `leftImg8bit/`), or a folder with `images/` and
    `labels/` (or with sub-folders that have them, `split` picking one). classes_yaml: the class
    map of the labels; needed for generic folders unless a `classes.yaml` sits in the folder or up
    to three parents; for Cityscapes folders it replaces the built-in labelIds mapping.
    to_cityscapes: map the labels to the 19 Cityscapes train ids (via `cityscapes_train_id`).
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise UserError(f"data folder {root} does not exist; pass an existing dataset folder")
    if not root.is_dir():
        raise UserError(
            f"data path {root} is a file; pass a dataset folder (Cityscapes-format, or with "
            "images/ and labels/)"
        )
    classmap = ClassMap.from_yaml(classes_yaml) if classes_yaml is not None else None

    cs_root = cityscapes_root(root)
    if cs_root is not None:
        items = find_cityscapes_items(cs_root, split, classmap)
        space = classmap if classmap is not None else ClassMap.cityscapes_train_ids()
        if to_cityscapes and not space.cityscapes_space:
            space = space.to_cityscapes()
            items = [_with_map(item, space) for item in items]
        return LabelledDataset(items, cs_root, space, "cityscapes")

    subsets = folder_subsets(root, split)
    if subsets is None:
        wanted = f"{split}/images/ or " if split else ""
        raise UserError(
            f"no images found in {root}: searched leftImg8bit/<split>/<city>/*_leftImg8bit.png "
            f"(Cityscapes format), {wanted}images/ + labels/, and */images/"
        )
    if classmap is None:
        found = find_class_map(root)
        if found is None:
            raise UserError(
                f"labels in {root} need a class map: pass --classes YAML (no classes.yaml in "
                f"{root} or its parents)"
            )
        classmap = ClassMap.from_yaml(found)
    if to_cityscapes:
        classmap = classmap.to_cityscapes()
    return LabelledDataset(find_folder_items(subsets, classmap), root, classmap, "folder")


def open_labelled_for_model(
    path: str | Path,
    class_names: Sequence[str],
    classes_yaml: str | Path | None = None,
    split: str | None = None,
) -> LabelledDataset:
    """Open a labelled dataset in a model's classes, or refuse with what to pass instead.

    A model in the 19 Cityscapes classes reads labels of another class map (CamVid's, YCOR's)
    through the map's `cityscapes_train_id` entries; any other model needs labels in its own
    classes. Comparing a model with labels of other classes would only produce figures of
    nothing, so that is an error naming both class lists.
    """
    wanted = tuple(class_names)
    dataset = open_labelled(path, classes_yaml=classes_yaml, split=split)
    if tuple(dataset.class_names) != wanted and wanted == CITYSCAPES_CLASSES:
        try:  # a Cityscapes-space model on labels of another map, compared through it
            dataset = open_labelled(path, classes_yaml=classes_yaml, split=split,
                                    to_cityscapes=True)
        except UserError:
            pass  # no class of the map names a Cityscapes id: refused below
    if tuple(dataset.class_names) != wanted:
        raise UserError(
            f"the labels of {path} are in {dataset.num_classes} classes "
            f"({_names(dataset.class_names)}), the model's outputs in {len(wanted)} "
            f"({_names(wanted)}); pass the class map the model was trained with (--classes) "
            "and frames labelled with it")
    return dataset


def _names(names: Sequence[str], shown: int = 4) -> str:
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")


def _with_map(item: LabelledItem, classmap: ClassMap) -> LabelledItem:
    return LabelledItem(item.name, item.image_path, item.label_path, classmap, item.anomaly_path)
