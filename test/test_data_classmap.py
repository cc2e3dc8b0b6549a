from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from uncertainty_seg_node.classes import CITYSCAPES_CLASSES, LABEL_ID_TO_TRAIN_ID
from uncertainty_seg_node.data.classmap import ClassMap
from uncertainty_seg_node.errors import UserError

SMALL = {
    "ignore_index": 9,
    "classes": [
        {"id": 4, "name": "road", "color": [128, 64, 128], "cityscapes_train_id": 0},
        {"id": 2, "name": "sky", "color": [70, 130, 180], "cityscapes_train_id": 10},
        {"id": 7, "name": "cow", "color": [10, 20, 30]},
    ],
}


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "classes.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_listed_order_gives_contiguous_train_ids(tmp_path: Path) -> None:
    cmap = ClassMap.from_yaml(_write(tmp_path, SMALL))
    assert cmap.class_names == ("road", "sky", "cow")
    assert cmap.palette == ((128, 64, 128), (70, 130, 180), (10, 20, 30))
    raw = np.array([[4, 2, 7], [9, 255, 4]], dtype=np.uint8)
    np.testing.assert_array_equal(cmap.map_labels(raw), [[0, 1, 2], [255, 255, 0]])


def test_to_cityscapes_maps_known_and_ignores_the_rest(tmp_path: Path) -> None:
    cmap = ClassMap.from_yaml(_write(tmp_path, SMALL)).to_cityscapes()
    assert cmap.class_names == CITYSCAPES_CLASSES and cmap.num_classes == 19
    raw = np.array([[4, 2, 7, 9]], dtype=np.uint8)
    np.testing.assert_array_equal(cmap.map_labels(raw), [[0, 10, 255, 255]])
    own = ClassMap.from_yaml(_write(tmp_path, SMALL))
    assert own.own_to_cityscapes_lut()[[0, 1, 2, 255]].tolist() == [0, 10, 255, 255]


def test_unknown_ids_raise_naming_them(tmp_path: Path) -> None:
    cmap = ClassMap.from_yaml(_write(tmp_path, SMALL))
    with pytest.raises(UserError, match=r"label ids \[3, 200\] are not in class map .*"
                                        r"known ids classes 2,4,7, ignore 9, 255"):
        cmap.map_labels(np.array([[3, 4, 200]], dtype=np.uint8), where="x.png")
    with pytest.raises(UserError, match=r"label ids \[300\]"):
        cmap.map_labels(np.array([[300, 4]], dtype=np.uint16))


def test_uint16_and_colour_labels(tmp_path: Path) -> None:
    cmap = ClassMap.from_yaml(_write(tmp_path, SMALL))
    np.testing.assert_array_equal(cmap.map_labels(np.array([[4, 7]], np.uint16)), [[0, 2]])
    rgb = np.array([[[70, 130, 180], [0, 0, 0], [10, 20, 30]]], dtype=np.uint8)
    np.testing.assert_array_equal(cmap.map_labels(rgb), [[1, 255, 2]])
    with pytest.raises(UserError, match=r"label colour \(1, 2, 3\) is not a class colour"):
        cmap.map_labels(np.array([[[1, 2, 3]]], dtype=np.uint8))
    grey3 = np.repeat(np.array([[4, 2]], np.uint8)[..., None], 3, axis=2)  # ids saved as RGB
    np.testing.assert_array_equal(cmap.map_labels(grey3), [[0, 1]])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["classes"].append({"id": 4, "name": "x", "color": [0, 0, 1]}),
         "duplicate id 4"),
        (lambda d: d["classes"][0].pop("name"), "has no `name`"),
        (lambda d: d["classes"][1].update(color=[0, 300, 0]), "`color` must be"),
        (lambda d: d["classes"][1].update(color="red"), "`color` must be"),
        (lambda d: d["classes"][2].update(name="road"), "duplicate class name 'road'"),
        (lambda d: d["classes"][2].update(id=9), "also an ignore id"),
        (lambda d: d["classes"][0].update(cityscapes_train_id=40), "cityscapes_train_id"),
        (lambda d: d["classes"][0].update(colr=[1, 2, 3]), "unknown key"),
        (lambda d: d.update(ignore_index="void"), "ignore_index"),
        (lambda d: d.pop("classes"), "`classes:` list"),
    ],
)
def test_validation_errors(tmp_path: Path, change: object, message: str) -> None:
    data = yaml.safe_load(yaml.safe_dump(SMALL))
    change(data)  # type: ignore[operator]
    with pytest.raises(UserError, match=message) as info:
        ClassMap.from_yaml(_write(tmp_path, data))
    assert "\n" not in str(info.value)


def test_missing_and_broken_yaml(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        ClassMap.from_yaml(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("classes: [a, b\n")
    with pytest.raises(UserError, match="not valid YAML"):
        ClassMap.from_yaml(bad)


def test_to_cityscapes_needs_some_mapping(tmp_path: Path) -> None:
    data = {"classes": [{"id": 0, "name": "a", "color": [1, 2, 3]}]}
    with pytest.raises(UserError, match="no class has `cityscapes_train_id`"):
        ClassMap.from_yaml(_write(tmp_path, data)).to_cityscapes()


def test_cityscapes_builtin_maps() -> None:
    label_ids = ClassMap.cityscapes_label_ids()
    raw = np.arange(34, dtype=np.uint8)
    expected = [LABEL_ID_TO_TRAIN_ID.get(i, 255) for i in range(34)]
    np.testing.assert_array_equal(label_ids.map_labels(raw), expected)
    with pytest.raises(UserError, match=r"label ids \[34\]"):
        label_ids.map_labels(np.array([34], np.uint8))
    train_ids = ClassMap.cityscapes_train_ids()
    np.testing.assert_array_equal(train_ids.map_labels(np.array([0, 18, 255], np.uint8)),
                                  [0, 18, 255])
    with pytest.raises(UserError, match=r"label ids \[19\]"):
        train_ids.map_labels(np.array([19], np.uint8))


def test_real_camvid_class_map(camvid_root: Path) -> None:
    cmap = ClassMap.from_yaml(camvid_root / "classes.yaml")
    assert cmap.num_classes == 11 and cmap.class_names[0] == "sky"
    assert cmap.map_labels(np.array([11], np.uint8)).tolist() == [255]
    cs = cmap.to_cityscapes()
    # sky->10, road->0, car->13, bicyclist->12 (rider), void->255
    raw = np.array([0, 3, 8, 10, 11], np.uint8)
    assert cs.map_labels(raw).tolist() == [10, 0, 13, 12, 255]
