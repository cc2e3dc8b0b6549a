"""Every subcommand is registered the one way `cli/main.py` expects, and shared options agree.

A subcommand is a SUBCOMMANDS entry plus a module with a docstring (summary line, then the
description `--help` shows), `add_arguments(parser)` and `run(args)`. Options several commands
take come from `cli/arguments.py`, so they must parse the same way wherever they appear.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import subprocess
import sys

import pytest

from uncertainty_seg_node.cli.main import SUBCOMMANDS, build_parser, description, main
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.runtime import BACKENDS


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser([name])
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def _options(name: str) -> dict[str, argparse.Action]:
    return {flag: action for action in _subparser(name)._actions
            for flag in action.option_strings}


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_subcommand_module_registers_and_its_help_shows_the_docstring(
        name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module(f"uncertainty_seg_node.cli.{SUBCOMMANDS[name][0]}")
    summary, _, body = inspect.cleandoc(module.__doc__ or "").partition("\n")
    assert summary.startswith(f"`uncertainty-seg {name}"), summary
    assert body.strip(), f"{module.__name__} has no description after its summary line"
    assert callable(module.add_arguments) and callable(module.run)
    assert not hasattr(module, "add_parser"), "registration belongs to cli/main.py"
    assert _subparser(name).get_default("func") is module.run

    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    shown = capsys.readouterr().out
    assert f"usage: uncertainty-seg {name}" in shown
    for line in description(module).splitlines():  # as written: RawDescriptionHelpFormatter
        assert line in shown


def test_top_level_help_lists_every_subcommand_with_its_one_line_help(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    for name, (_, help_text) in SUBCOMMANDS.items():
        assert f"{name} {help_text}" in shown


def test_help_of_any_subcommand_imports_no_torch() -> None:
    code = ("import json, sys\n"
            "from uncertainty_seg_node.cli.main import SUBCOMMANDS, main\n"
            "loaded = {}\n"
            "for name in SUBCOMMANDS:\n"
            "    try:\n"
            "        main([name, '--help'])\n"
            "    except SystemExit:\n"
            "        pass\n"
            "    loaded[name] = 'torch' in sys.modules\n"
            "print(json.dumps(loaded))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert set(loaded) == set(SUBCOMMANDS) and not any(loaded.values()), loaded


# Options from cli/arguments.py: wherever a (top-level) subcommand takes one, it parses alike.
SHARED = ("--backend", "--device", "--encoding", "--gamma", "--max-frames", "--json",
          "--no-progress", "--compressed")


@pytest.mark.parametrize("flag", SHARED)
def test_a_shared_option_parses_alike_in_every_subcommand(flag: str) -> None:
    found = {name: _options(name)[flag] for name in SUBCOMMANDS if flag in _options(name)}
    assert len(found) >= 2, f"{flag} is not shared: {sorted(found)}"
    kinds = {(type(a), a.type, tuple(a.choices or ()), a.default) for a in found.values()}
    assert len(kinds) == 1, {name: (a.type, a.choices, a.default) for name, a in found.items()}


def test_backend_device_and_size_values_are_checked_while_parsing() -> None:
    backends = {name: _options(name)["--backend"] for name in SUBCOMMANDS
                if "--backend" in _options(name)}
    assert set(backends) == {"bench-node", "calibrate", "compare", "evaluate", "rank-frames",
                             "replay"}
    for action in backends.values():
        assert tuple(action.choices or ()) == BACKENDS
        assert action.type is not None and action.type("ORT") == "onnxruntime"
    device = _options("evaluate")["--device"].type
    assert device is not None and device("cuda:1") == "cuda:1"
    with pytest.raises(UserError, match="cpu, cuda or cuda:N"):
        device("npu")
    size = _options("bench")["--size"]
    assert size.default == "480x640" and size.type is not None and size.type("30x40") == (30, 40)


@pytest.mark.parametrize(("args", "message"), [
    (["bench", "--model", "m.onnx", "--size", "3y4"], "not of the form HxW"),
    (["evaluate", "--model", "m.onnx", "--data", "d", "--gamma", "1.5"], "--gamma"),
    (["evaluate", "--model", "m.onnx", "--data", "d", "--gamma", "high"], "--gamma"),
    (["rank-frames", "--bag", "b", "--model", "m", "--out", "o", "--max-frames", "0"],
     "--max-frames must be at least 1"),
    (["bench-node", "--device", "npu"], "unknown device 'npu'"),
    (["rank-frames", "--bag", "b", "--model", "m", "--out", "o", "--backend", "vulkan"],
     "unknown backend 'vulkan'"),
])
def test_a_bad_shared_value_is_a_one_line_error(args: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1, err
