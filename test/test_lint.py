"""Lint as tests (ros2/examples style): ruff, mypy on the core and the studies, and the core
stays ROS-free."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "uncertainty_seg_node"


def _tool(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    found = str(exe) if exe.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (tools/dev setup installs it)")
    return found


def test_ruff() -> None:
    targets = ["uncertainty_seg_node", "launch", "test", "tools", "studies", "setup.py"]
    result = subprocess.run(
        [_tool("ruff"), "check", *targets], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


# The oldest Python the package supports: ROS 2 Humble's (Ubuntu 22.04).
OLDEST_PYTHON = "3.10"
VERMIN_TARGETS = ["uncertainty_seg_node", "launch", "tools", "studies", "test", "setup.py"]


def _vermin(*paths: str | Path) -> subprocess.CompletedProcess[str]:
    # `--exclude long`: vermin takes torch's `Tensor.long()` for Python 2's `long` and then
    # leaves the file's result undecided ("File with incompatible versions").
    return subprocess.run(
        [_tool("vermin"), f"--target={OLDEST_PYTHON}-", "--violations", "--no-tips",
         "--exclude", "long", *map(str, paths)], cwd=REPO, capture_output=True, text=True,
    )


def test_vermin_finds_an_api_newer_than_the_oldest_python(tmp_path: Path) -> None:
    """The check below can fail: vermin with these flags refuses Python 3.11's datetime.UTC."""
    sample = tmp_path / "new_api.py"
    sample.write_text("import datetime\n\nprint(datetime.datetime.now(datetime.UTC))\n")
    result = _vermin(sample)
    assert result.returncode != 0 and "datetime.UTC" in result.stdout, result.stdout


def test_code_runs_on_the_oldest_python() -> None:
    """No API newer than Python 3.10 (ROS 2 Humble) in the package, launch, tools or tests."""
    result = _vermin(*VERMIN_TARGETS)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    # A file vermin cannot decide is not checked.
    assert "File with incompatible versions" not in result.stdout, result.stdout
    analysed = int(result.stdout.split("Analyzing ")[1].split()[0])
    assert analysed > 200, result.stdout  # the scan saw the package, not an empty folder


def test_mypy_core() -> None:
    result = subprocess.run(
        [_tool("mypy"), "uncertainty_seg_node", "studies"], cwd=REPO, capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_core_does_not_import_rclpy() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in ("ros", "ros_drivers"):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in {"rclpy", "launch", "launch_ros"} for n in names):
                offenders.append(f"{rel}:{node.lineno}")
    assert not offenders, f"rclpy imported outside ros/ and ros_drivers/: {offenders}"


def test_the_node_process_never_imports_its_drivers() -> None:
    """ros/ holds only what the node process runs; the DDS drivers depend on it, not back."""
    offenders = []
    for path in (PACKAGE / "ros").rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and (
                    "ros_drivers" in node.module or node.module.startswith(
                        ("uncertainty_seg_node.replay", "uncertainty_seg_node.synth",
                         "uncertainty_seg_node.bags"))):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not offenders, offenders
