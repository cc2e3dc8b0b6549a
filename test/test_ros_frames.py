"""Every camera encoding, injected exceptions, camera_info, stale input and QoS overrides.

The node runs as its own process with the TEST-ONLY fault injection switched on
(`UNCERTAINTY_SEG_TEST_FAULTS=1`, see `ros/fault_injection.py`); this process talks to it over
real DDS only.
"""

from __future__ import annotations

import array
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from rclpy.qos import ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from uncertainty_seg_node.image_codec.raw import camera_array, message_fields  # noqa: E402
from uncertainty_seg_node.ros_drivers.harness import (  # noqa: E402
    GraphClient,
    NodeProcess,
    key_of,
    output_array,
    ros_time_from_ns,
)

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[1]
PARAMS = REPO / "config" / "params.yaml"
DOMAIN = random.randint(101, 200)
MAIN = ("segmentation", "confidence", "certain_mask")
COLOR = ("segmentation_color", "confidence_color")
STALE_AFTER_S = 1.0
_STAMP = iter(range(1, 10**7))


def _stamp() -> int:
    return 1_650_000_000_000_000_000 + next(_STAMP) * 1_000_003


@pytest.fixture(scope="module")
def model(node_model: Path) -> Path:
    return node_model


@pytest.fixture(scope="module")
def node(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    process = NodeProcess(
        {"model_path": str(model), "diagnostics_period": 0.2, "stale_after_s": STALE_AFTER_S,
         "camera_info_topic": "/camera/camera_info"},
        domain_id=DOMAIN, params_file=PARAMS,
        log_path=tmp_path_factory.mktemp("frames") / "node.log",
        env={"UNCERTAINTY_SEG_TEST_FAULTS": "1"},
    ).start()
    yield process
    code = process.stop(signal.SIGTERM)
    assert code == 0 and "Traceback" not in process.output(), process.output()


@pytest.fixture(scope="module")
def client(node: NodeProcess) -> Iterator[GraphClient]:
    graph = GraphClient(DOMAIN, camera_info_topic="/camera/camera_info")
    assert graph.wait_until_connected(30.0), node.output()
    assert graph.wait_input_reliable(15.0), node.output()
    yield graph
    graph.close()


@pytest.fixture(scope="module")
def reference(model: Path):  # type: ignore[no-untyped-def]
    from uncertainty_seg_node.inference.factory import load_predictor

    return load_predictor(model)


def _message(pixels: np.ndarray, encoding: str, pad: int, frame_id: str = "camera") -> Image:
    """An Image with `pad` junk bytes after every row (step honoured exactly by the node)."""
    fields = message_fields(pixels, encoding)
    rows = fields.pop("data").reshape(fields["height"], -1)
    rows = np.concatenate([rows, np.full((rows.shape[0], pad), 9, np.uint8)], axis=1)
    msg = Image(**{**fields, "step": rows.shape[1]})
    msg.header = Header(stamp=ros_time_from_ns(_stamp()), frame_id=frame_id)
    msg.data = array.array("B", rows.tobytes())
    return msg


def _pixels(encoding: str, rng: np.random.Generator) -> np.ndarray:
    shape = {"rgb8": (36, 50, 3), "bgr8": (36, 50, 3), "rgba8": (36, 50, 4),
             "bgra8": (36, 50, 4), "yuv422": (36, 50, 2), "uyvy": (36, 50, 2),
             "yuv422_yuy2": (36, 50, 2)}.get(encoding, (36, 50))
    if encoding == "mono16":
        return rng.integers(0, 65536, shape, dtype=np.uint16)
    return rng.integers(0, 256, shape, dtype=np.uint8)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16",
                                      "yuv422", "uyvy", "yuv422_yuy2", "bayer_rggb8",
                                      "bayer_bggr8", "bayer_gbrg8", "bayer_grbg8"])
def test_every_camera_encoding_is_served(client: GraphClient, reference,  # type: ignore[no-untyped-def]
                                         encoding: str) -> None:
    msg = _message(_pixels(encoding, np.random.default_rng(len(encoding))), encoding, pad=3,
                   frame_id=f"cam_{encoding}")
    client.image_pub.publish(msg)
    outputs = client.wait_outputs(key_of(msg.header), MAIN, timeout=15.0)
    assert outputs, f"{encoding}: nothing published"
    image, model_encoding = camera_array(msg)
    expected = reference.predict(image, encoding=model_encoding)
    np.testing.assert_array_equal(output_array(outputs["segmentation"]), expected.class_ids)
    np.testing.assert_allclose(output_array(outputs["confidence"]), expected.confidence,
                               atol=1e-6)
    assert outputs["certain_mask"].header.frame_id == f"cam_{encoding}"


def _failed(values: dict[str, str]) -> dict[str, int]:
    return {k[len("frames_failed_"):]: int(v) for k, v in values.items()
            if k.startswith("frames_failed_")}


def test_injected_exceptions_are_counted_and_publish_nothing(node: NodeProcess,
                                                             client: GraphClient) -> None:
    faults = [("callback", "KeyError"), ("conversion", "MemoryError"),
              ("backend", "ZeroDivisionError"), ("backend", "RuntimeError"),
              ("publish", "AssertionError"), ("color", "OSError"), ("conversion", "NoSuchError")]
    image = np.random.default_rng(8).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    before = _failed(client.wait_diagnostics(timeout=10.0))
    expected = dict(before)
    for stage, exception in faults:
        key = client.publish_image(image, "rgb8", _stamp(), f"fault:{stage}:{exception}")
        reason = "inference" if stage == "backend" else stage  # counted by the node's stage
        expected[reason] = expected.get(reason, 0) + 1
        values = client.wait_diagnostics(lambda v, e=dict(expected): _failed(v) == e,
                                         timeout=15.0)
        assert values, f"{stage}/{exception} not counted: {client.wait_diagnostics()}"
        assert exception in values["last_error"] or stage == "conversion"
        got = client.outputs_for(key)
        if stage == "color":  # the planner's outputs went out before the colour images failed
            assert set(MAIN) <= set(got) and not set(COLOR) & set(got)
        else:
            assert got == {}, f"{stage}: a failed frame published {sorted(got)}"
    key = client.publish_image(image, "rgb8", _stamp())
    assert client.wait_outputs(key, (*MAIN, *COLOR), timeout=15.0), "the node stopped serving"
    assert node.alive()
    assert "its main outputs were published, the rest was not" in node.output()


def test_camera_info_is_republished_with_each_output_stamp(client: GraphClient) -> None:
    assert client.info_pub is not None
    info = CameraInfo(width=40, height=30, distortion_model="plumb_bob")
    info.k = [50.0, 0.0, 20.0, 0.0, 50.0, 15.0, 0.0, 0.0, 1.0]
    info.header = Header(stamp=ros_time_from_ns(1), frame_id="camera_optical")
    image = np.zeros((30, 40, 3), np.uint8)
    keys = []
    deadline = time.monotonic() + 15.0
    while len(keys) < 3 and time.monotonic() < deadline:
        client.info_pub.publish(info)  # a driver sends one per frame
        key = client.publish_image(image, "rgb8", _stamp(), "camera_optical")
        outputs = client.wait_outputs(key, (*MAIN, "camera_info"), timeout=2.0)
        if outputs:
            keys.append(key)
            assert key_of(outputs["camera_info"].header) == key_of(
                outputs["certain_mask"].header) == key
            assert list(outputs["camera_info"].k) == list(info.k)
            assert outputs["camera_info"].header.frame_id == "camera_optical"
    assert len(keys) == 3, "~/camera_info did not follow the outputs"


def test_stale_input_turns_diagnostics_warn(client: GraphClient) -> None:
    key = client.publish_image(np.zeros((30, 40, 3), np.uint8), "rgb8", _stamp())
    sent = time.monotonic()
    assert client.wait_outputs(key, MAIN, timeout=15.0)
    values = client.wait_diagnostics(lambda v: v["_level"] == "0", timeout=5.0)
    assert values, "the node did not report OK while frames arrived"
    values = client.wait_diagnostics(lambda v: "stale input" in v["_message"],
                                     timeout=STALE_AFTER_S + 5.0)
    waited = time.monotonic() - sent
    assert values and values["_level"] == "1", client.wait_diagnostics()
    assert waited <= STALE_AFTER_S + 1.0, f"stale reported after {waited:.2f} s"
    key = client.publish_image(np.zeros((30, 40, 3), np.uint8), "rgb8", _stamp())
    assert client.wait_outputs(key, MAIN, timeout=15.0)
    assert client.wait_diagnostics(lambda v: "stale" not in v["_message"], timeout=5.0)


def _subscriber_reliability(client: GraphClient, namespace: str) -> list[ReliabilityPolicy]:
    return [info.qos_profile.reliability
            for info in client.node.get_subscriptions_info_by_topic("/camera/image_raw")
            if info.node_namespace == namespace]


def test_qos_overrides_are_honoured_or_refused(model: Path, client: GraphClient,
                                               tmp_path: Path) -> None:
    override = "qos_overrides./camera/image_raw.subscription.reliability"
    runs = {"/plain": {}, "/overridden": {override: "reliable"}}
    processes = {ns: NodeProcess({"model_path": str(model), "qos_reliability": "best_effort",
                                  **extra}, domain_id=DOMAIN, params_file=PARAMS,
                                 log_path=tmp_path / f"{ns[1:]}.log", namespace=ns).start()
                 for ns, extra in runs.items()}
    try:
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline and not all(
                _subscriber_reliability(client, ns) for ns in runs):
            time.sleep(0.1)
        assert _subscriber_reliability(client, "/plain") == [ReliabilityPolicy.BEST_EFFORT]
        assert _subscriber_reliability(client, "/overridden") == [ReliabilityPolicy.RELIABLE]
    finally:
        for process in processes.values():
            assert process.stop(signal.SIGINT) == 0, process.output()

    bad = NodeProcess({"model_path": str(model), "qos_overrides./other.publisher.depth": 3},
                      domain_id=DOMAIN, params_file=PARAMS, log_path=tmp_path / "bad.log",
                      namespace="/bad").start()
    assert bad.process is not None
    code = bad.process.wait(60.0)
    assert bad.stop() == code == 2, bad.output()
    assert "would have no effect" in bad.output() and "Traceback" not in bad.output()
