"""Training curves beside the checkpoint (`<out>.log.jsonl`, `<out>.log.csv`) and the progress bar.

Only rank 0 writes. On `--resume` the JSONL keeps its rows up to the resumed step, so a run that
crashed after its last checkpoint does not log the lost steps twice.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from uncertainty_seg_node.train.config import TrainConfig
from uncertainty_seg_node.train.distributed import DistEnv

# Columns first in the CSV when present (the rest follow alphabetically).
_FIRST = ("step", "loss", "loss_sup", "loss_c", "consistency_rate", "gamma", "gamma_ema",
          "certain_fraction", "source_miou", "lr", "grad_norm", "step_s")


def log_paths(out: str | Path) -> tuple[Path, Path]:
    """(`<out stem>.log.jsonl`, `<out stem>.log.csv`) beside the checkpoint."""
    base = Path(out).with_suffix("")
    return base.with_name(base.name + ".log.jsonl"), base.with_name(base.name + ".log.csv")


def read_log(out: str | Path) -> list[dict[str, float]]:
    """The rows of a run's JSONL log."""
    jsonl, _ = log_paths(out)
    if not jsonl.is_file():
        return []
    return [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]


class TrainLog:
    """Appends one JSON row per logged step; writes the CSV of all rows on close."""

    def __init__(self, out: str | Path, *, enabled: bool, start_step: int) -> None:
        self.enabled = enabled
        self.rows: list[dict[str, float]] = []
        self.jsonl, self.csv = log_paths(out)
        self._file: TextIO | None = None
        if not enabled:
            return
        self.jsonl.parent.mkdir(parents=True, exist_ok=True)
        if start_step > 0:
            self.rows = [r for r in read_log(out) if r.get("step", 0) <= start_step]
        self._file = self.jsonl.open("w")
        for row in self.rows:
            self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    def write(self, step: int, metrics: dict[str, float]) -> None:
        if self._file is None:
            return
        row: dict[str, float] = {"step": step, **{k: _round(v) for k, v in metrics.items()}}
        self.rows.append(row)
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is None:
            return
        self._file.close()
        self._file = None
        keys = sorted({k for row in self.rows for k in row})
        columns = [k for k in _FIRST if k in keys] + [k for k in keys if k not in _FIRST]
        with self.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)


def _round(value: float) -> float:
    return float(f"{value:.6g}")


class _Progress:
    """tqdm on a TTY; otherwise about ten plain lines per run (none with --quiet)."""

    def __init__(self, config: TrainConfig, env: DistEnv, start_step: int) -> None:
        self.total = config.steps
        self.every = max(1, config.steps // 10)
        self.active = env.is_main and not config.quiet
        self.bar: Any = None
        if self.active and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=config.steps, initial=start_step, desc=f"train {config.mode}",
                            dynamic_ncols=True, file=sys.stderr)

    def update(self, step: int, metrics: dict[str, float]) -> None:
        if not self.active:
            return
        shown = {k: metrics[k] for k in ("loss", "loss_c", "gamma", "source_miou") if k in metrics}
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({k: f"{v:.3g}" for k, v in shown.items()}, refresh=False)
        elif step % self.every == 0 or step == self.total:
            text = " ".join(f"{k}={v:.4g}" for k, v in shown.items())
            print(f"step {step}/{self.total} {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextmanager
def progress(config: TrainConfig, env: DistEnv, start_step: int) -> Iterator[_Progress]:
    """The run's progress display, closed however the loop ends."""
    bar = _Progress(config, env, start_step)
    try:
        yield bar
    finally:
        bar.close()
