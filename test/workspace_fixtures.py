"""Commands run as a user runs them in a sourced colcon workspace: `ros2 launch`, `ros2 run`, ...

Each command runs in bash after `source install/setup.bash` (with this environment's venv
active), in its own process group so that a test can signal the whole tree the way Ctrl-C in a
terminal does, and find any process the tree left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest


def sourced(install: Path, command: str) -> list[str]:
    """`bash -c` running `command` after sourcing the venv and the workspace."""
    activate = Path(sys.executable).parent / "activate"
    prelude = f"source {activate} && " if activate.exists() else ""
    return ["bash", "-c", f"{prelude}source {install}/setup.bash && exec {command}"]


def ros_env(domain_id: int) -> dict[str, str]:
    return dict(os.environ, ROS_DOMAIN_ID=str(domain_id), PYTHONUNBUFFERED="1",
                ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")


def run(install: Path, command: str, domain_id: int, timeout: float = 60.0
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(sourced(install, command), env=ros_env(domain_id), text=True,
                          capture_output=True, timeout=timeout, cwd=install.parent)


def start(install: Path, command: str, domain_id: int, log: Path) -> subprocess.Popen[bytes]:
    """`command` in a new session (its own process group), output to `log`."""
    with log.open("wb") as sink:
        return subprocess.Popen(sourced(install, command), env=ros_env(domain_id),
                                stdout=sink, stderr=subprocess.STDOUT, cwd=install.parent,
                                start_new_session=True)


def wait_for_line(log: Path, text: str, process: subprocess.Popen[bytes],
                  timeout: float) -> bool:
    """True once `text` is in the log; False on timeout or when the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return True
        if process.poll() is not None:
            return text in log.read_text(errors="replace")
        time.sleep(0.1)
    return False


def group_members(pgid: int) -> list[Any]:
    """Every live process (psutil.Process) of process group `pgid`; zombies count as gone."""
    import psutil  # installed with ros-tools, as launch needs it

    found = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


def interrupt(process: subprocess.Popen[bytes], timeout: float) -> tuple[int | None, float]:
    """Ctrl-C: SIGINT to the process group; (exit code or None if still running, seconds)."""
    start_time = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    try:
        code: int | None = process.wait(timeout)
    except subprocess.TimeoutExpired:
        code = None
    return code, time.monotonic() - start_time


def kill_group(pgid: int) -> None:
    """Clean up after a failed test: SIGKILL whatever is left of the group."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def installed_distro() -> str:
    """The ROS 2 distro whose rclpy wheel this environment holds (skips the test without one)."""
    for name in ("kilted", "jazzy"):
        try:
            metadata.version(f"ros-{name}-rclpy")
        except metadata.PackageNotFoundError:
            continue
        return name
    pytest.skip("no ros-<distro>-rclpy wheel in this environment")
