"""The launch file, params file and RViz config agree with the node; the launch file runs.

`launch` / `launch_ros` have no PyPI wheels, so most checks compile and read the launch file with
`ast`: its arguments carry descriptions and the ones that set node parameters name real ones.
Where `ros2 launch` exists (a ROS 2 install), the last test launches the file for real.
"""

from __future__ import annotations

import ast
import os
import random
import signal
from pathlib import Path

import numpy as np
import pytest
import yaml

from uncertainty_seg_node.ros.params import NODE_NAME, PARAMETERS, SPECS, check_value
from uncertainty_seg_node.ros.rviz_config import rviz_config_for
from uncertainty_seg_node.visualize import OUTPUT_ENCODINGS

pytestmark = pytest.mark.ros  # the launch system of each distro

REPO = Path(__file__).resolve().parents[1]
LAUNCH = REPO / "launch" / "run.launch.py"
PARAMS = REPO / "config" / "params.yaml"
RVIZ = REPO / "config" / "uncertainty_seg.rviz"


def _launch_tree() -> ast.Module:
    source = LAUNCH.read_text()
    compile(source, str(LAUNCH), "exec")
    return ast.parse(source)


def _declared_arguments(tree: ast.Module) -> dict[str, bool]:
    """{argument name: has a non-empty description} for every DeclareLaunchArgument."""
    parameter_arguments = _parameter_arguments(tree)
    found: dict[str, bool] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") ==
                "DeclareLaunchArgument"):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        first = node.args[0]
        if isinstance(first, ast.Constant):
            description = keywords.get("description")
            found[first.value] = isinstance(description, (ast.Constant, ast.JoinedStr)) or (
                isinstance(description, ast.Name))
        else:  # the comprehension over PARAMETER_ARGUMENTS
            found.update({name: bool(text) for name, text in parameter_arguments.items()})
    return found


def _parameter_arguments(tree: ast.Module) -> dict[str, str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == (
                "PARAMETER_ARGUMENTS"):
            value = ast.literal_eval(node.value)
            assert isinstance(value, dict)
            return value
    raise AssertionError("PARAMETER_ARGUMENTS not found in the launch file")


def test_launch_arguments_are_described_and_match_parameters() -> None:
    tree = _launch_tree()
    arguments = _declared_arguments(tree)
    wanted = {"params_file", "model_path", "image_topic", "namespace", "backend", "gamma",
              "use_rviz", "use_sim_time", "device", "camera_info_topic"}
    assert wanted <= set(arguments), wanted - set(arguments)
    assert all(arguments.values()), [n for n, ok in arguments.items() if not ok]
    overrides = _parameter_arguments(tree)
    assert set(overrides) <= set(SPECS), set(overrides) - set(SPECS)
    assert {"model_path", "image_topic", "backend", "gamma", "device"} <= set(overrides)


def test_launch_starts_the_console_script_with_the_share_dir_files() -> None:
    source = LAUNCH.read_text()
    assert 'executable="uncertainty_seg_node"' in source
    assert f'name="{NODE_NAME}"' in source
    assert '"config", "params.yaml"' in source and "FindPackageShare" in source
    assert '"config", "uncertainty_seg.rviz"' in source
    assert '_is_true(context, "use_rviz")' in source and "rviz2" in source
    assert "rviz_config_for(" in source and '"use_sim_time": _is_true' in source


def test_params_file_is_complete_and_valid() -> None:
    data = yaml.safe_load(PARAMS.read_text())
    (key, section), = data.items()
    assert key.endswith(NODE_NAME)
    params = section["ros__parameters"]
    assert set(params) == {spec.name for spec in PARAMETERS}
    for name, value in params.items():
        assert check_value(name, value) is None, (name, value)


def test_rviz_config_shows_camera_and_the_node_outputs() -> None:
    data = yaml.safe_load(RVIZ.read_text())
    displays = data["Visualization Manager"]["Displays"]
    topics = {d["Topic"]["Value"] for d in displays if d["Class"] == "rviz_default_plugins/Image"}
    camera = next(spec.default for spec in PARAMETERS if spec.name == "image_topic")
    expected = {camera} | {f"/{NODE_NAME}/{name}" for name in
                           ("segmentation_color", "confidence_color", "certain_mask")}
    assert expected <= topics
    assert {t.rsplit("/", 1)[-1] for t in topics if t != camera} <= set(OUTPUT_ENCODINGS)


def test_rviz_layout_follows_namespace_and_camera() -> None:
    text = RVIZ.read_text()
    for namespace, camera, expected_camera, prefix in [
        ("", "", "/camera/image_raw", ""),
        ("front", "", "/camera/image_raw", "/front"),
        ("/robot/front/", "image_raw", "/robot/front/image_raw", "/robot/front"),
        ("front", "/cam0/image", "/cam0/image", "/front"),
    ]:
        data = yaml.safe_load(rviz_config_for(text, namespace, camera))
        topics = [d["Topic"]["Value"] for d in data["Visualization Manager"]["Displays"]
                  if d["Class"] == "rviz_default_plugins/Image"]
        assert topics[0] == expected_camera
        assert topics[1:] == [f"{prefix}/{NODE_NAME}/{name}" for name in
                              ("segmentation_color", "confidence_color", "certain_mask")]


def test_launch_file_starts_the_node(tmp_path: Path, ros2_command: Path, colcon_install: Path,
                                     node_model: Path) -> None:
    """`ros2 launch` of the installed file: namespace, use_sim_time and a params file work."""
    pytest.importorskip("rclpy")
    from workspace_fixtures import run, start, wait_for_line

    from uncertainty_seg_node.ros_drivers.harness import GraphClient

    params = tmp_path / "params.yaml"
    data = yaml.safe_load(PARAMS.read_text())
    data[next(iter(data))]["ros__parameters"].update(model_path=str(node_model),
                                                     diagnostics_period=0.2)
    params.write_text(yaml.safe_dump(data))
    domain = random.randint(201, 230)
    log = tmp_path / "launch.log"
    launch = start(colcon_install, "ros2 launch uncertainty_seg_node run.launch.py "
                   f"namespace:=launched use_sim_time:=true params_file:={params} device:=cpu",
                   domain, log)
    graph = None
    try:
        assert wait_for_line(log, "publishing under", launch, 120.0), log.read_text()
        graph = GraphClient(domain, node_name=f"/launched/{NODE_NAME}", outputs=("certain_mask",))
        assert graph.wait_until_connected(60.0), log.read_text()
        # use_sim_time without /clock: the node's timers (qos_reliability=auto's switch to a
        # reliable camera among them) wait for the clock, so its input stays best-effort here
        outputs: dict = {}
        for stamp in range(1, 30):
            key = graph.publish_image(np.zeros((24, 32, 3), np.uint8), "rgb8", stamp * 1_000_000)
            if outputs := graph.wait_outputs(key, ("certain_mask",), timeout=1.0):
                break
        assert outputs, log.read_text()
        sim_time = run(colcon_install, "ros2 param get --no-daemon --timeout 10 "
                       f"/launched/{NODE_NAME} use_sim_time", domain)
        assert "True" in sim_time.stdout, sim_time.stdout + sim_time.stderr
    finally:
        if graph is not None:
            graph.close()
        os.killpg(launch.pid, signal.SIGINT)
        code = launch.wait(30)
    output = log.read_text(errors="replace")
    assert code == 0 and "Traceback" not in output, output
