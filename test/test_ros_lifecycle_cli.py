"""The managed node with the real ROS 2 tools: `ros2 lifecycle` / `ros2 param`, `ros2 launch`.

`ros2` comes from ../shared/ros-tools (installed into the venv by tools/dev, or by
`PYTHON=.venv/bin/python ../shared/ros-tools/install.sh`); without it these tests skip. The CLI
runs without the ros2 daemon (`--no-daemon`), so no process outlives a test.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

pytest.importorskip("rclpy")

from test_colcon_build import install  # noqa: E402, F401 - the colcon install fixture
from test_ros_lifecycle import (  # noqa: E402
    LIFECYCLE,
    MAIN,
    diagnostics_in,
    send_frame,
    start_managed,
)

from uncertainty_seg_node.ros.params import NODE_NAME  # noqa: E402
from uncertainty_seg_node.ros_drivers.harness import GraphClient, key_of  # noqa: E402
from uncertainty_seg_node.ros_drivers.lifecycle_client import LifecycleClient  # noqa: E402

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[1]
ROS_TOOLS = REPO.parent / "shared" / "ros-tools"


def _ros2() -> str:
    beside = Path(sys.executable).with_name("ros2")
    found = str(beside) if beside.exists() else shutil.which("ros2")
    if found is None:
        pytest.skip(f"no `ros2` command: install ../shared/ros-tools into this venv "
                    f"(present: {ROS_TOOLS.is_dir()}; tools/dev does it when it is there)")
    try:
        import ros2lifecycle  # noqa: F401
    except ImportError:
        pytest.skip("`ros2 lifecycle` (ros2lifecycle from ../shared/ros-tools) is not installed")
    return found


@pytest.fixture(scope="module")
def ros2() -> str:
    """The `ros2` command; module-scoped so that it skips before the colcon build starts."""
    return _ros2()


def _cli(domain: int, *args: str, timeout: float = 60.0, expect: str | None = None,
         log: Path | None = None) -> str:
    """`ros2 ARGS --no-daemon` until it finds the node (discovery is slow on a loaded machine).

    With EXPECT (and LOG, where the output goes), the output is read until EXPECT arrives: for a
    transition that ends the node, after which the Jazzy CLI's own teardown has been seen to hang
    (the answer on stdout, the CLI still up 60 s later). A CLI that outlives it by 10 s is killed.
    """
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    deadline = time.monotonic() + timeout
    while True:
        if expect is None or log is None:
            result = subprocess.run([_ros2(), *args, "--no-daemon", "--spin-time", "1"],
                                    env=env, capture_output=True, text=True, timeout=timeout)
            text = result.stdout + result.stderr
        else:
            with log.open("w") as out:
                command = subprocess.Popen([_ros2(), *args, "--no-daemon", "--spin-time", "1"],
                                           env=env, stdout=out, stderr=subprocess.STDOUT)
            while expect not in log.read_text() and command.poll() is None \
                    and time.monotonic() < deadline:
                time.sleep(0.1)
            try:
                command.wait(10.0)
            except subprocess.TimeoutExpired:
                command.kill()
                command.wait()
            text = log.read_text()
        if "not found" not in text.lower() or time.monotonic() > deadline:
            return text


@pytest.fixture()
def client(dds_domain: int) -> Iterator[GraphClient]:
    graph = GraphClient(dds_domain, outputs=MAIN)
    yield graph
    graph.close()


def test_ros2_lifecycle_set_drives_every_transition(
        node_model: Path, tmp_path: Path, dds_domain: int, node_params_file: Path,
        client: GraphClient) -> None:
    node = f"/{NODE_NAME}"
    process = start_managed({"model_path": str(tmp_path / "missing.onnx")}, dds_domain,
                            node_params_file, tmp_path / "cli.log")
    try:
        assert "unconfigured [1]" in _cli(dds_domain, "lifecycle", "get", node), process.output()
        assert "Transitioning failed" in _cli(dds_domain, "lifecycle", "set", node, "configure")
        assert "missing.onnx" in process.output()
        assert "unconfigured [1]" in _cli(dds_domain, "lifecycle", "get", node)
        assert "successful" in _cli(dds_domain, "param", "set", node, "model_path",
                                    str(node_model))
        for transition in ("configure", "activate"):
            assert "Transitioning successful" in _cli(dds_domain, "lifecycle", "set", node,
                                                      transition)
        assert client.wait_until_connected(30.0) and client.wait_input_reliable(15.0)
        key, outputs = send_frame(client, "cam_cli")
        assert set(outputs) == set(MAIN) and all(  # so it is active
            key_of(m.header) == key and m.header.frame_id == "cam_cli" for m in outputs.values())
        for transition in ("deactivate", "cleanup", "configure"):
            assert "Transitioning successful" in _cli(dds_domain, "lifecycle", "set", node,
                                                      transition)
        # Shutdown from inactive: the answer arrives, then the process ends by itself.
        assert "Transitioning successful" in _cli(
            dds_domain, "lifecycle", "set", node, "shutdown",
            expect="Transitioning successful", log=tmp_path / "shutdown.log")
        assert process.process is not None and process.process.wait(30.0) == 0
    finally:
        code = process.stop()
    assert code == 0 and "Traceback" not in process.output(), process.output()


def test_launch_managed_starts_unconfigured(ros2: str, install: Path,  # noqa: F811
                                            node_model: Path, tmp_path: Path,
                                            dds_domain: int) -> None:
    """`ros2 launch ... managed:=true` from a colcon install: unconfigured, then driven."""
    params = tmp_path / "params.yaml"
    data = yaml.safe_load((REPO / "config" / "params.yaml").read_text())
    data[next(iter(data))]["ros__parameters"].update(model_path=str(node_model),
                                                     diagnostics_period=0.2)
    params.write_text(yaml.safe_dump(data))
    activate = Path(sys.executable).parent / "activate"
    launch = subprocess.Popen(
        ["bash", "-c", f"source {activate} && source {install}/setup.bash && exec {ros2} "
         f"launch uncertainty_seg_node run.launch.py managed:=true params_file:={params}"],
        env=dict(os.environ, ROS_DOMAIN_ID=str(dds_domain),
                 ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    client = GraphClient(dds_domain, outputs=MAIN)
    lifecycle = LifecycleClient(client.node, f"/{NODE_NAME}")
    try:
        assert lifecycle.wait_for_services(60.0)
        assert lifecycle.state() == "unconfigured"
        assert diagnostics_in(client, "unconfigured")["_message"].startswith("unconfigured")
        assert client.output_publishers() == 0  # no output publisher before configure
        assert lifecycle.change("configure") and lifecycle.change("activate")
        assert client.wait_until_connected(30.0) and client.wait_input_reliable(15.0)
        assert set(send_frame(client)[1]) == set(MAIN)
    finally:
        client.close()
        launch.send_signal(signal.SIGINT)
        try:
            output = launch.communicate(timeout=30)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:  # a node left behind would disturb later tests
            launch.kill()
            subprocess.run(["pkill", "-KILL", "-f", f"params-file {params}"], check=False)
            output = launch.communicate()[0].decode(errors="replace")
            pytest.fail(f"ros2 launch ignored SIGINT for 30 s:\n{output}")
    assert launch.returncode == 0, output
    assert "Traceback" not in output, output
    assert re.search(rf"{LIFECYCLE}-\d+\]: process has finished cleanly", output), output
