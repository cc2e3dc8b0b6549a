"""The one schema of every result file in docs/results/.

A result file is JSON::

    {
      "schema": 1,
      "name": "camvid_folds",                  # the file is docs/results/<name>.json
      "about": "what it measures, one line",
      "dataset": "the frames or data set measured on",
      "commands": {"eval": "python -m studies.row_eval eval ..."},   # by command id
      "commit": "<40 hex digits>",             # HEAD when it was recorded
      "tree": "clean",                         # or "diff sha256:<hex>" (uncommitted changes)
      "date": "2026-12-03T09:14:59Z",          # UTC, when it was recorded
      "machine": {"cpu_cores": 2, "load_avg_1_5_15_after": [...], "torch": ..., ...},
      "rows": {
        "<row id>": {                          # a stable id: tables and prose refer to it
          "label": "the row's name in tables",
          "command": "eval",                   # the id of the command that made the row
          "checkpoints": ["runs/s18/theta_s0.pt"],   # models measured ([] for none)
          "metrics": {...}                     # the figures; an evaluation keys them by
        }                                      # frame set: {"dusk/val": {"aupr": ...}, ...}
      },
      "training": {"<run id>": {"command": "...", "wall_s": 623.3, "cpu_s": 862.3}},  # optional
      #   (and "max_rss_mb", the run's peak memory, where it was measured)
      "note": "a line on the run, e.g. what else loaded the machine"                   # optional
    }

A row may carry more keys from its rows file (`fold_checkpoints` for a model adapted per fold,
`options`, `passes`, `sets`). `commit`/`tree` say exactly which code measured: a tree that was
not clean is recorded with the SHA-256 of `git diff HEAD`, or (files recorded before this
schema) as `LEGACY_DIRTY`. `validate` lists what a record lacks.
"""

from __future__ import annotations

import re
from typing import Any

SCHEMA_VERSION = 1
REQUIRED = ("schema", "name", "about", "dataset", "commands", "commit", "tree", "date",
            "machine", "rows")
ROW_REQUIRED = ("label", "command", "metrics")
MACHINE_REQUIRED = ("cpu_cores", "python", "torch", "onnxruntime", "load_avg_1_5_15_after")
CLEAN = "clean"
DIFF_PREFIX = "diff sha256:"
# Files recorded from a tree with uncommitted changes before the diff's hash was kept.
LEGACY_DIRTY = "dirty, diff not kept (recorded before the schema)"
ROW_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")


def validate(record: dict[str, Any]) -> list[str]:
    """What RECORD lacks or gets wrong against the schema (empty when it conforms)."""
    problems = [f"no {key}" for key in REQUIRED if key not in record]
    if problems:
        return problems
    if record["schema"] != SCHEMA_VERSION:
        problems.append(f"schema {record['schema']!r}, expected {SCHEMA_VERSION}")
    if not COMMIT.match(str(record["commit"])):
        problems.append(f"commit {record['commit']!r} is not 40 hex digits")
    tree = str(record["tree"])
    if tree not in (CLEAN, LEGACY_DIRTY) and not re.match(rf"^{DIFF_PREFIX}[0-9a-f]{{64}}$",
                                                          tree):
        problems.append(f"tree {tree!r}: expected {CLEAN!r} or '{DIFF_PREFIX}<64 hex>'")
    problems += [f"machine has no {key}" for key in MACHINE_REQUIRED
                 if key not in record["machine"]]
    commands = record["commands"]
    if not isinstance(commands, dict) or not commands:
        problems.append("commands is not a non-empty mapping of id to command")
        commands = {}
    rows = record["rows"]
    if not isinstance(rows, dict) or not rows:
        return problems + ["rows is not a non-empty mapping of row id to row"]
    for row_id, row in rows.items():
        if not ROW_ID.match(row_id):
            problems.append(f"row id {row_id!r} is not a stable id (lower case, digits, _.-)")
        problems += [f"row {row_id}: no {key}" for key in ROW_REQUIRED if key not in row]
        if "checkpoints" not in row and "fold_checkpoints" not in row:
            problems.append(f"row {row_id}: no checkpoints")
        if row.get("command") not in commands:
            problems.append(f"row {row_id}: command {row.get('command')!r} is not in commands")
    for run_id, run in (record.get("training") or {}).items():
        problems += [f"training {run_id}: no {key}" for key in ("command", "wall_s", "cpu_s")
                     if key not in run]
    return problems
