"""`tools/dev` in a shell where ROS 2 is sourced imports the venv's rclpy, not the sourced one.

A stand-in /opt/ros/jazzy (its own `rclpy` package, a setup.bash that puts it on PYTHONPATH,
AMENT_PREFIX_PATH and LD_LIBRARY_PATH as the real one does) is sourced, then
`tools/dev run python -c 'import rclpy; print(rclpy.__file__)'` runs in this test's own venv:
the venv's rclpy must win, with a note naming what was set aside. With
UNCERTAINTY_SEG_KEEP_ENV=1 the sourced rclpy wins, which shows the check can fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from workspace_fixtures import installed_distro

pytestmark = pytest.mark.ros  # each distro's venv

REPO = Path(__file__).resolve().parents[1]
PROBE = "import rclpy; print(rclpy.__file__)"


def _sourced_ros(tmp: Path) -> Path:
    """A stand-in /opt/ros/jazzy with its own rclpy, and its setup.bash."""
    prefix = tmp / "opt" / "ros" / "jazzy"
    site = prefix / "lib" / "python3.12" / "site-packages"
    (site / "rclpy").mkdir(parents=True)
    (site / "rclpy" / "__init__.py").write_text('"""Stand-in for the sourced rclpy."""\n')
    (prefix / "lib").mkdir(exist_ok=True)
    setup = prefix / "setup.bash"
    setup.write_text(
        f"export ROS_DISTRO=jazzy ROS_VERSION=2 ROS_PYTHON_VERSION=3\n"
        f"export AMENT_PREFIX_PATH={prefix}\n"
        f"export PYTHONPATH={site}${{PYTHONPATH:+:$PYTHONPATH}}\n"
        f"export LD_LIBRARY_PATH={prefix / 'lib'}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}\n")
    return setup


def _dev_run(setup: Path, keep: bool) -> subprocess.CompletedProcess[str]:
    distro = installed_distro()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    # This test's own venv, under the name tools/dev gives this distro's environment.
    env["UNCERTAINTY_SEG_VENV" if distro == "kilted" else "UNCERTAINTY_SEG_VENV_JAZZY"] = \
        sys.prefix
    if keep:
        env["UNCERTAINTY_SEG_KEEP_ENV"] = "1"
    dev = REPO / "tools" / "dev"
    script = f"source {setup} && {dev} run --distro {distro} python -c '{PROBE}'"
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                          timeout=600)


def test_the_venv_rclpy_is_imported_in_a_ros_shell(tmp_path: Path) -> None:
    setup = _sourced_ros(tmp_path)
    result = _dev_run(setup, keep=False)
    assert result.returncode == 0, result.stderr[-3000:]
    imported = Path(result.stdout.strip().splitlines()[-1])
    assert imported.is_relative_to(Path(sys.prefix)), imported
    assert "set aside for this command" in result.stderr
    for name in ("PYTHONPATH", "AMENT_PREFIX_PATH", "LD_LIBRARY_PATH"):
        assert name in result.stderr, result.stderr


def test_keeping_the_ros_shell_imports_the_sourced_rclpy(tmp_path: Path) -> None:
    setup = _sourced_ros(tmp_path)
    result = _dev_run(setup, keep=True)
    assert result.returncode == 0, result.stderr[-3000:]
    imported = Path(result.stdout.strip().splitlines()[-1])
    assert imported.is_relative_to(tmp_path / "opt" / "ros" / "jazzy"), imported
