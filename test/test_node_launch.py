"""The launch file, params file and RViz config agree with the node (no launch, no ROS graph).

`launch` / `launch_ros` are not installable here, so the launch file is compiled and read with
`ast`: its arguments carry descriptions and the ones that set node parameters name real ones.
"""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from uncertainty_seg_node.ros.params import NODE_NAME, PARAMETERS, SPECS, check_value
from uncertainty_seg_node.visualize import OUTPUT_ENCODINGS

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
              "use_rviz"}
    assert wanted <= set(arguments), wanted - set(arguments)
    assert all(arguments.values()), [n for n, ok in arguments.items() if not ok]
    overrides = _parameter_arguments(tree)
    assert set(overrides) <= set(SPECS), set(overrides) - set(SPECS)
    assert {"model_path", "image_topic", "backend", "gamma"} <= set(overrides)


def test_launch_starts_the_console_script_with_the_share_dir_files() -> None:
    source = LAUNCH.read_text()
    assert 'executable="uncertainty_seg_node"' in source
    assert f'name="{NODE_NAME}"' in source
    assert '"config", "params.yaml"' in source and "FindPackageShare" in source
    assert '"config", "uncertainty_seg.rviz"' in source
    assert "IfCondition" in source and "rviz2" in source


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
