"""Commands check their optional dependencies first and fail in one line naming the extra.

Each case runs the real CLI in a fresh interpreter where the dependency cannot be imported
(`sys.modules[name] = None` is how Python marks a module as absent), with a bag path that does
not exist: the dependency error must come first, before any work or input check.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.optional_deps import missing, require


def _cli_without(module: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            "from uncertainty_seg_node.cli.main import main\n"
            f"sys.exit(main({args!r}))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("module, args, extra", [
    ("matplotlib", ["replay", "--bag", "absent.mcap", "--image-topic", "/camera/image_raw",
                    "--model", "m.onnx", "--report", "out"], "eval"),
    ("torch", ["replay", "--bag", "absent.mcap", "--image-topic", "/camera/image_raw",
               "--model", "m.pt", "--out", "o.mcap"], "train"),
    ("torch", ["compare", "--model", "phi.pt", "--data", "absent"], "train"),
])
def test_missing_extra_fails_first_in_one_line(module: str, args: list[str], extra: str,
                                               tmp_path: Path) -> None:
    done = _cli_without(module, args)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert module in lines[0] and f"uncertainty_seg_node[{extra}]" in lines[0]


def test_require_names_every_missing_module_once() -> None:
    assert missing(["json", "no_such_module_here"]) == ["no_such_module_here"]
    require(["json"], "nothing")
    with pytest.raises(UserError, match=r"needs a_missing_mod, b_missing_mod.*\[a_missing_mod,"):
        require(["json", "a_missing_mod", "b_missing_mod"], "x")
