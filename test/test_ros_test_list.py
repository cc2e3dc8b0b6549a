"""One list of ROS tests: the pytest `ros` marker, which `tools/dev test` runs under every distro.

A test module that starts a ROS graph, a node process, `ros2`, launch or a colcon build must
carry the marker; `tools/dev` selects by it and names no test file of its own.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# What makes a test a ROS test: a graph, the node as a process, the ROS command line or build.
_ROS_USE = re.compile(r"rclpy\.(?:create_node|Context|init)|NodeProcess|GraphClient|"
                      r"colcon_install|ros2_command|launch_test\b")


def ros_modules_without_marker(folder: Path) -> list[str]:
    """The test modules of FOLDER that use ROS and carry no `ros` marker."""
    return sorted(p.name for p in folder.glob("test_*.py")
                  if _ROS_USE.search(p.read_text()) and "pytest.mark.ros" not in p.read_text())


def test_every_ros_test_module_is_marked() -> None:
    assert ros_modules_without_marker(REPO / "test") == []


def test_the_check_finds_an_unmarked_ros_module(tmp_path: Path) -> None:
    (tmp_path / "test_graph.py").write_text("def test_x(colcon_install):\n    pass\n")
    (tmp_path / "test_plain.py").write_text("def test_y():\n    pass\n")
    (tmp_path / "test_marked.py").write_text(
        "import pytest\npytestmark = pytest.mark.ros\n\ndef test_z(colcon_install):\n    pass\n")
    assert ros_modules_without_marker(tmp_path) == ["test_graph.py"]


def test_tools_dev_runs_the_marked_tests_under_the_second_distro() -> None:
    dev = (REPO / "tools" / "dev").read_text()
    assert re.search(r"^ROS_TESTS=\(-m ros test\)$", dev, re.MULTILINE), "tools/dev: ROS_TESTS"
    assert 'pytest_in jazzy "${ROS_TESTS[@]}"' in dev
    assert not re.findall(r"test/test_\w+\.py", dev), "tools/dev names test files again"
