"""The managed node as its own process, driven over its lifecycle services from this one.

Every transition with lifecycle_msgs ChangeState / GetState (what a lifecycle manager calls): a
configure that fails on a bad model path, then succeeds once the parameter is fixed; frames are
published only while active, with the input header; deactivate leaves the topics silent;
cleanup frees the model; shutdown ends the process from unconfigured and from active.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("lifecycle_msgs")

from uncertainty_seg_node.ros_drivers.harness import (  # noqa: E402
    GraphClient,
    NodeProcess,
    key_of,
)
from uncertainty_seg_node.ros_drivers.lifecycle_client import LifecycleClient  # noqa: E402

pytestmark = pytest.mark.ros

MAIN = ("certain_mask", "segmentation", "confidence")
LIFECYCLE = "uncertainty_seg_lifecycle_node"
FRAME = np.random.default_rng(3).integers(0, 256, (30, 40, 3), dtype=np.uint8)
_STAMP = iter(range(1, 10**6))


def start_managed(params: dict[str, object], domain: int, params_file: Path,
                  log: Path) -> NodeProcess:
    return NodeProcess({"diagnostics_period": 0.2, **params}, domain_id=domain,
                       params_file=params_file, log_path=log, executable=LIFECYCLE).start()


def send_frame(client: GraphClient, frame_id: str = "cam") -> tuple[tuple[int, int], dict]:
    """Publish one frame; its outputs (all of MAIN) or {} after 15 s."""
    key = client.publish_image(FRAME, "rgb8", 1_700_000_000_000_000_000 + next(_STAMP), frame_id)
    return key, client.wait_outputs(key, MAIN, timeout=15.0)


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def diagnostics_in(client: GraphClient, state: str) -> dict[str, str]:
    """The first /diagnostics status from now on that reports lifecycle `state`."""
    return client.wait_diagnostics(lambda v: v.get("lifecycle_state") == state, timeout=10.0)


@pytest.fixture()
def graph(dds_domain: int) -> Iterator[tuple[GraphClient, LifecycleClient]]:
    client = GraphClient(dds_domain, outputs=MAIN)
    lifecycle = LifecycleClient(client.node, client.node_name)
    yield client, lifecycle
    client.close()


def test_every_transition_over_the_services(
        node_model: Path, tmp_path: Path, dds_domain: int, node_params_file: Path,
        graph: tuple[GraphClient, LifecycleClient]) -> None:
    client, lifecycle = graph
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not a model")
    process = start_managed({"model_path": str(corrupt)}, dds_domain, node_params_file,
                            tmp_path / "managed.log")
    try:
        assert lifecycle.wait_for_services(30.0), process.output()
        assert lifecycle.state() == "unconfigured"
        values = diagnostics_in(client, "unconfigured")
        assert values["_level"] == "1" and values["_message"].startswith("unconfigured")
        assert client.image_pub.get_subscription_count() == 0

        # A model that cannot load: configure fails, the node stays up and says why.
        assert not lifecycle.change("configure")
        assert lifecycle.state() == "unconfigured" and process.alive()
        values = diagnostics_in(client, "unconfigured")
        assert values["_level"] == "2" and "corrupt.onnx" in values["_message"], values
        assert "configure failed" in process.output() and str(corrupt) in process.output()

        # Fixed while unconfigured (read-only on the plain node), configure succeeds.
        assert client.set_parameters({"model_path": str(node_model)})[0].successful
        assert lifecycle.change("configure")
        assert lifecycle.state() == "inactive"
        values = diagnostics_in(client, "inactive")
        # auto serves the fastest gated pair of the runtimes installed, and logs the winner
        served = values["backend"]
        runtimes = ("onnxruntime", "openvino") if importlib.util.find_spec("openvino") else (
            "onnxruntime",)
        assert values["_level"] == "1" and served in runtimes, values
        assert f": {served} " in process.output() or f"{served} (" in process.output(), (
            process.output())
        assert values["model"] == "tiny.onnx (tiny)"
        refused = client.set_parameters({"model_path": str(corrupt)})[0]
        assert not refused.successful and "unconfigured" in refused.reason
        assert client.image_pub.get_subscription_count() == 0  # not subscribed until active

        # Active: every frame's outputs, with the input header.
        assert lifecycle.change("activate") and lifecycle.state() == "active"
        assert client.wait_until_connected(30.0), process.output()
        assert client.wait_input_reliable(15.0), process.output()
        key, outputs = send_frame(client, "cam_active")
        assert set(outputs) == set(MAIN), process.output()
        for msg in outputs.values():
            assert key_of(msg.header) == key and msg.header.frame_id == "cam_active"
        active = diagnostics_in(client, "active")
        assert active["_level"] == "0" and active["frames_published"] == "1", active

        # Inactive: unsubscribed, nothing published, diagnostics say so.
        assert lifecycle.change("deactivate") and lifecycle.state() == "inactive"
        assert wait_until(lambda: client.image_pub.get_subscription_count() == 0)
        published = dict(client.counts)
        keys = [client.publish_image(FRAME, "rgb8", 10_000 + n, "cam_inactive")
                for n in range(3)]
        values = diagnostics_in(client, "inactive")  # sent after the frames above
        assert values["_message"].startswith("inactive") and values["_level"] == "1"
        assert values["frames_received"] == active["frames_received"]
        assert values["frames_published"] == "1"
        assert client.counts == published
        assert all(client.outputs_for(k) == {} for k in keys)

        # Active again: a fresh worker publishes again.
        assert lifecycle.change("activate")
        assert client.wait_until_connected(30.0) and client.wait_input_reliable(15.0)
        assert set(send_frame(client)[1]) == set(MAIN)

        # Cleanup frees the model and destroys the output publishers.
        assert lifecycle.change("deactivate") and lifecycle.change("cleanup")
        assert lifecycle.state() == "unconfigured"
        values = diagnostics_in(client, "unconfigured")
        assert values["backend"] == "none" and values["_level"] == "1", values
        assert wait_until(lambda: client.output_publishers() == 0)

        # Shutdown from unconfigured ends the process cleanly.
        assert lifecycle.change("unconfigured_shutdown")
        assert process.process is not None and process.process.wait(30.0) == 0
    finally:
        code = process.stop()
    assert code == 0 and "Traceback" not in process.output(), process.output()


def test_a_frame_inferred_during_deactivate_publishes_nothing(
        node_model: Path, tmp_path: Path, dds_domain: int, node_params_file: Path,
        graph: tuple[GraphClient, LifecycleClient]) -> None:
    """Deactivate while a frame is in inference: none of its outputs go out, then or later."""
    client, lifecycle = graph
    process = NodeProcess(
        {"model_path": str(node_model), "diagnostics_period": 0.2}, domain_id=dds_domain,
        params_file=node_params_file, log_path=tmp_path / "slow.log", executable=LIFECYCLE,
        env={"UNCERTAINTY_SEG_TEST_FAULTS": "1"}).start()
    try:
        assert lifecycle.wait_for_services(30.0), process.output()
        assert lifecycle.change("configure") and lifecycle.change("activate")
        assert client.wait_until_connected(30.0) and client.wait_input_reliable(15.0)
        slow = client.publish_image(FRAME, "rgb8", 20_000, "fault:backend:sleep=3")
        assert client.wait_diagnostics(lambda v: v["frames_received"] == "1", timeout=10.0)
        assert lifecycle.change("deactivate")  # while the frame is held in inference
        assert lifecycle.change("activate")
        # The publishers are the same: had the held frame gone out, it would arrive first.
        assert set(send_frame(client)[1]) == set(MAIN), process.output()
        assert client.outputs_for(slow) == {}
    finally:
        code = process.stop()
    assert code == 0 and "Traceback" not in process.output(), process.output()


def test_shutdown_from_active(node_model: Path, tmp_path: Path, dds_domain: int,
                              node_params_file: Path,
                              graph: tuple[GraphClient, LifecycleClient]) -> None:
    client, lifecycle = graph
    process = start_managed({"model_path": str(node_model)}, dds_domain, node_params_file,
                            tmp_path / "active.log")
    try:
        assert lifecycle.wait_for_services(30.0), process.output()
        assert lifecycle.change("configure") and lifecycle.change("activate")
        assert client.wait_until_connected(30.0) and client.wait_input_reliable(15.0)
        assert set(send_frame(client)[1]) == set(MAIN), process.output()
        assert lifecycle.change("active_shutdown")
        assert process.process is not None and process.process.wait(30.0) == 0
        assert "shut down from active" in process.output()
    finally:
        code = process.stop()
    assert code == 0 and "Traceback" not in process.output(), process.output()
