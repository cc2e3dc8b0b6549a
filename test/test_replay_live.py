"""Live mode: pairing by stamp (no ROS), then the real node over real DDS with labels playing.

The DDS test starts the node as its own process, publishes camera frames, labels and the domain
like `ros2 bag play` of a synth bag would, runs `run_live` in this process (its own context) and
checks the live metrics equal an offline evaluation of the same model on the same frames.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from replay_fixtures import one_torch_thread  # noqa: F401

from uncertainty_seg_node.classes import CITYSCAPES_PALETTE
from uncertainty_seg_node.metrics import Evaluator
from uncertainty_seg_node.replay.evaluation import ReplayEvaluation
from uncertainty_seg_node.replay.live import LiveSynchronizer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

H, W = 30, 60


def _evaluation(gamma: float = 0.5) -> ReplayEvaluation:
    return ReplayEvaluation(19, CITYSCAPES_PALETTE, gamma=gamma)


def test_synchronizer_pairs_out_of_order_topics_and_bounds_memory() -> None:
    rng = np.random.default_rng(0)
    evaluation = _evaluation()
    sync = LiveSynchronizer(evaluation, window=4)
    reference = Evaluator(19, 255, 0.5)
    frames = []
    for stamp in range(10, 16):
        ids = rng.integers(0, 19, (H, W)).astype(np.uint8)
        conf = rng.random((H, W)).astype(np.float32)
        labels = rng.integers(0, 19, (H, W)).astype(np.uint8)
        frames.append((stamp, ids, conf, labels))
        reference.update(ids, conf, labels)
    # Labels first for all, then outputs in reverse order: pairing is by stamp, not arrival.
    sync.set_domain("fog")
    for stamp, _, conf, labels in frames[:4]:
        assert not sync.add("labels", stamp, labels)
        assert not sync.add("certain_mask", stamp, np.where(conf > 0.5, 255, 0).astype(np.uint8))
    for stamp, ids, conf, _ in reversed(frames[:4]):
        assert not sync.add("confidence", stamp, conf)
        assert sync.add("segmentation", stamp, ids)
    for stamp, ids, conf, labels in frames[4:]:
        sync.add("segmentation", stamp, ids)
        sync.add("labels", stamp, labels)
        sync.add("certain_mask", stamp, np.where(conf > 0.5, 255, 0).astype(np.uint8))
        assert sync.add("confidence", stamp, conf)
    assert not sync.add("labels", 12, frames[2][3])  # a late duplicate is ignored
    assert len(evaluation.frames) == 6 and sync.finish() == 0  # nothing left waiting
    got = evaluation.metrics()
    want = reference.compute()
    for key in ("maxf05", "aupr", "auroc", "miou", "ece"):
        assert got[key] == pytest.approx(want[key], abs=1e-12), key
    assert set(got["domains"]) == {"fog"}
    # A stream of stamps that never complete does not pile up.
    for stamp in range(100, 200):
        sync.add("segmentation", stamp, frames[0][1])
    assert len(sync._pending) <= 4 and sync.dropped >= 96


@pytest.mark.ros
@pytest.mark.slow
def test_live_evaluation_of_the_running_node_over_dds(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("rclpy")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the node process too (see replay_fixtures)
    import torch
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    from uncertainty_seg_node.config import model_config_for
    from uncertainty_seg_node.inference.factory import load_predictor
    from uncertainty_seg_node.model.checkpoint import save_checkpoint
    from uncertainty_seg_node.model.segmenter import Segmenter
    from uncertainty_seg_node.replay.live import LiveOptions, write_live_report
    from uncertainty_seg_node.ros_drivers.harness import GraphClient, NodeProcess, make_image
    from uncertainty_seg_node.ros_drivers.live import run_live

    torch.manual_seed(0)
    model = save_checkpoint(tmp_path / "tiny.pt",
                            Segmenter(model_config_for("tiny", input_size=(28, 56))))
    domain_id = random.randint(101, 200)
    params = Path(__file__).resolve().parents[1] / "config" / "params.yaml"
    node = NodeProcess({"model_path": str(model), "image_topic": "/camera/image_raw"},
                       domain_id=domain_id, params_file=params,
                       log_path=tmp_path / "node.log").start()
    evaluation = _evaluation(gamma=0.5)
    stop = threading.Event()
    facts: dict = {}
    live = threading.Thread(target=lambda: facts.update(run_live(
        evaluation, LiveOptions(domain_id=domain_id, gamma=0.5), stop)))
    live.start()
    client = GraphClient(domain_id)
    try:
        assert client.wait_until_connected(60.0), node.output()
        assert client.wait_input_reliable(10.0), node.output()
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        labels_pub = client.node.create_publisher(Image, "/camera/labels", qos)
        domain_pub = client.node.create_publisher(String, "/camera/domain", qos)
        deadline = time.monotonic() + 20.0
        while labels_pub.get_subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for discovery of the live evaluator, not an assertion
        rng = np.random.default_rng(3)
        reference = Evaluator(19, 255, 0.5)
        predictor = load_predictor(model)
        images = [rng.integers(0, 255, (H, W, 3)).astype(np.uint8) for _ in range(5)]
        expected = [predictor.predict(image) for image in images]
        # The node's gamma changes at run time (to the median confidence, so about half the
        # pixels are certain); the evaluation, told 0.5, must follow the node's own mask.
        gamma = float(np.median(np.concatenate([e.confidence.ravel() for e in expected])))
        assert client.set_parameters({"gamma": gamma})[0].successful
        node_certain = [float((e.confidence > gamma).mean()) for e in expected]
        at_half = [float((e.confidence > 0.5).mean()) for e in expected]
        for i, (image, prediction) in enumerate(zip(images, expected)):
            stamp = 1_700_000_000 * 10**9 + i * 50_000_000
            labels = rng.integers(0, 19, (H, W)).astype(np.uint8)
            domain_pub.publish(String(data="day" if i < 3 else "night"))
            labels_pub.publish(make_image(labels, "mono8", stamp, "camera"))
            key = client.publish_image(image, "rgb8", stamp, "camera")
            outputs = client.wait_outputs(key, ("segmentation", "confidence"), timeout=30.0)
            assert {"segmentation", "confidence"} <= set(outputs), node.output()
            reference.update(prediction.class_ids, prediction.confidence, labels)
        deadline = time.monotonic() + 20.0
        while len(evaluation.frames) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        live.join(30.0)
        client.close()
        assert node.stop(signal.SIGINT) == 0, node.output()
    assert len(evaluation.frames) == 5, facts
    got, want = evaluation.metrics(), reference.compute()
    for key in ("maxf05", "p_ac_at_maxf05", "aupr", "auroc", "miou"):
        assert got[key] == pytest.approx(want[key], abs=1e-9), key
    assert got["domains"]["day"]["frames"] == 3 and got["domains"]["night"]["frames"] == 2
    assert [f.certain_fraction for f in evaluation.frames] == pytest.approx(node_certain)
    # ... which differs from what the evaluation's own gamma (0.5) would give:
    assert [f.certain_fraction for f in evaluation.frames] != pytest.approx(at_half)
    doc = write_live_report(evaluation, facts, tmp_path / "report")
    assert doc["run"]["mode"] == "live" and (tmp_path / "report" / "index.html").is_file()


def _tiny_model(tmp_path: Path, gamma: float) -> Path:
    from uncertainty_seg_node.config import model_config_for
    from uncertainty_seg_node.model.checkpoint import save_checkpoint
    from uncertainty_seg_node.model.segmenter import Segmenter

    config = model_config_for("tiny", input_size=(28, 56))
    config.default_gamma = gamma
    return Path(save_checkpoint(tmp_path / "tiny.pt", Segmenter(config)))


def test_live_cli_refuses_to_run_without_the_nodes_model(tmp_path: Path) -> None:
    from uncertainty_seg_node.cli.main import main

    code = main(["replay", "--live", "--report", str(tmp_path / "report"), "--duration", "1"])
    assert code == 2 and not (tmp_path / "report").exists()


@pytest.mark.ros
def test_live_cli_with_nothing_playing_writes_an_empty_report_at_the_models_gamma(
        tmp_path: Path) -> None:
    pytest.importorskip("rclpy")
    import json

    from uncertainty_seg_node.cli.main import main

    report = tmp_path / "report"
    code = main(["replay", "--live", "--model", str(_tiny_model(tmp_path, 0.813)), "--report",
                 str(report), "--duration", "0.5", "--ros-domain-id",
                 str(random.randint(201, 230))])
    assert code == 0
    doc = json.loads((report / "metrics.json").read_text())
    assert doc["labelled"] is False and doc["run"]["frames"] == 0
    assert doc["run"]["stopped"].startswith("duration")
    assert doc["run"]["gamma"] == pytest.approx(0.813)
    assert any("no complete frame" in w for w in doc["warnings"])


@pytest.mark.ros
def test_live_idle_timeout_runs_before_the_first_frame(tmp_path: Path) -> None:
    """Nothing ever plays: the idle timeout ends the run, long before the --duration backstop."""
    pytest.importorskip("rclpy")
    import json

    from uncertainty_seg_node.cli.main import main

    report = tmp_path / "report"
    code = main(["replay", "--live", "--model", str(_tiny_model(tmp_path, 0.5)), "--report",
                 str(report), "--idle-timeout", "1", "--duration", "20", "--ros-domain-id",
                 str(random.randint(201, 230))])
    assert code == 0
    assert json.loads((report / "metrics.json").read_text())["run"]["stopped"] == (
        "no message for 1 s")
