"""Where a model came from, stored in `ModelConfig.provenance` of every checkpoint."""

from __future__ import annotations

import datetime
import shlex
import subprocess
from pathlib import Path
from typing import Any

import torch

from uncertainty_seg_node.synth.writers import is_synthetic_folder
from uncertainty_seg_node.train.config import TrainConfig

_REPO = Path(__file__).resolve().parents[2]


def git_commit(repo: Path = _REPO) -> str | None:
    """`<sha>` (`+dirty` when tracked files changed) of the source tree, if it is a git repo."""
    if not (repo / ".git").exists():
        return None
    try:
        sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def provenance(
    config: TrainConfig, *, step: int, world: int, device: str, wall_s: float,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """JSON-serialisable record of the run: command, data, steps, seed, commit, time, ..."""
    record: dict[str, Any] = {
        "stage": config.mode,
        "command": shlex.join(config.command) if config.command else None,
        "data": _abs(config.data),
        "split": config.split,
        "classes": _abs(config.classes),
        "unlabelled": _abs(config.unlabelled),
        "unlabelled_topic": config.unlabelled_topic,
        "teacher": _abs(config.teacher),
        "init": _abs(config.init),
        "steps": step,
        "seed": config.seed,
        "git_commit": git_commit(),
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(wall_s, 1),
        "world_size": world,
        "device": device,
        "torch": torch.__version__,
        "train_config": {k: v for k, v in config.to_dict().items() if k != "command"},
    }
    data = [path for path in (config.data, config.unlabelled) if path]
    if data and all(is_synthetic_folder(path) for path in data):
        record["synthetic"] = True  # read by model/description.py: the node warns at start
    record.update(extra or {})
    return record


def _abs(path: str | None) -> str | None:
    return str(Path(path).resolve()) if path else None
