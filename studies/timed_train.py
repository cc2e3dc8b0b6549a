"""One `uncertainty-seg train` run, its wall and CPU seconds kept for the result file.

    python -m studies.timed_train --dir runs/study NAME -- task|uncertainty ARGS ...

Runs `python -m uncertainty_seg_node train ARGS` with its output in DIR/NAME.log and adds
{command, wall_s, cpu_s, load_avg_end, max_rss_mb} under NAME to DIR/train_times.json, which
`python -m studies.row_eval record --times` puts into the result file's `training`.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

from studies.results import ROOT


def train(name: str, argv: list[str], out_dir: Path) -> dict[str, object]:
    """Run one `uncertainty-seg train ...` command; record its wall and CPU seconds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / f"{name}.log"
    before = os.times()
    start = time.perf_counter()
    with log.open("w") as handle:
        subprocess.run([sys.executable, "-m", "uncertainty_seg_node", "train", *argv],
                       check=True, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
    after = os.times()
    record: dict[str, object] = {
        "command": "uncertainty-seg train " + shlex.join(argv),
        "wall_s": round(time.perf_counter() - start, 1),
        "cpu_s": round(after.children_user - before.children_user
                       + after.children_system - before.children_system, 1),
        "load_avg_end": [round(x, 2) for x in os.getloadavg()],
        # the training process's peak memory in MB of 10^6 bytes (Linux reports KiB)
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e6),
    }
    times = out_dir / "train_times.json"
    with (out_dir / "train_times.lock").open("w") as lock:  # runs side by side share the file
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(times.read_text()) if times.is_file() else {}
        data[name] = record
        times.write_text(json.dumps(data, indent=1))
    return record


def main(argv: list[str] | None = None) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=ROOT / "runs" / "study")
    parser.add_argument("name", help="the run's id in train_times.json")
    parser.add_argument("argv", nargs=argparse.REMAINDER, help="-- the `train` arguments")
    args = parser.parse_args(argv)
    train_args = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    print(json.dumps(train(args.name, train_args, args.dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
