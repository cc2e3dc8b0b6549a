"""The node under the ROS 2 command line: `ros2 run`, `ros2 param set`, `ros2 topic hz`.

The node starts from the colcon install with `ros2 run uncertainty_seg_node
uncertainty_seg_node --ros-args -p ...`; every other command is the real `ros2` CLI in another
process. A camera in this process publishes at a known rate.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from workspace_fixtures import (  # noqa: E402
    group_members,
    interrupt,
    kill_group,
    run,
    start,
    wait_for_line,
)

from uncertainty_seg_node.ros_drivers.harness import GraphClient, output_array  # noqa: E402

pytestmark = pytest.mark.ros

CAMERA = "/cli_cam/image_raw"
NODE = "/uncertainty_seg_node"
MAIN = ("confidence", "certain_mask")
# --no-daemon: a ros2 daemon (one per domain, spawned by the first call) would outlive the test
SET_GAMMA = f"ros2 param set --no-daemon --timeout 10 {NODE} gamma"
GET_GAMMA = f"ros2 param get --no-daemon --timeout 10 {NODE} gamma"
_STAMP = iter(range(1, 10**6))


@pytest.fixture(scope="module")
def started(ros2_command: Path, colcon_install: Path, node_model: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    domain = random.randint(161, 190)
    log = tmp_path_factory.mktemp("ros2_run") / "node.log"
    process = start(colcon_install, "ros2 run uncertainty_seg_node uncertainty_seg_node "
                    f"--ros-args -p model_path:={node_model} -p image_topic:={CAMERA} "
                    "-p diagnostics_period:=0.25", domain, log)
    graph = None
    try:
        assert wait_for_line(log, f"publishing under {NODE}/", process, 120.0), (
            log.read_text())
        graph = GraphClient(domain, image_topic=CAMERA, outputs=MAIN)
        assert graph.wait_until_connected(30.0), log.read_text()
        assert graph.wait_input_reliable(15.0), log.read_text()
        yield colcon_install, domain, graph, process, log
    finally:
        if graph is not None:
            graph.close()
        code, seconds = interrupt(process, 20.0)
        if code is None:
            kill_group(process.pid)
    assert code == 0 and not group_members(process.pid), (code, log.read_text()[-3000:])


def _frame(graph: GraphClient, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    stamp = 1_650_000_000_000_000_000 + next(_STAMP) * 50_000_000
    outputs = graph.wait_outputs(graph.publish_image(image, "rgb8", stamp), MAIN, timeout=20.0)
    assert outputs, "no outputs for the frame"
    return output_array(outputs["confidence"]), output_array(outputs["certain_mask"]) == 255


def test_param_set_takes_effect_on_the_next_frame(started: tuple) -> None:
    install, domain, graph, _, log = started
    image = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    confidence, _ = _frame(graph, image)
    # a gamma that splits this frame, so the mask must visibly change
    gamma = round(float(np.median(confidence)), 4)
    result = run(install, f"{SET_GAMMA} {gamma}", domain)
    assert result.returncode == 0 and "Set parameter successful" in result.stdout, (
        result.stdout + result.stderr)
    confidence, mask = _frame(graph, image)
    np.testing.assert_array_equal(mask, confidence > gamma)
    assert 0.2 < mask.mean() < 0.8
    values = graph.wait_diagnostics(lambda v: v.get("gamma") == f"{gamma:.4f}", timeout=10.0)
    assert values, graph.wait_diagnostics()
    got = run(install, GET_GAMMA, domain)
    assert str(gamma) in got.stdout, got.stdout + got.stderr
    # and the README's literal command
    result = run(install, f"{SET_GAMMA} 0.7", domain)
    assert result.returncode == 0 and "Set parameter successful" in result.stdout, result.stdout
    confidence, mask = _frame(graph, image)
    np.testing.assert_array_equal(mask, confidence > 0.7)
    assert graph.wait_diagnostics(lambda v: v.get("gamma") == "0.7000", timeout=10.0)


def test_param_set_refuses_a_bad_value_with_the_reason(started: tuple) -> None:
    install, domain, graph, _, log = started
    image = np.random.default_rng(2).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    before = run(install, GET_GAMMA, domain).stdout
    for bad in ("1.5", "high"):
        result = run(install, f"{SET_GAMMA} {bad}", domain)
        text = result.stdout + result.stderr
        assert "Setting parameter failed" in text and "gamma" in text.split("failed", 1)[1], (
            text)
    assert run(install, GET_GAMMA, domain).stdout == before
    confidence, mask = _frame(graph, image)  # the node still serves, with the old gamma
    assert mask.shape == confidence.shape


def test_topic_hz_matches_the_camera_rate(started: tuple) -> None:
    install, domain, graph, _, log = started
    rate = 10.0
    image = np.random.default_rng(3).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    stop = threading.Event()

    def camera() -> None:
        start_time = time.perf_counter()
        index = 0
        while not stop.is_set():
            graph.publish_image(image, "rgb8", 1_660_000_000_000_000_000 + index * 10**8)
            index += 1
            stop.wait(max(0.0, start_time + index / rate - time.perf_counter()))

    feeder = threading.Thread(target=camera, daemon=True)
    feeder.start()
    try:
        # `ros2 topic hz` prints a line per second until stopped; let it run for a while
        result = run(install, f"timeout -s INT 8 ros2 topic hz {NODE}/certain_mask", domain,
                     timeout=60.0)
    finally:
        stop.set()
        feeder.join(2.0)
    rates = [float(x) for x in re.findall(r"average rate: ([0-9.]+)", result.stdout)]
    assert rates, result.stdout + result.stderr
    print(f"ros2 topic hz: {rates} Hz for a {rate} Hz camera")
    assert abs(rates[-1] - rate) < 0.3 * rate, rates
