"""Class maps: raw label ids of a dataset -> the contiguous train ids a model is trained on.

A class-map YAML (the format of `config/classes_example.yaml`)::

    ignore_index: 11                 # one id or a list of ids that mean "void"
    classes:
      - {id: 0, name: sky, color: [128, 128, 128], cityscapes_train_id: 10}
      - {id: 1, name: building, color: [128, 0, 0], cityscapes_train_id: 2}

The listed order defines the train ids 0..K-1. Raw id 255 is always ignore as well (it is the
ignore value of every label map this package writes). A raw id that is neither a class nor
ignore is an error when a label map is converted: silently ignoring it would hide a wrong map.

`to_cityscapes()` gives the same raw ids mapped to the 19 Cityscapes train ids instead (classes
without `cityscapes_train_id` become ignore), so a model trained in the Cityscapes space (e.g.
on the synthetic world) can be evaluated on this dataset, and `own_to_cityscapes_lut()` maps a
model's predictions in the dataset's own space to Cityscapes ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from uncertainty_seg_node.classes import (
    CITYSCAPES_CLASSES,
    CITYSCAPES_PALETTE,
    IGNORE_INDEX,
    LABEL_ID_TO_TRAIN_ID,
)
from uncertainty_seg_node.errors import UserError

Color = tuple[int, int, int]


@dataclass(frozen=True)
class ClassEntry:
    """One class of a dataset: its raw label id, name, colour and optional Cityscapes train id."""

    id: int
    name: str
    color: Color
    cityscapes_train_id: int | None = None


class ClassMap:
    """A lookup from raw label ids to train ids (contiguous 0..K-1, ignore -> 255)."""

    def __init__(
        self,
        classes: tuple[ClassEntry, ...],
        ignore_ids: frozenset[int] = frozenset(),
        *,
        source: str = "class map",
        cityscapes_space: bool = False,
    ) -> None:
        if not classes:
            raise UserError(f"{source}: no classes; list at least one under `classes:`")
        self.classes = classes
        self.ignore_ids = frozenset(ignore_ids) | {IGNORE_INDEX}
        self.source = source
        self.cityscapes_space = cityscapes_space
        lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
        known = np.zeros(256, dtype=bool)
        known[sorted(self.ignore_ids)] = True
        for train_id, entry in enumerate(classes):
            known[entry.id] = True
            if cityscapes_space:
                cs = entry.cityscapes_train_id
                lut[entry.id] = IGNORE_INDEX if cs is None else cs
            else:
                lut[entry.id] = train_id
        self.lut = lut
        self.known = known

    # -- the output label space -------------------------------------------------------------
    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the train ids this map produces."""
        if self.cityscapes_space:
            return CITYSCAPES_CLASSES
        return tuple(c.name for c in self.classes)

    @property
    def palette(self) -> tuple[Color, ...]:
        """RGB colour per train id."""
        if self.cityscapes_space:
            return CITYSCAPES_PALETTE
        return tuple(c.color for c in self.classes)

    @property
    def num_classes(self) -> int:
        """Number of train ids (K)."""
        return len(self.class_names)

    # -- conversions --------------------------------------------------------------------------
    def to_cityscapes(self) -> ClassMap:
        """The same raw ids mapped to Cityscapes train ids (classes without one -> ignore)."""
        if self.cityscapes_space:
            return self
        if all(c.cityscapes_train_id is None for c in self.classes):
            raise UserError(
                f"{self.source}: no class has `cityscapes_train_id`; add it to the classes "
                "that exist in Cityscapes to evaluate in the Cityscapes label space"
            )
        return ClassMap(
            self.classes, self.ignore_ids, source=self.source, cityscapes_space=True
        )

    def own_to_cityscapes_lut(self) -> np.ndarray:
        """(256,) uint8: this map's own train ids -> Cityscapes train ids (others -> 255)."""
        lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
        for train_id, entry in enumerate(self.classes):
            if entry.cityscapes_train_id is not None:
                lut[train_id] = entry.cityscapes_train_id
        return lut

    def map_labels(self, raw: np.ndarray, where: str = "labels") -> np.ndarray:
        """Raw label ids (H, W) (uint8/uint16, or an RGB colour image) -> uint8 train ids.

        A 3-channel label image is decoded through the class colours (grey images with three
        equal channels are read as ids). Unknown ids or colours raise a UserError naming `where`.
        """
        if raw.ndim == 3:
            if raw.shape[2] == 4:
                raw = raw[:, :, :3]
            if (raw[:, :, 0] == raw[:, :, 1]).all() and (raw[:, :, 1] == raw[:, :, 2]).all():
                raw = raw[:, :, 0]
            else:
                raw = self._ids_from_colors(raw, where)
        if raw.dtype != np.uint8:
            if raw.dtype.kind not in "iu":
                raise UserError(f"{where}: label dtype {raw.dtype} is not an integer type")
            if raw.size and (int(raw.min()) < 0 or int(raw.max()) > 255):
                bad = np.unique(raw[(raw < 0) | (raw > 255)])[:10].tolist()
                raise UserError(
                    f"{where}: label ids {bad} are not in {self.source} (ids must be 0..255)"
                )
            raw = raw.astype(np.uint8)
        known = self.known[raw]
        if not known.all():
            bad = np.unique(raw[~known])[:10].tolist()
            raise UserError(
                f"{where}: label ids {bad} are not in {self.source} "
                f"(known ids {self.describe_ids()}); fix the labels or add them to the class map"
            )
        return self.lut[raw]

    def describe_ids(self) -> str:
        """Short text of the known raw ids, for messages."""
        ids = [c.id for c in self.classes]
        ignore = sorted(self.ignore_ids - {IGNORE_INDEX})
        text = f"classes {_ranges(ids)}"
        if ignore:
            text += f", ignore {_ranges(ignore)}"
        return text + ", 255"

    def _ids_from_colors(self, rgb: np.ndarray, where: str) -> np.ndarray:
        """RGB colour-coded labels (H, W, 3) uint8 RGB -> raw ids via the class colours."""
        codes = (rgb[:, :, 0].astype(np.int32) << 16) | (rgb[:, :, 1].astype(np.int32) << 8)
        codes |= rgb[:, :, 2].astype(np.int32)
        colors = {(r << 16) | (g << 8) | b: c.id for c in self.classes for r, g, b in [c.color]}
        uniq, inverse = np.unique(codes, return_inverse=True)
        ids = np.empty(len(uniq), dtype=np.uint8)
        for i, code in enumerate(uniq.tolist()):
            if code in colors:
                ids[i] = colors[code]
            elif code == 0:  # black is void unless a class claims it
                ids[i] = IGNORE_INDEX
            else:
                rgb_text = ((code >> 16) & 255, (code >> 8) & 255, code & 255)
                raise UserError(
                    f"{where}: label colour {rgb_text} is not a class colour in "
                    f"{self.source}; fix the labels or add the colour to the class map"
                )
        return ids[inverse.reshape(codes.shape)]

    # -- builders -----------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path) -> ClassMap:
        """Load and validate a class-map YAML file."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"class map {path} does not exist; pass an existing --classes YAML")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else "parse error"
            raise UserError(f"class map {path} is not valid YAML: {first}") from None
        return cls.from_dict(data, source=f"class map {path}")

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "class map") -> ClassMap:
        """Validate a parsed class map (`{ignore_index: ..., classes: [...]}`)."""
        if not isinstance(data, dict) or not isinstance(data.get("classes"), list):
            raise UserError(f"{source}: expected a mapping with a `classes:` list")
        unknown = sorted(set(data) - {"classes", "ignore_index", "name", "description"})
        if unknown:
            raise UserError(
                f"{source}: unknown top-level key(s) {unknown}; expected classes, ignore_index"
            )
        ignore_ids = frozenset(_parse_ignore(data.get("ignore_index"), source))
        entries: list[ClassEntry] = []
        seen_ids: dict[int, str] = {}
        seen_names: set[str] = set()
        for n, item in enumerate(data["classes"]):
            entry = _parse_entry(item, n, source)
            if entry.id in seen_ids:
                raise UserError(
                    f"{source}: duplicate id {entry.id} ({seen_ids[entry.id]!r} and "
                    f"{entry.name!r}); give each class its own id"
                )
            if entry.name in seen_names:
                raise UserError(f"{source}: duplicate class name {entry.name!r}")
            if entry.id in ignore_ids or entry.id == IGNORE_INDEX:
                raise UserError(
                    f"{source}: class {entry.name!r} has id {entry.id}, which is also an ignore id"
                )
            seen_ids[entry.id] = entry.name
            seen_names.add(entry.name)
            entries.append(entry)
        return cls(tuple(entries), ignore_ids, source=source)

    @classmethod
    def cityscapes_train_ids(cls) -> ClassMap:
        """Identity map for `*_labelTrainIds.png` (ids 0..18, 255 ignore)."""
        entries = tuple(
            ClassEntry(i, name, CITYSCAPES_PALETTE[i], i)
            for i, name in enumerate(CITYSCAPES_CLASSES)
        )
        return cls(entries, frozenset(), source="Cityscapes train ids", cityscapes_space=True)

    @classmethod
    def cityscapes_label_ids(cls) -> ClassMap:
        """Map for `*_gtFine_labelIds.png` (ids 0..33) to the 19 train ids; others ignore."""
        by_train = {t: label for label, t in LABEL_ID_TO_TRAIN_ID.items()}
        entries = tuple(
            ClassEntry(by_train[i], name, CITYSCAPES_PALETTE[i], i)
            for i, name in enumerate(CITYSCAPES_CLASSES)
        )
        ignore = frozenset(range(34)) - set(LABEL_ID_TO_TRAIN_ID)
        return cls(entries, ignore, source="Cityscapes label ids", cityscapes_space=True)


def _parse_ignore(value: Any, source: str) -> list[int]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 255:
            raise UserError(f"{source}: ignore_index {v!r} must be an integer id in 0..255")
    return [int(v) for v in values]


def _parse_entry(item: Any, n: int, source: str) -> ClassEntry:
    where = f"{source}: class #{n}"
    if not isinstance(item, dict):
        raise UserError(f"{where} must be a mapping like {{id: 0, name: road, color: [r, g, b]}}")
    unknown = sorted(set(item) - {"id", "name", "color", "colour", "cityscapes_train_id"})
    if unknown:
        raise UserError(f"{where}: unknown key(s) {unknown}")
    class_id = item.get("id")
    if isinstance(class_id, bool) or not isinstance(class_id, int) or not 0 <= class_id <= 254:
        raise UserError(f"{where}: `id` must be an integer in 0..254, got {class_id!r}")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"{where} (id {class_id}) has no `name`; give every class a name")
    color = item.get("color", item.get("colour"))
    if (
        not isinstance(color, (list, tuple))
        or len(color) != 3
        or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in color)
    ):
        raise UserError(
            f"{where} ({name!r}): `color` must be [r, g, b] with integers 0..255, got {color!r}"
        )
    cs = item.get("cityscapes_train_id")
    if cs is not None and (
        isinstance(cs, bool) or not isinstance(cs, int) or not (0 <= cs < 19 or cs == 255)
    ):
        raise UserError(
            f"{where} ({name!r}): cityscapes_train_id must be 0..18 or 255, got {cs!r}"
        )
    r, g, b = (int(c) for c in color)
    return ClassEntry(class_id, name.strip(), (r, g, b), None if cs is None else int(cs))


def _ranges(ids: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2,5'."""
    runs: list[list[int]] = []
    for i in sorted(set(ids)):
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
