"""A robot with ROS 2 from apt, simulated: tools/apt_underlay_check.sh for this venv's distro.

The script builds an /opt/ros/<distro>-style underlay (ROS wheels + ros-tools, its own
setup.bash), a `--system-site-packages` venv with requirements-robot.txt, runs `colcon build`
and `ros2 launch` with the default model and waits for one certain mask (see its header).
The underlay and the venv take minutes to install; they are kept per distro under
$UNCERTAINTY_SEG_APT_CACHE (default ~/.cache/uncertainty_seg_node/apt-underlay) and rebuilt only
when their inputs change; the colcon build and the launch run every time.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[1]
NUMPY_1 = "1.23.5"  # the oldest NumPy with Python 3.11 wheels


def _distro() -> str:
    for name in ("kilted", "jazzy"):
        try:
            metadata.version(f"ros-{name}-rclpy")
        except metadata.PackageNotFoundError:
            continue
        return name
    pytest.skip("no ros-<distro>-rclpy wheel in this environment")


def _run_check(distro: str, folder: str, extra_env: dict[str, str]) -> str:
    """tools/apt_underlay_check.sh for `distro`, cached in `folder`; its standard output."""
    if not (REPO.parent / "shared" / "ros-tools" / "install.sh").is_file():
        pytest.skip("../shared/ros-tools is absent: the underlay needs its sources")
    cache = Path(os.environ.get("UNCERTAINTY_SEG_APT_CACHE")
                 or Path.home() / ".cache" / "uncertainty_seg_node" / "apt-underlay")
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "AMENT_PREFIX_PATH", "LD_LIBRARY_PATH")}
    # The machine's Python, not this venv's (which has everything): the robot starts bare.
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                  if not p.startswith(sys.prefix))
    env["PYTHON"] = str(Path(sys.base_prefix) / "bin" / "python3")
    env["ROS_DOMAIN_ID"] = str(random.randint(221, 229))
    env.update(extra_env)
    result = subprocess.run(
        ["bash", str(REPO / "tools" / "apt_underlay_check.sh"), distro, str(cache / folder)],
        env=env, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    assert f"apt-underlay: OK (ROS 2 {distro}" in result.stdout, result.stdout
    assert "apt-underlay: certain mask 64x48" in result.stdout, result.stdout
    return result.stdout


@pytest.mark.timeout(1800)  # a first build of the underlay and venv: 3.5-8 min, more when loaded
def test_node_runs_on_an_apt_like_ros_install(ros2_command: Path) -> None:
    distro = _distro()
    _run_check(distro, distro, {})


@pytest.mark.timeout(1800)
def test_system_numpy_1_stays_in_place_and_serves(ros2_command: Path) -> None:
    """numpy 1.23.5 as the system's: pip with constraints-robot.txt keeps it, the node runs on it.

    One distro is enough (the point is NumPy, not the distro): Jazzy, the LTS.
    """
    distro = _distro()
    if distro != "jazzy":
        pytest.skip("the NumPy 1.x underlay runs under the Jazzy environment only")
    out = _run_check(distro, f"{distro}-numpy1", {"UNDERLAY_NUMPY": NUMPY_1})
    assert f"system numpy {NUMPY_1})" in out, out
    assert f"apt-underlay: numpy {NUMPY_1} from " in out and "/usr/lib/python3/dist-packages" \
        in out, out
