"""Run a command that writes a JSON file of figures, and record them as one row of a result.

    python -m studies.results run NAME --row ID --label LABEL [--checkpoint PATH ...] \
        [--about TEXT --dataset TEXT] [--extra K=V ...] [--allow-dirty] -- CMD ... {json}

`{json}` in the command's arguments is replaced by a temporary file the command writes (or name
the file with --figures-from). The row's command is recorded under the row's id, as given
(`{json}` included); rows already in the file are kept, so each row can be its own run (one per
model, thread count or distro). --about and --dataset are needed for a new file.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from studies.results import record
from studies.results.record import DirtyTreeError, git_state, result_path, write_result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `run`."""
    parser.add_argument("name", help="result name: docs/results/NAME.json")
    parser.add_argument("--row", required=True, help="the row's stable id, e.g. threads1")
    parser.add_argument("--label", required=True, help="the row's name in tables")
    parser.add_argument("--checkpoint", action="append", default=[],
                        help="a model the command measures (repeat for several)")
    parser.add_argument("--about", help="what the file measures (a new file needs it)")
    parser.add_argument("--dataset", help="the frames or data set (a new file needs it)")
    parser.add_argument("--note", help="a line on the run, e.g. what else loaded the machine")
    parser.add_argument("--figures-from", type=Path,
                        help="the JSON file the command writes (default: the file passed as "
                             "{json})")
    parser.add_argument("--extra", action="append", default=[], metavar="K=V",
                        help="machine detail to record, e.g. precision=int8")
    parser.add_argument("--allow-dirty", action="store_true",
                        help="record from a tree with uncommitted changes (the diff's hash is "
                             "kept)")


def _extras(items: list[str]) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--extra takes key=value, got {item!r}")
        extras[key] = value
    return extras


def run(args: argparse.Namespace) -> int:
    """Run ARGS.cmd (what followed `--`) and record its figures as row --row of result NAME."""
    cmd = args.cmd
    if not cmd:
        raise SystemExit("no command given after --")
    if not result_path(args.name).is_file() and not (args.about and args.dataset):
        raise SystemExit(f"{result_path(args.name)} is new: give --about and --dataset")
    try:
        git_state(args.allow_dirty)  # refuse before spending the run, not after
    except DirtyTreeError as error:
        raise SystemExit(f"error: {error}") from None
    with tempfile.TemporaryDirectory() as tmp:
        tmp_json = str(Path(tmp) / "figures.json")
        load_before = os.getloadavg()
        rc = subprocess.run([a.replace("{json}", tmp_json) for a in cmd], cwd=record.ROOT,
                            check=False).returncode
        if rc != 0:
            print(f"error: the command exited {rc}; {result_path(args.name)} not written",
                  file=sys.stderr)
            return rc
        figures = json.loads((args.figures_from or Path(tmp_json)).read_text())
    row = {"label": args.label, "command": args.row, "checkpoints": args.checkpoint,
           "metrics": figures}
    path = write_result(args.name, about=args.about, dataset=args.dataset,
                        commands={args.row: shlex.join(cmd)}, rows={args.row: row},
                        note=args.note, load_before=load_before, merge=True,
                        allow_dirty=args.allow_dirty, **_extras(args.extra))
    print(f"wrote {path.relative_to(record.ROOT)}")
    return 0
