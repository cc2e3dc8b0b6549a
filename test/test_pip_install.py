"""pip puts `uncertainty-seg` and the node scripts on the venv's PATH, however it installs.

Installs into fresh venvs of the machine's Python, offline (`--no-deps --no-build-isolation`:
the venv's own pip and setuptools, the bundled one or this environment's, from the wheels this
machine has): a wheel, an editable install (PEP 660), and the legacy `setup.py develop` that
pip falls back to where the setuptools at hand lacks PEP 660 (it honours setup.cfg's
`[develop] script_dir`, colcon's lib/uncertainty_seg_node/, unless setup.py says otherwise).
colcon keeping them in lib/ for `ros2 run` is test_colcon_build.py's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = ("uncertainty-seg", "uncertainty_seg_node", "uncertainty_seg_lifecycle_node")
SOURCES = ("setup.py", "setup.cfg", "package.xml", "resource", "launch", "config", "models",
           "uncertainty_seg_node")


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What setup.py packages, copied (an install must not write into the checkout)."""
    root = tmp_path_factory.mktemp("pip_source")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, root / name)
    return root


def _venv(path: Path, setuptools: str) -> Path:
    """A venv of the machine's Python with `wheel` and the setuptools asked for.

    'bundled': the one `python -m venv` brings (65.5 with Python 3.11), else this environment's
    version; pip finds both among the wheels this machine already has.
    """
    base = Path(sys.base_prefix) / "bin" / "python3"
    subprocess.run([str(base), "-m", "venv", str(path)], check=True, timeout=300)
    python = path / "bin" / "python"
    wanted = [f"wheel=={metadata.version('wheel')}"]
    if setuptools != "bundled":
        wanted.append(f"setuptools=={setuptools}")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", *wanted],
                   check=True, timeout=300)
    return python


def _run_help(python: Path) -> str:
    """`uncertainty-seg --help` from the venv's bin/, with this venv's packages as the deps."""
    site = sysconfig.get_paths()["purelib"]
    result = subprocess.run([str(python.parent / "uncertainty-seg"), "--help"],
                            env={"PYTHONPATH": site, "PATH": str(python.parent)},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


NEW = metadata.version("setuptools")  # this environment's


@pytest.mark.parametrize(("how", "setuptools"), [
    ("wheel", NEW), ("editable", "bundled"), ("setup.py develop", NEW)])
def test_scripts_land_on_the_venv_path(source: Path, tmp_path: Path, how: str,
                                       setuptools: str) -> None:
    python = _venv(tmp_path / "venv", setuptools)
    work = tmp_path / "src"
    shutil.copytree(source, work)
    if how == "setup.py develop":  # what pip runs for `-e` without PEP 660
        command = [str(python), "setup.py", "-q", "develop", "--no-deps"]
    else:
        command = [str(python), "-m", "pip", "install", "-q", "--no-deps",
                   "--no-build-isolation", *(["-e"] if how == "editable" else []), "."]
    result = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    bin_dir = python.parent
    assert [name for name in SCRIPTS if (bin_dir / name).is_file()] == list(SCRIPTS)
    assert not (tmp_path / "venv" / "lib" / "uncertainty_seg_node").exists()
    assert "usage: uncertainty-seg" in _run_help(python)
