"""The node as its own process over real DDS: outputs equal the inference interface's, gamma.

The node is started with the console script and config/params.yaml (the issue's contract); this
process publishes camera frames and reads every output topic, /diagnostics and the parameter
service. A random tiny model exported to ONNX stands in for a trained one.
"""

from __future__ import annotations

import importlib.util
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from uncertainty_seg_node.image_codec.encodings import to_rgb  # noqa: E402
from uncertainty_seg_node.ros_drivers.harness import (  # noqa: E402
    GraphClient,
    NodeProcess,
    key_of,
    output_array,
)
from uncertainty_seg_node.visualize import (  # noqa: E402
    OUTPUT_ENCODINGS,
    colorize_confidence,
    colorize_segmentation,
)

pytestmark = pytest.mark.ros

H, W = 50, 90  # not the network size (56x112): outputs must come back at the camera's size


# The node's outputs must be the same whichever CPU backend serves it: each one present here.
BACKENDS = ["onnxruntime"] + (["openvino"] if importlib.util.find_spec("openvino") else [])


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def reference(node_model: Path, backend: str):  # type: ignore[no-untyped-def]
    from uncertainty_seg_node.inference.factory import load_predictor

    predictor = load_predictor(node_model, backend)  # builds the compiled model the node loads
    assert predictor.backend_name == backend
    return predictor


@pytest.fixture(scope="module")
def node(node_model: Path, dds_domain: int, node_params_file: Path, backend: str, reference,  # type: ignore[no-untyped-def]
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    log = tmp_path_factory.mktemp("node") / "node.log"
    process = NodeProcess(
        {"model_path": str(node_model), "image_topic": "/camera/image_raw",
         "diagnostics_period": 0.25, "backend": backend},
        domain_id=dds_domain, params_file=node_params_file, log_path=log,
    ).start()
    yield process
    code = process.stop(signal.SIGINT)
    output = process.output()
    assert code == 0, output
    assert "Traceback" not in output, output
    # The start-up log names the backend and why, and what runs the model.
    assert f"backend {backend} (asked for)" in output, output


@pytest.fixture(scope="module")
def client(node: NodeProcess, dds_domain: int) -> Iterator[GraphClient]:
    graph = GraphClient(dds_domain)
    assert graph.wait_until_connected(30.0), node.output()
    # qos_reliability=auto re-subscribes as reliable for our reliable camera; a frame sent
    # while it does so could be lost.
    assert graph.wait_input_reliable(15.0), node.output()
    yield graph
    graph.close()


def _image(seed: int, encoding: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    channels = {"mono8": 0, "rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4}[encoding]
    shape = (H, W) if channels == 0 else (H, W, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


_STAMP = iter(range(1, 10**6))


def _send(client: GraphClient, image: np.ndarray, encoding: str, frame_id: str = "camera",
          names: tuple[str, ...] = tuple(OUTPUT_ENCODINGS)) -> tuple[tuple[int, int], dict]:
    stamp_ns = 1_700_000_000_000_000_000 + next(_STAMP) * 33_000_017
    key = client.publish_image(image, encoding, stamp_ns, frame_id)
    return key, client.wait_outputs(key, names, timeout=15.0)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8"])
def test_outputs_equal_the_inference_interface(client: GraphClient, reference,  # type: ignore[no-untyped-def]
                                               encoding: str) -> None:
    image = _image(len(encoding) * 31 + ord(encoding[0]), encoding)
    key, outputs = _send(client, image, encoding, frame_id=f"cam_{encoding}")
    assert set(outputs) == set(OUTPUT_ENCODINGS), "not every output arrived"
    for name, msg in outputs.items():
        assert msg.encoding == OUTPUT_ENCODINGS[name], name
        assert (msg.height, msg.width) == (H, W), name
        assert key_of(msg.header) == key and msg.header.frame_id == f"cam_{encoding}", name
        assert msg.step * msg.height == len(msg.data), name

    if encoding in ("rgba8", "bgra8"):
        expected = reference.predict(to_rgb(image, encoding), encoding="rgb8")
    else:
        expected = reference.predict(image, encoding=encoding)
    ids = output_array(outputs["segmentation"])
    confidence = output_array(outputs["confidence"])
    mask = output_array(outputs["certain_mask"])
    np.testing.assert_array_equal(ids, expected.class_ids)
    np.testing.assert_allclose(confidence, expected.confidence, atol=1e-6)
    assert set(np.unique(mask)) <= {0, 255}
    np.testing.assert_array_equal(mask == 255, confidence > expected.gamma)
    np.testing.assert_array_equal(output_array(outputs["segmentation_color"]),
                                  colorize_segmentation(ids, reference.config.palette))
    np.testing.assert_array_equal(output_array(outputs["confidence_color"]),
                                  colorize_confidence(confidence, mask == 255))


def test_gamma_change_takes_effect_and_bad_values_are_refused(
        client: GraphClient, reference) -> None:  # type: ignore[no-untyped-def]
    image = _image(7, "rgb8")
    confidence = reference.predict(image).confidence
    gamma = float(np.median(confidence))
    names = ("confidence", "certain_mask")

    results = client.set_parameters({"gamma": gamma})
    assert results[0].successful, results[0].reason
    _, outputs = _send(client, image, "rgb8", names=names)
    mask = output_array(outputs["certain_mask"]) == 255
    np.testing.assert_array_equal(mask, output_array(outputs["confidence"]) > gamma)
    assert 0.3 < mask.mean() < 0.7  # the median splits the frame: gamma really moved

    for bad in (1.5, -0.1, "high"):
        result = client.set_parameters({"gamma": bad})[0]
        assert not result.successful and "gamma" in result.reason
    readonly = client.set_parameters({"backend": "torch"})[0]
    assert not readonly.successful and "read-only" in readonly.reason
    _, outputs = _send(client, image, "rgb8", names=names)
    np.testing.assert_array_equal(output_array(outputs["certain_mask"]) == 255, mask)

    assert client.set_parameters({"gamma": "auto"})[0].successful
    _, outputs = _send(client, image, "rgb8", names=names)
    default = reference.config.default_gamma
    np.testing.assert_array_equal(output_array(outputs["certain_mask"]) == 255,
                                  output_array(outputs["confidence"]) > default)


def test_diagnostics_report_the_running_node(client: GraphClient, reference) -> None:  # type: ignore[no-untyped-def]
    for seed in range(3):
        _send(client, _image(100 + seed, "rgb8"), "rgb8", names=("certain_mask",))
    values = client.wait_diagnostics(lambda v: int(v["frames_published"]) >= 3, timeout=10.0)
    assert values, "no /diagnostics from the node"
    assert values["backend"] == reference.backend_name and values["model"] == "tiny.onnx (tiny)"
    assert values["execution_provider"] == f"{reference.execution_providers[0]} on cpu"
    assert int(values["frames_received"]) >= int(values["frames_published"]) >= 3
    assert int(values["frames_colored"]) >= 1  # this client subscribes to the colour topics
    assert values["frames_rejected"] == "0" and values["frames_failed"] == "0"
    for key in ("input_rate_hz", "output_rate_hz", "latency_median_ms", "latency_max_ms",
                "inference_median_ms", "frames_dropped_busy", "certain_fraction", "gamma"):
        assert key in values, key


def test_node_refuses_to_start_without_a_model(tmp_path: Path, dds_domain: int,
                                               node_params_file: Path) -> None:
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not a model")
    for path in (tmp_path / "missing.onnx", corrupt):
        process = NodeProcess({"model_path": str(path)}, domain_id=dds_domain,
                              params_file=node_params_file,
                              log_path=tmp_path / f"{path.stem}.log",
                              namespace="/failing").start()
        assert process.process is not None
        code = process.process.wait(60.0)
        assert process.stop() == code == 2, process.output()
        text = process.output()
        assert "Traceback" not in text and str(path) in text
        assert len([line for line in text.splitlines() if "FATAL" in line]) == 1, text


def test_wait_mode_reports_error_then_loads_the_model(node_model: Path, tmp_path: Path,
                                                      dds_domain: int,
                                                      node_params_file: Path) -> None:
    late = tmp_path / "late.onnx"
    namespace = "/waiting"
    process = NodeProcess(
        {"model_path": str(late), "on_model_error": "wait", "model_retry_period": 0.2,
         "diagnostics_period": 0.2},
        domain_id=dds_domain, params_file=node_params_file, log_path=tmp_path / "wait.log",
        namespace=namespace,
    ).start()
    graph = GraphClient(dds_domain, node_name=f"{namespace}/uncertainty_seg_node",
                        outputs=("certain_mask",))
    try:
        assert graph.wait_until_connected(30.0), process.output()
        assert graph.wait_input_reliable(15.0), process.output()
        values = graph.wait_diagnostics(timeout=10.0)
        assert values.get("_level") == "2" and "late.onnx" in values["_message"]
        # The camera is live but there is no model: nothing is published, frames are counted.
        key = graph.publish_image(_image(1, "rgb8"), "rgb8", 5_000)
        values = graph.wait_diagnostics(lambda v: v["frames_failed"] != "0", timeout=10.0)
        assert values.get("frames_failed_no_model") == "1"
        assert graph.outputs_for(key) == {}
        # A live camera (every 0.1 s, less than the worker's idle wait): the reload must not
        # wait for a pause in the frames.
        stop = threading.Event()
        keys: list[tuple[int, int]] = []

        def camera() -> None:
            while not stop.wait(0.1):
                keys.append(graph.publish_image(_image(2, "rgb8"), "rgb8", time.time_ns()))

        feeder = threading.Thread(target=camera, daemon=True)
        feeder.start()
        try:
            time.sleep(0.5)  # frames are flowing before the model appears (not an assertion)
            shutil.copy(node_model, tmp_path / "late.part")
            (tmp_path / "late.part").rename(late)
            assert graph.wait_diagnostics(
                lambda v: v["_level"] != "2" and v["frames_published"] != "0", timeout=15.0), (
                process.output())
            deadline = time.monotonic() + 15.0
            while time.monotonic() < deadline and not any(
                    graph.outputs_for(k) for k in list(keys)):
                time.sleep(0.05)
            assert any(graph.outputs_for(k) for k in list(keys)), process.output()
        finally:
            stop.set()
            feeder.join(2.0)
    finally:
        graph.close()
        code = process.stop(signal.SIGTERM)
    assert code == 0 and "Traceback" not in process.output(), process.output()


def test_padded_rows_and_overlay(client: GraphClient, reference) -> None:  # type: ignore[no-untyped-def]
    """A camera whose rows carry padding (step > width * 3), and the palette blended over it."""
    import array

    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from uncertainty_seg_node.ros_drivers.harness import ros_time_from_ns
    from uncertainty_seg_node.visualize import output_images

    image = _image(11, "bgr8")
    padded = np.concatenate([image.reshape(H, -1), np.full((H, 13), 99, np.uint8)], axis=1)
    msg = Image(height=H, width=W, encoding="bgr8", step=padded.shape[1])
    msg.header = Header(stamp=ros_time_from_ns(42_000_000_000), frame_id="padded")
    msg.data = array.array("B", padded.tobytes())
    assert client.set_parameters({"color_overlay_alpha": 0.5})[0].successful
    try:
        client.image_pub.publish(msg)
        outputs = client.wait_outputs(key_of(msg.header), tuple(OUTPUT_ENCODINGS), timeout=15.0)
    finally:
        assert client.set_parameters({"color_overlay_alpha": 0.0})[0].successful
    assert outputs, "no outputs for the padded frame"
    expected = reference.predict(image, encoding="bgr8")
    np.testing.assert_array_equal(output_array(outputs["segmentation"]), expected.class_ids)
    rendered = output_images(expected.class_ids, expected.confidence, expected.certain,
                             reference.config.palette, image=to_rgb(image, "bgr8"),
                             overlay_alpha=0.5, names=["segmentation_color"])
    np.testing.assert_array_equal(output_array(outputs["segmentation_color"]),
                                  rendered["segmentation_color"][0])
