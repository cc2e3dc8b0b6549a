"""int8 dynamic quantisation of an exported model: metadata kept, and the ship test measured.

The gate runs on the user's own labelled frames for a model in its own classes (an 11-class
CamVid-map model here), and refuses a model whose classes the frames are not labelled in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from inference_fixtures import labelled_folder, tiny_checkpoint

from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.data.classmap import ClassMap
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.onnx_export import export_onnx
from uncertainty_seg_node.export.quantize import quantize_onnx
from uncertainty_seg_node.imageops import resize_image, resize_labels
from uncertainty_seg_node.inference.factory import load_predictor
from uncertainty_seg_node.inference.ort_backend import OrtPredictor
from uncertainty_seg_node.inference.quantize_check import (
    MAX_AUPR_CHANGE,
    MIN_LABEL_AGREEMENT,
    model_gate_frames,
    quantization_check,
)
from uncertainty_seg_node.metrics.evaluator import Evaluator
from uncertainty_seg_node.model.artifact import read_onnx_metadata
from uncertainty_seg_node.synth import DOMAINS, render_frames

SIZE = (112, 154)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("quant")
    checkpoint = tiny_checkpoint(root / "tiny.pt", size=SIZE)
    return export_onnx(checkpoint, root / "tiny.onnx", parity=False).path


def test_quantized_model_keeps_interface_and_metadata(exported: Path, tmp_path: Path) -> None:
    int8 = quantize_onnx(exported, tmp_path / "tiny.int8.onnx")
    config, _ = read_onnx_metadata(exported)
    config8, _ = read_onnx_metadata(int8)
    assert config8 == config
    import onnx

    ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
    assert "DynamicQuantizeLinear" in ops or "MatMulInteger" in ops
    prediction = load_predictor(int8).predict(render_frames("fog", 1, (60, 80), 0).__next__()
                                              .image)
    assert prediction.class_ids.shape == (60, 80)


def test_quantization_check_measures_agreement_aupr_and_speed(exported: Path,
                                                              tmp_path: Path) -> None:
    int8 = quantize_onnx(exported, tmp_path / "tiny.int8.onnx")
    frames = list(render_frames("city-day", 3, SIZE, 4))
    images, labels = [f.image for f in frames], [f.labels for f in frames]
    same = quantization_check(exported, exported, images, labels, threads=1, repeats=1)
    assert same["label_agreement"] == 1.0 and same["aupr_change"] == 0.0 and same["ships"]
    result = quantization_check(exported, int8, images, labels, threads=1, repeats=1)
    assert 0.5 < result["label_agreement"] <= 1.0
    assert 0.0 <= result["aupr_int8"] <= 1.0 and result["speedup"] > 0
    assert result["ships"] == (result["label_agreement"] >= 0.99
                               and result["aupr_change"] < 0.005)
    unlabelled = quantization_check(exported, int8, images, None, threads=1, repeats=1)
    assert "aupr_change" not in unlabelled and not unlabelled["ships"]


# -- a model in its own classes, gated on its own labelled frames -------------------------
CAMVID_YAML = Path(__file__).resolve().parents[1] / "config" / "classes_example.yaml"
SIZE_11 = (56, 84)  # the network of the 11-class model; its frames are 60x80 (4:3)
FRAMES_11 = 5


def _camvid_map() -> ClassMap:
    return ClassMap.from_yaml(CAMVID_YAML)


@pytest.fixture(scope="module")
def camvid_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model in CamVid's 11 classes (names and colours of the class map), exported."""
    root = tmp_path_factory.mktemp("quant11")
    classmap = _camvid_map()
    checkpoint = tiny_checkpoint(root / "camvid.pt", size=SIZE_11, seed=3,
                                 class_names=classmap.class_names, palette=classmap.palette)
    return export_onnx(checkpoint, root / "camvid.onnx", parity=False).path


@pytest.fixture(scope="module")
def camvid_frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """images/ + labels/ of synthetic street frames, labelled in CamVid's raw ids (11 = void)."""
    root = tmp_path_factory.mktemp("frames11")
    (root / "images").mkdir()
    (root / "labels").mkdir()
    classmap = _camvid_map()
    to_camvid = np.full(256, 11, np.uint8)  # Cityscapes train id -> CamVid raw id
    for entry in classmap.classes:
        if entry.cityscapes_train_id is not None:
            to_camvid[entry.cityscapes_train_id] = entry.id
    for i, frame in enumerate(render_frames("city-day", FRAMES_11, (60, 80), 5)):
        cv2.imwrite(str(root / "images" / f"f{i:03d}.png"), frame.image[..., ::-1])
        cv2.imwrite(str(root / "labels" / f"f{i:03d}.png"), to_camvid[frame.labels])
    return root


def _quantize(*options: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["quantize", "--threads", "1", *options])
    return code, err.getvalue()


def test_quantize_gates_an_11_class_model_on_its_own_frames(
        camvid_model: Path, camvid_frames: Path, tmp_path: Path) -> None:
    int8, report = tmp_path / "camvid.int8.onnx", tmp_path / "gate.json"
    code, err = _quantize("--model", str(camvid_model), "--data", str(camvid_frames),
                          "--classes", str(CAMVID_YAML), "--out", str(int8), "--json",
                          str(report))
    assert code == 0, err
    result = json.loads(report.read_text())
    assert result["classes"] == 11 and result["frames"] == FRAMES_11
    assert result["gate_frames"] == f"{camvid_frames}: {FRAMES_11} of {FRAMES_11} labelled frames"
    assert read_onnx_metadata(int8)[0].class_names == _camvid_map().class_names
    assert result["ships"] == (result["label_agreement"] >= MIN_LABEL_AGREEMENT
                               and result["aupr_change"] < MAX_AUPR_CHANGE)

    # The same figures, measured here from the files on disk: the gate ran on these frames,
    # resized to the network as evaluation does, with the labels in the model's train ids.
    classmap = _camvid_map()
    fp32_net, int8_net = OrtPredictor(camvid_model, threads=1), OrtPredictor(int8, threads=1)
    config = fp32_net.config
    evaluator = Evaluator(config.num_classes, config.ignore_index, config.default_gamma)
    agree = total = 0
    for name in sorted(p.name for p in (camvid_frames / "images").iterdir()):
        rgb = cv2.imread(str(camvid_frames / "images" / name))[..., ::-1]
        raw = cv2.imread(str(camvid_frames / "labels" / name), cv2.IMREAD_UNCHANGED)
        image = resize_image(np.ascontiguousarray(rgb), SIZE_11)
        labels = resize_labels(classmap.map_labels(raw), SIZE_11)
        ref = fp32_net.run_network(image[None])
        out = int8_net.run_network(image[None])
        agree += int((ref.class_ids == out.class_ids).sum())
        total += ref.class_ids.size
        evaluator.update(ref.class_ids[0], ref.confidence[0], labels, None)
    assert result["label_agreement"] == pytest.approx(agree / total, abs=1e-12)
    assert result["aupr_fp32"] == pytest.approx(float(evaluator.compute()["aupr"]), abs=1e-9)


def test_an_11_class_model_without_its_frames_is_refused(camvid_model: Path,
                                                         tmp_path: Path) -> None:
    code, err = _quantize("--model", str(camvid_model), "--out", str(tmp_path / "x.onnx"))
    assert code == 2 and "--data" in err and "--classes" in err and "11 classes" in err
    assert not (tmp_path / "x.onnx").exists()


def test_frames_in_other_classes_are_refused(camvid_model: Path, tmp_path: Path) -> None:
    three = labelled_folder(tmp_path / "three")  # sky, road, car
    code, err = _quantize("--model", str(camvid_model), "--data", str(three),
                          "--out", str(tmp_path / "x.onnx"))
    assert code == 2 and "3 classes (sky, road, car)" in err and "11" in err
    assert not (tmp_path / "x.onnx").exists()


def test_a_cityscapes_model_keeps_the_synthetic_default(exported: Path, tmp_path: Path) -> None:
    report = tmp_path / "gate.json"
    code, err = _quantize("--model", str(exported), "--out", str(tmp_path / "cs.int8.onnx"),
                          "--frames-per-domain", "1", "--json", str(report))
    assert code == 0, err
    result = json.loads(report.read_text())
    assert result["gate_frames"].startswith("synthetic: 1 frames of each of")
    assert result["frames"] == len(DOMAINS) and result["classes"] == 19


def test_a_cityscapes_model_reads_other_labels_through_their_cityscapes_ids(
        exported: Path, camvid_frames: Path) -> None:
    config, _ = read_onnx_metadata(exported)
    frames = model_gate_frames(config, camvid_frames, CAMVID_YAML, max_frames=2)
    assert len(frames.images) == 2 and frames.images[0].shape == (*SIZE, 3)
    used = set(np.unique(np.concatenate([lab.ravel() for lab in frames.labels]))) - {255}
    cityscapes_ids = {e.cityscapes_train_id for e in _camvid_map().classes}
    assert used and used <= cityscapes_ids
    with pytest.raises(UserError, match="the class map the model was trained with"):
        model_gate_frames(dataclasses.replace(config, class_names=("a", "b"),
                                              palette=((0, 0, 0), (1, 1, 1))), camvid_frames,
                          CAMVID_YAML)
