"""The node exits when the process that started it dies (a `ros2 launch` killed hard).

A parent process starts the real node (the console script, real rclpy) and is then killed; the
node must stop by itself within seconds instead of publishing on, re-parented. This test makes
itself a child subreaper for the time of the test, so the orphaned node is re-parented to it
and its exit code can be read.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("rclpy")

from uncertainty_seg_node.ros_drivers.harness import NodeProcess  # noqa: E402

pytestmark = [pytest.mark.ros,
              pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="PR_SET_PDEATHSIG exists only on Linux")]

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
# The parent: starts the command given as arguments, prints its pid, then waits to be killed.
PARENT = """
import subprocess, sys, time
with open(sys.argv[1], "wb") as log:
    child = subprocess.Popen(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT)
print(child.pid, flush=True)
time.sleep(600)
"""


@pytest.fixture
def subreaper() -> Iterator[None]:
    """Orphans of this test's processes become children of the test process (not of init)."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def _wait_exit(pid: int, timeout: float) -> int | None:
    """The exit status of our (adopted) child `pid`, or None if it still runs at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    return None


def _wait_for(path: Path, text: str, parent: subprocess.Popen[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = path.read_text(errors="replace") if path.exists() else ""
        if text in log:
            return log
        assert parent.poll() is None, f"the parent exited early:\n{log}"
        time.sleep(0.1)
    raise AssertionError(f"no {text!r} within {timeout} s:\n{path.read_text(errors='replace')}")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_node_exits_when_its_parent_is_killed(sig: int, node_model: Path, dds_domain: int,
                                              tmp_path: Path, subreaper: None) -> None:
    node = NodeProcess({"model_path": str(node_model)}, domain_id=dds_domain)
    log = tmp_path / "node.log"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(log), *node.command],
                              env=node.env, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    node_pid = int(parent.stdout.readline())
    try:
        _wait_for(log, "publishing under", parent, timeout=120.0)
        parent.send_signal(sig)
        assert parent.wait(10.0) == -sig
        code = _wait_exit(node_pid, timeout=15.0)
        assert code is not None, "the node went on running after its parent died"
        assert code == 0, log.read_text(errors="replace")  # a clean stop, as after SIGTERM
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(5.0)
        if _wait_exit(node_pid, timeout=0.0) is None:
            try:
                os.kill(node_pid, signal.SIGKILL)
                os.waitpid(node_pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


# The child of a parent that exits at once: it waits for its go (a file), by then orphaned, and
# reports what exit_with_parent says. The kernel would never signal it: the call must say so.
ORPHAN = """
import os, sys, time
from uncertainty_seg_node.ros.parent_death import exit_with_parent
go = sys.argv[1]
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.02)
print(exit_with_parent(), flush=True)
"""


def test_a_parent_dead_before_the_call_is_reported(tmp_path: Path, subreaper: None) -> None:
    go = tmp_path / "go"
    out = tmp_path / "orphan.out"
    # The starter exits once the child has noted its parent, i.e. imported parent_death.
    starter = ("import subprocess, sys, time\n"
               "with open(sys.argv[1], 'w') as out:\n"
               "    child = subprocess.Popen([sys.executable, '-c', sys.argv[2], sys.argv[3]],"
               " stdout=out, stderr=subprocess.STDOUT)\n"
               "while 'ready' not in open(sys.argv[1]).read():\n"
               "    time.sleep(0.02)\n"
               "print(child.pid, flush=True)\n")
    parent = subprocess.run([sys.executable, "-c", starter, str(out), ORPHAN, str(go)],
                            capture_output=True, text=True, timeout=60)
    assert parent.returncode == 0, parent.stderr
    child = int(parent.stdout)
    go.write_text("")
    assert _wait_exit(child, timeout=60.0) == 0
    assert out.read_text().split() == ["ready", "False"]


def test_a_living_parent_is_reported_alive(tmp_path: Path) -> None:
    probe = ("from uncertainty_seg_node.ros.parent_death import exit_with_parent\n"
             "import os\n"
             "print(exit_with_parent(), exit_with_parent(parent=os.getpid()))\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False"]
