"""Writing and reading result files: the commit, date and machine are filled in here.

    from studies.results import write_result
    write_result("speed_backends", about="...", dataset="...",
                 commands={"bench": "python -m uncertainty_seg_node bench ..."},
                 rows={"ort_int8_t1": {"label": "ONNX Runtime int8, 1 thread",
                                       "command": "bench", "checkpoints": [MODEL],
                                       "metrics": figures}},
                 merge=True, precision="int8")

A tree with uncommitted changes (outside docs/ and *.md, which cannot change a figure) is
refused, naming the changed files; `allow_dirty=True` records it with the SHA-256 of the diff
instead. `merge=True` keeps the rows, commands and training runs of the file already there that
the new record does not replace (rows measured run by run).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from studies.results.schema import CLEAN, DIFF_PREFIX, SCHEMA_VERSION, validate

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = ROOT / "docs" / "results"
# Paths whose changes cannot change a measured figure.
_NOT_CODE = (":(exclude)docs", ":(exclude)*.md")


# A path that starts a string or a word of one (after a space, "=" or a quote), e.g. a command's.
_ABSOLUTE = re.compile(r"(?<![^\s='\"])/[^\s'\"]+")


def relative_paths(value: Any) -> Any:
    """VALUE with each absolute path of this machine in its strings made relative to ROOT.

    A path names this machine's layout and nothing on another: the repository's own files
    become relative to it, the home directory's `~/...`, others `../...` from ROOT. A path is
    one of this machine's when its first component is a directory here, so ROS topics such as
    `/camera/image_raw` stay as they are.
    """
    if isinstance(value, dict):
        return {key: relative_paths(item) for key, item in value.items()}
    if isinstance(value, list):
        return [relative_paths(item) for item in value]
    if not isinstance(value, str):
        return value

    def relative(match: re.Match[str]) -> str:
        path = Path(match.group(0))
        if len(path.parts) < 3 or not Path("/", path.parts[1]).is_dir():
            return match.group(0)
        if path.is_relative_to(ROOT):
            return str(path.relative_to(ROOT))
        if path.is_relative_to(Path.home()):
            return str(Path("~", path.relative_to(Path.home())))
        return os.path.relpath(path, ROOT)

    return _ABSOLUTE.sub(relative, value)


class DirtyTreeError(RuntimeError):
    """The working tree differs from HEAD, so HEAD does not say which code measured."""


def result_path(name: str) -> Path:
    """The file of the result called NAME."""
    return RESULTS_DIR / f"{name}.json"


def load_result(name: str) -> dict[str, Any]:
    """Read the result called NAME (the error names the command that makes one)."""
    path = result_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: studies/README.md names the study that "
                                "makes it (python -m studies.results run NAME ... records one)")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout


def git_state(allow_dirty: bool = False) -> tuple[str, str]:
    """(HEAD's commit, "clean" or "diff sha256:<hash of git diff HEAD>").

    Raises DirtyTreeError, naming the changed files, when tracked code differs from HEAD and
    ALLOW_DIRTY is false.
    """
    commit = _git("rev-parse", "HEAD").strip()
    changed = _git("diff", "HEAD", "--name-only", "--", ".", *_NOT_CODE).split()
    if not changed:
        return commit, CLEAN
    if not allow_dirty:
        raise DirtyTreeError(f"uncommitted changes in {', '.join(changed[:8])}"
                        f"{' ...' if len(changed) > 8 else ''}: commit them (or measure in a "
                        "clean `git worktree add`), or pass --allow-dirty to record the diff's "
                        "hash")
    diff = _git("diff", "HEAD", "--binary", "--", ".", *_NOT_CODE)
    return commit, DIFF_PREFIX + hashlib.sha256(diff.encode()).hexdigest()


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


def write_result(name: str, *, about: str | None = None, dataset: str | None = None,
                 commands: dict[str, str], rows: dict[str, dict[str, Any]],
                 training: dict[str, dict[str, Any]] | None = None, note: str | None = None,
                 load_before: tuple[float, float, float] | None = None,
                 merge: bool = False, allow_dirty: bool = False,
                 **machine_extras: Any) -> Path:
    """Write docs/results/NAME.json in the schema; commit, tree, date and machine filled in.

    ABOUT and DATASET may be left out when merging into a file that has them.
    """
    commit, tree = git_state(allow_dirty)
    old: dict[str, Any] = load_result(name) if merge and result_path(name).is_file() else {}
    record: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "name": name,
        "about": about or old.get("about"),
        "dataset": dataset or old.get("dataset"),
        "commands": {**old.get("commands", {}), **commands},
        "commit": commit,
        "tree": tree,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(load_before, **machine_extras),
        "rows": {**old.get("rows", {}), **rows},
    }
    all_training = {**(old.get("training") or {}), **(training or {})}
    if all_training:
        record["training"] = all_training
    if note or old.get("note"):
        record["note"] = note or old.get("note")
    record = relative_paths(record)
    problems = validate(record)
    if problems:
        raise ValueError(f"{name}: not written, the record does not fit the schema: "
                         + "; ".join(problems))
    path = result_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False, default=str) + "\n")
    return path
