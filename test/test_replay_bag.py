"""Replay real bags (rosbags, both storages, raw + compressed, with and without labels).

Each test writes a small bag, replays it with a tiny random checkpoint, reopens the output bag
and checks topics, stamps, frame ids and counts; metrics are checked against scikit-learn on the
pixels read back from the output bag.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from inference_fixtures import tiny_checkpoint
from replay_fixtures import one_torch_thread  # noqa: F401

from uncertainty_seg_node.bags.bag_io import BagWriter, list_topics, read_arrays, read_strings
from uncertainty_seg_node.inference.factory import load_predictor
from uncertainty_seg_node.replay.replay import ReplayOptions, replay
from uncertainty_seg_node.replay.report import write_report
from uncertainty_seg_node.visualize import OUTPUT_ENCODINGS

pytestmark = pytest.mark.usefixtures("one_torch_thread")

START = 1_700_000_000 * 10**9
STEP = 50_000_000
H, W = 42, 84
NS = "/uncertainty_seg_node"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt", seed=0,
                           size=(56, 112), default_gamma=0.1)


@pytest.fixture(scope="module")
def predictor(tiny_model: Path):  # type: ignore[no-untyped-def]
    return load_predictor(tiny_model)


def write_bag(path: Path, storage: str, n: int, *, compressed: bool = False,
              labels: bool = True, domains: tuple[str, ...] = (), seed: int = 0) -> list[int]:
    """A camera bag like `synth --bag` writes; returns the stamps."""
    rng = np.random.default_rng(seed)
    stamps = [START + i * STEP for i in range(n)]
    with BagWriter(path, storage) as writer:
        for i, stamp in enumerate(stamps):
            image = rng.integers(0, 255, (H, W, 3)).astype(np.uint8)
            if compressed:
                writer.write_compressed("/camera/image_raw/compressed", stamp, "cam", image, "png")
            else:
                writer.write_image("/camera/image_raw", stamp, "cam", image, "bgr8")
            if labels:
                lab = rng.integers(0, 19, (H, W)).astype(np.uint8)
                lab[:3] = 255
                writer.write_labels("/camera/labels", stamp, "cam", lab)
                anomaly = np.zeros((H, W), np.uint8)
                anomaly[:3, :10] = 255
                writer.write_image("/camera/anomaly", stamp, "cam", anomaly, "mono8")
            if domains:
                writer.write_string("/camera/domain", stamp, domains[i * len(domains) // n])
    return stamps


def _messages(bag: Path, topic: str) -> list:
    return list(read_arrays(bag, topic))


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_raw_bag_with_labels_and_domains(tmp_path: Path, predictor, storage: str) -> None:
    bag = tmp_path / "in"
    stamps = write_bag(bag, storage, 6, domains=("city-day", "fog"))
    out = tmp_path / "out"
    result = replay(predictor, ReplayOptions(
        bag=bag, image_topic="/camera/image_raw", out=out, label_topic="/camera/labels",
        progress=False))
    assert result.frames == 6 and result.labelled_frames == 6 and result.stopped is None
    assert result.sources["anomaly_topic"] == "/camera/anomaly"

    topics = list_topics(out)
    assert (out / "metadata.yaml").is_file() and list(out.glob("*.mcap"))
    for name, encoding in OUTPUT_ENCODINGS.items():
        msgs = _messages(out, f"{NS}/{name}")
        assert [m.stamp_ns for m in msgs] == stamps
        assert {m.frame_id for m in msgs} == {"cam"}
        assert {m.encoding for m in msgs} == {encoding}
        assert msgs[0].image.shape[:2] == (H, W)
    assert "/camera/image_raw" in topics and "/camera/labels" in topics
    assert [m.stamp_ns for m in _messages(out, "/camera/image_raw")] == stamps
    assert [t for t, _ in read_strings(out, "/camera/domain")] == stamps

    # Metrics equal scikit-learn's on the pixels read back from the output bag.
    sk = pytest.importorskip("sklearn.metrics")
    seg = _messages(out, f"{NS}/segmentation")
    conf = _messages(out, f"{NS}/confidence")
    labels = _messages(out, "/camera/labels")
    accurate, scores = [], []
    for s, c, lab in zip(seg, conf, labels):
        valid = lab.image != 255
        accurate.append((s.image == lab.image)[valid])
        scores.append(c.image[valid])
    acc = np.concatenate(accurate)
    grid = np.rint(np.concatenate(scores).astype(np.float64) * 9999) / 9999
    metrics = result.evaluation.metrics()
    assert metrics["aupr"] == pytest.approx(sk.average_precision_score(acc, grid), abs=1e-9)
    assert metrics["auroc"] == pytest.approx(sk.roc_auc_score(acc, grid), abs=1e-9)
    assert metrics["accuracy"] == pytest.approx(acc.mean())
    assert set(metrics["domains"]) == {"city-day", "fog"}
    assert metrics["domains"]["fog"]["frames"] == 3
    assert "anomaly_auroc" in metrics
    certain = _messages(out, f"{NS}/certain_mask")
    for c, m in zip(conf, certain):
        assert np.array_equal(m.image > 0, c.image > 0.1)


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_compressed_bag_without_labels(tmp_path: Path, predictor, storage: str) -> None:
    bag = tmp_path / "in"
    stamps = write_bag(bag, storage, 4, compressed=True, labels=False)
    out = tmp_path / "out"
    result = replay(predictor, ReplayOptions(
        bag=bag, image_topic="/camera/image_raw/compressed", out=out, progress=False,
        outputs=("segmentation", "confidence")))
    assert result.frames == 4 and result.labelled_frames == 0
    assert any("no ground truth" in w for w in result.warnings)
    topics = list_topics(out)
    assert topics["/camera/image_raw/compressed"] == "sensor_msgs/msg/CompressedImage"
    assert set(topics) == {"/camera/image_raw/compressed", f"{NS}/segmentation",
                           f"{NS}/confidence"}
    assert [m.stamp_ns for m in _messages(out, f"{NS}/confidence")] == stamps
    report = tmp_path / "report"
    doc = write_report(report, result.evaluation, facts=result.facts(), warnings=result.warnings)
    assert doc["labelled"] is False
    assert (report / "index.html").is_file() and (report / "frames.csv").is_file()


def test_label_folder_matched_by_stamp(tmp_path: Path, predictor) -> None:
    import cv2

    bag = tmp_path / "in"
    stamps = write_bag(bag, "mcap", 5, labels=False)
    folder = tmp_path / "gt" / "gtFine" / "val" / "drive"
    folder.mkdir(parents=True)
    for stamp in stamps[1::2]:  # sparse labels: frames 1 and 3
        cv2.imwrite(str(folder / f"drive_{stamp}_gtFine_labelTrainIds.png"),
                    np.full((H, W), 2, np.uint8))
    result = replay(predictor, ReplayOptions(
        bag=bag, image_topic="/camera/image_raw", labels=tmp_path / "gt", progress=False))
    assert result.frames == 5 and result.labelled_frames == 2
    assert result.sources["label_match"] == "stamp"
    labelled = [f.index for f in result.evaluation.frames if f.labelled]
    assert labelled == [1, 3]
    assert not result.warnings


def test_metrics_json_contract_through_the_cli(tmp_path: Path, tiny_model: Path) -> None:
    from uncertainty_seg_node.cli.main import main

    bag = tmp_path / "in"
    write_bag(bag, "mcap", 3)
    report = tmp_path / "report"
    code = main(["replay", "--bag", str(bag), "--image-topic", "/camera/image_raw",
                 "--model", str(tiny_model), "--out", str(tmp_path / "out.mcap"),
                 "--label-topic", "/camera/labels", "--report", str(report),
                 "--no-progress"])
    assert code == 0
    metrics = json.loads((report / "metrics.json").read_text())
    for key in ("miou", "maxf05", "p_ac_at_maxf05", "aupr", "auroc", "fpr95", "ece", "mce",
                "dice", "per_class_iou", "anomaly_auroc"):
        assert key in metrics
    assert metrics["run"]["frames"] == 3
    assert (report / "index.html").stat().st_size > 1000
    assert len(_messages(tmp_path / "out.mcap", f"{NS}/segmentation")) == 3


def test_onnx_model_replays_like_its_checkpoint(tmp_path: Path, tiny_model: Path,
                                                predictor) -> None:  # type: ignore[no-untyped-def]
    from uncertainty_seg_node.export.onnx_export import export_onnx

    onnx = export_onnx(tiny_model, tmp_path / "tiny.onnx", parity=False).path
    bag = tmp_path / "in"
    write_bag(bag, "mcap", 3, labels=False)
    outs = {}
    for name, model in (("torch", predictor), ("onnx", load_predictor(onnx, "onnxruntime"))):
        outs[name] = tmp_path / name
        result = replay(model, ReplayOptions(bag=bag, image_topic="/camera/image_raw",
                                             out=outs[name], progress=False,
                                             outputs=("segmentation", "confidence")))
        assert result.frames == 3 and result.sources["backend"] == model.backend_name
    for a, b in zip(_messages(outs["torch"], f"{NS}/confidence"),
                    _messages(outs["onnx"], f"{NS}/confidence")):
        assert a.stamp_ns == b.stamp_ns
        np.testing.assert_allclose(a.image, b.image, atol=1e-4)
    agree = np.mean([np.mean(a.image == b.image) for a, b in zip(
        _messages(outs["torch"], f"{NS}/segmentation"),
        _messages(outs["onnx"], f"{NS}/segmentation"))])
    assert agree > 0.99
