"""rosdep resolves every key of package.xml: the real rosdep, offline, on a rosdistro snapshot.

`rosdep install --simulate --reinstall` (PyPI `rosdep`) runs against test/rosdep_snapshot/, a
minimal copy of the rosdistro index's entries for the keys package.xml uses (README.md there
says from which commit and when; the index itself cannot be fetched here), for ROS 2 Jazzy on
Ubuntu 24.04. A key that the index does not define fails it, as `ament_python` did when
package.xml named it as a buildtool_depend.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

catkin_pkg = pytest.importorskip("catkin_pkg.package")

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO / "test" / "rosdep_snapshot"
ROSDEP = Path(sys.executable).parent / "rosdep"


def _rosdep_install(tmp: Path, package_xml: str) -> subprocess.CompletedProcess[str]:
    """`rosdep update`, then `rosdep install --simulate` of a workspace with `package_xml`."""
    if not ROSDEP.is_file():
        pytest.skip("the rosdep command is not installed in this environment")
    sources, home, src = tmp / "sources.list.d", tmp / "ros_home", tmp / "src" / "pkg"
    for folder in (sources, home, src):
        folder.mkdir(parents=True)
    (sources / "20-snapshot.list").write_text(f"yaml file://{SNAPSHOT / 'python.yaml'}\n")
    (src / "package.xml").write_text(package_xml)
    env = dict(os.environ, ROSDEP_SOURCE_PATH=str(sources), ROS_HOME=str(home),
               ROSDISTRO_INDEX_URL=f"file://{SNAPSHOT / 'index-v4.yaml'}")
    update = subprocess.run([str(ROSDEP), "update", "--rosdistro", "jazzy"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert update.returncode == 0, update.stdout + update.stderr
    return subprocess.run(
        [str(ROSDEP), "install", "--from-paths", str(src.parent), "--ignore-src", "--simulate",
         "--reinstall", "--rosdistro", "jazzy", "--os", "ubuntu:noble", "-y"],
        env=env, capture_output=True, text=True, timeout=120)


def _keys() -> list[str]:
    package = catkin_pkg.parse_package(REPO / "package.xml")
    deps = (package.buildtool_depends + package.build_depends + package.exec_depends
            + package.test_depends)
    return sorted({dep.name for dep in deps})


def _expected_apt(key: str) -> str:
    """What the snapshot says `key` installs on Ubuntu: a ROS package, or a rosdep rule."""
    distribution = yaml.safe_load((SNAPSHOT / "jazzy" / "distribution.yaml").read_text())
    for name, repo in distribution["repositories"].items():
        if key in repo["release"].get("packages", [name]):
            return "ros-jazzy-" + key.replace("_", "-")
    rules = yaml.safe_load((SNAPSHOT / "python.yaml").read_text())
    assert key in rules, f"{key} is neither a Jazzy package nor a rosdep key of the snapshot"
    (apt,) = rules[key]["ubuntu"]
    return str(apt)


@pytest.mark.timeout(300)
def test_every_package_xml_key_resolves(tmp_path: Path) -> None:
    result = _rosdep_install(tmp_path, (REPO / "package.xml").read_text())
    assert result.returncode == 0, result.stdout + result.stderr
    resolved = re.findall(r"apt-get install -y (\S+)", result.stdout)
    keys = _keys()
    assert len(keys) >= 10, keys
    assert sorted(resolved) == sorted(_expected_apt(key) for key in keys), result.stdout


@pytest.mark.timeout(300)
def test_a_key_the_index_lacks_fails(tmp_path: Path) -> None:
    """The check can fail: `ament_python` as a buildtool_depend is what package.xml had."""
    xml = (REPO / "package.xml").read_text().replace(
        "<exec_depend>rclpy</exec_depend>",
        "<buildtool_depend>ament_python</buildtool_depend>\n  <exec_depend>rclpy</exec_depend>")
    result = _rosdep_install(tmp_path, xml)
    assert result.returncode != 0
    assert "Cannot locate rosdep definition for [ament_python]" in result.stdout + result.stderr


def test_headless_robot_gets_no_viewer() -> None:
    """rviz2 (Qt, OGRE) is optional; the launch file says so when use_rviz:=true lacks it."""
    assert "rviz2" not in _keys()
    assert "ament_index_python" in _keys()  # launch/run.launch.py and share.py import it
    assert "apt install ros-$ROS_DISTRO-rviz2" in (REPO / "launch" / "run.launch.py").read_text()
    assert "000730dc5f916eb05b15d3f183bd1c17bf1b4722" in (SNAPSHOT / "README.md").read_text()
