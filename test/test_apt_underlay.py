"""A robot with ROS 2 from apt, simulated: tools/apt_underlay_check.sh for this venv's distro.

The script builds a "system" Python with a site-packages of its own (apt's numpy, PyYAML,
Pillow and a cv2 without metadata in it), an /opt/ros/<distro>-style underlay (ROS wheels +
ros-tools, its own setup.bash), a real `--system-site-packages` venv of that system Python with
requirements-robot.txt (checked: the system's numpy and cv2 stay the ones imported, no torch,
`pip install` of the package would add nothing else), runs `colcon build` and `ros2 launch`
with the default model (assembled by this environment's torch) and waits for one certain mask
(see its header). The NumPy 1.x run uses Python 3.12 and Ubuntu 24.04's NumPy 1.26.4 (Jazzy on
Noble) where a Python 3.12 is found, else Python 3.11 and NumPy 1.23.5.
The underlay and the venv take minutes to install; they are kept per distro under
$UNCERTAINTY_SEG_APT_CACHE (default ~/.cache/uncertainty_seg_node/apt-underlay) and rebuilt only
when their inputs change; the colcon build and the launch run every time.
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from workspace_fixtures import installed_distro

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[1]
NUMPY_1 = "1.23.5"  # the oldest NumPy with Python 3.11 wheels
NOBLE_NUMPY = "1.26.4"  # Ubuntu 24.04's python3-numpy, on its Python 3.12 (ROS 2 Jazzy's)


def _python312() -> str | None:
    """A working Python 3.12 on this machine (python3.12 on PATH, or a pyenv install), or None."""
    candidates = [shutil.which("python3.12") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys, venv, ensurepip; "
                                "print(sys.version_info[:2] == (3, 12))"],
                               capture_output=True, text=True, timeout=60)
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


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
    env["ASSEMBLE_PYTHON"] = sys.executable  # torch is here, not in the robot's venv
    env["ROS_DOMAIN_ID"] = str(random.randint(221, 229))
    env.update(extra_env)
    result = subprocess.run(
        ["bash", str(REPO / "tools" / "apt_underlay_check.sh"), distro, str(cache / folder)],
        env=env, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    assert f"apt-underlay: OK (ROS 2 {distro}" in result.stdout, result.stdout
    assert "apt-underlay: certain mask 64x48" in result.stdout, result.stdout
    assert "the venv imports the system's numpy" in result.stderr, result.stderr[-3000:]
    assert "would install only: uncertainty" in result.stderr, result.stderr[-3000:]
    return result.stdout


@pytest.mark.timeout(1800)  # a first build of the underlay and venv: 3.5-8 min, more when loaded
def test_node_runs_on_an_apt_like_ros_install(ros2_command: Path) -> None:
    distro = installed_distro()
    _run_check(distro, distro, {})


@pytest.mark.timeout(2400)
def test_system_numpy_1_stays_in_place_and_serves(ros2_command: Path) -> None:
    """A NumPy 1.x as the system's: pip with constraints-robot.txt keeps it, the node runs on it.

    One distro is enough (the point is NumPy and the Python, not the distro): Jazzy, the LTS, on
    its own Python 3.12 with Noble's NumPy 1.26.4 where a Python 3.12 is found.
    """
    distro = installed_distro()
    if distro != "jazzy":
        pytest.skip("the NumPy 1.x underlay runs under the Jazzy environment only")
    python312 = _python312()
    numpy = NOBLE_NUMPY if python312 else NUMPY_1
    extra = {"UNDERLAY_NUMPY": numpy, **({"PYTHON": python312} if python312 else {})}
    out = _run_check(distro, f"{distro}-numpy1-py312" if python312 else f"{distro}-numpy1", extra)
    assert f"system numpy {numpy})" in out, out
    site = "/usr/lib/python3.12/site-packages" if python312 else "/usr/lib/python3.11/"
    assert f"apt-underlay: numpy {numpy} from " in out and site in out, out
