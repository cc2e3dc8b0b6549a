"""studies/timed_train.py: runs side by side each keep their time in train_times.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from studies.results import ROOT


def test_runs_side_by_side_keep_every_record(tmp_path: Path) -> None:
    names = [f"run{i}" for i in range(4)]
    runs = [subprocess.Popen([sys.executable, "-m", "studies.timed_train", "--dir", str(tmp_path),
                              name, "--", "task", "--help"], cwd=ROOT,
                             stdout=subprocess.DEVNULL)
            for name in names]
    assert [run.wait(120) for run in runs] == [0] * len(runs)
    times = json.loads((tmp_path / "train_times.json").read_text())
    assert sorted(times) == names
    for name in names:
        assert times[name]["command"] == "uncertainty-seg train task --help"
        assert times[name]["wall_s"] > 0 and times[name]["cpu_s"] >= 0
        assert times[name]["max_rss_mb"] > 10  # a Python process that imported the package
        assert "--data" in (tmp_path / f"{name}.log").read_text()  # the command's own output
