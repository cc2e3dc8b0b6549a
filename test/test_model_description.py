"""What the node logs about its model at start: classes, input size, training data, a warning."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

from uncertainty_seg_node.config import ModelConfig, model_config_for
from uncertainty_seg_node.model.description import (
    TUTORIAL,
    describe_model,
    synthetic_only,
    training_data,
)

REPO = Path(__file__).resolve().parents[1]


def _shipped_config(name: str) -> ModelConfig:
    """The ModelConfig in a shipped delta file's header (read as bytes: no torch needed)."""
    data = (REPO / "models" / name).read_bytes()
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + length])
    return ModelConfig.from_json(header["__metadata__"]["config"])


def test_the_shipped_default_model_says_it_is_synthetic_only() -> None:
    description = describe_model(_shipped_config("default.delta.safetensors"))
    assert description.synthetic_only
    first, trained = description.info
    assert first.startswith("model: vits14, 19 classes (road, sidewalk, building,")
    assert "network input 168x224 (HxW)" in first
    # make_default_model.sh's WORKDIR/data/source (the run's folder is the maker's choice)
    assert re.search(r"400 labelled frames from \S+/data/source ", trained), trained
    assert "stage task" in trained  # f_theta ships as the default (the model card's rule)
    assert "synthetic frames only" in description.warning and TUTORIAL in description.warning
    assert (REPO / TUTORIAL).is_file()
    compare = describe_model(_shipped_config("compare.delta.safetensors"))
    assert compare.synthetic_only
    assert re.search(r"400 unlabelled frames from \S+/data/unlabelled", compare.info[1])


def test_real_data_gets_no_warning() -> None:
    config = model_config_for("tiny", input_size=(56, 112))
    config.provenance = {"stage": "task", "data": "/data/camvid", "labelled_images": 367,
                         "steps": 2000}
    description = describe_model(config)
    assert not description.synthetic_only and description.warning == ""
    assert description.info[1] == ("trained on 367 labelled frames from /data/camvid "
                                   "(stage task, 2000 steps)")


def test_synthetic_labels_with_real_unlabelled_frames_are_not_synthetic_only() -> None:
    provenance = {"data": "runs/synth/data/source", "unlabelled": "bags/route_12.mcap",
                  "unlabelled_topic": "/camera/image_raw"}
    assert not synthetic_only(provenance)
    teacher_real = {"data": "runs/synth/data/source",
                    "teacher_provenance": {"data": "/data/cityscapes"}}
    assert not synthetic_only(teacher_real)
    assert synthetic_only({"data": "runs/synth/data/source",
                           "teacher_provenance": {"data": "runs/synth/data/source"}})


def test_an_explicit_record_decides_and_nothing_recorded_is_said() -> None:
    assert synthetic_only({"data": "/data/camvid", "synthetic": True})
    assert not synthetic_only({"data": "runs/synth/data/source", "synthetic": False})
    assert not synthetic_only({})
    assert training_data({}) == "data not recorded in the model's provenance"
    description = describe_model(model_config_for("tiny"))
    assert description.warning == "" and "not recorded" in description.info[1]
