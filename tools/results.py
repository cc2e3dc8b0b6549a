"""Result files: every figure in the docs comes from one of these, under docs/results/.

A result file is JSON with the command that made it, the git commit, the date (UTC), the machine
(cores, load average before and after, Python/torch/onnxruntime versions and any extras such as
precision or input size) and the figures the command wrote. `tools/doc_tables.py` renders the
docs' tables from them.

Library use (standard library only, so it runs without the package's environment)::

    from results import write_result
    write_result("speed_cpu", "uncertainty-seg bench ...", figures, precision="fp32")

Command line: run a command that writes a JSON file and record it. `{json}` in the command's
arguments is replaced by a temporary file the command writes to (or name the file with
--figures-from); the command is recorded as given, `{json}` included::

    python tools/results.py run NAME [--key KEY] [--extra k=v ...] -- CMD ... --json {json}

With --key the file holds several runs: figures[KEY] and command[KEY] are replaced, the others
kept (e.g. one evaluation per model and split); the commit, date and machine are the latest run's.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "docs" / "results"
REQUIRED_KEYS = ("command", "commit", "date", "machine", "figures")


def result_path(name: str) -> Path:
    """The file of the result called NAME."""
    return RESULTS_DIR / f"{name}.json"


def load_result(name: str) -> dict[str, Any]:
    """Read the result called NAME (a clear error names the command that makes it)."""
    path = result_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run the command that makes it "
                                f"(python tools/results.py run {name} -- ...)")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def git_commit() -> str:
    """HEAD's commit, with '-dirty' when tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine(load_before: tuple[float, float, float] | None = None,
            **extras: Any) -> dict[str, Any]:
    """The machine a figure was measured on: cores, load, library versions and EXTRAS."""
    info: dict[str, Any] = {
        "cpu_cores": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": _version("torch"),
        "onnxruntime": _version("onnxruntime"),
        "load_avg_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
    }
    if load_before is not None:
        info["load_avg_1_5_15_before"] = [round(x, 2) for x in load_before]
    info.update(extras)
    return info


def write_result(name: str, command: str | dict[str, str], figures: Any,
                 load_before: tuple[float, float, float] | None = None,
                 **machine_extras: Any) -> Path:
    """Write docs/results/NAME.json; commit, date and machine are filled in here."""
    record = {
        "name": name,
        "command": command,
        "commit": git_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(load_before, **machine_extras),
        "figures": figures,
    }
    path = result_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, sort_keys=False, default=str) + "\n")
    return path


def _parse_extra(items: list[str]) -> dict[str, str]:
    extras = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--extra takes key=value, got {item!r}")
        extras[key] = value
    return extras


def _run(args: argparse.Namespace) -> int:
    cmd = list(args.cmd)
    if not cmd:
        raise SystemExit("no command given after --")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_json = str(Path(tmp) / "figures.json")
        argv = [a.replace("{json}", tmp_json) for a in cmd]
        load_before = os.getloadavg()
        rc = subprocess.run(argv, cwd=ROOT, check=False).returncode
        if rc != 0:
            print(f"error: the command exited {rc}; {result_path(args.name)} not written",
                  file=sys.stderr)
            return rc
        source = Path(args.figures_from) if args.figures_from else Path(tmp_json)
        figures = json.loads(source.read_text())
    command_text = shlex.join(cmd)
    command: str | dict[str, str] = command_text
    if args.key:
        old = load_result(args.name) if result_path(args.name).is_file() else {}
        old_cmd = old.get("command")
        commands = dict(old_cmd) if isinstance(old_cmd, dict) else {}
        all_figures = dict(old.get("figures") or {}) if isinstance(old_cmd, dict) else {}
        commands[args.key] = command_text
        all_figures[args.key] = figures
        command, figures = commands, all_figures
    path = write_result(args.name, command, figures, load_before, **_parse_extra(args.extra))
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run a command and record the JSON it writes")
    run.add_argument("name", help="result name: docs/results/NAME.json")
    run.add_argument("--key", help="store under this key, keeping the file's other keys")
    run.add_argument("--figures-from", help="the JSON file the command writes "
                     "(default: the file passed as {json})")
    run.add_argument("--extra", action="append", default=[], metavar="K=V",
                     help="machine detail to record, e.g. precision=int8 input=168x224")
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.cmd = argv[split + 1:]
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
