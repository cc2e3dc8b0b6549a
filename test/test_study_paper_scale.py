"""studies/paper_scale.sh (the lent-GPU study) end to end on the CPU with tiny counts: it
renders its data, trains f_theta, the control and f_phi with the whole encoder training, and
evaluates every row on every set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SETS = ["val/city-day"] + [f"unseen/{d}" for d in ("rural", "fog", "night", "snow", "offroad")]


@pytest.mark.slow
def test_the_study_runs_end_to_end_with_tiny_counts(tmp_path: Path) -> None:
    work = tmp_path / "ps"
    env = dict(os.environ, MODEL="tiny", RECORD="0", STEPS_TASK="2", STEPS_UNC="2", BATCH="2",
               SOURCE="4", UNLABELLED="1", UNSEEN="1", SIZE="56x112", DEVICE="cpu",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(["bash", "studies/paper_scale.sh", str(work)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # 1 unlabelled frame per domain: the corpus spans all five domains.
    assert len(list((work / "data" / "unlabelled").iterdir())) == 5
    times = json.loads((work / "train_times.json").read_text())
    assert set(times) == {"theta", "control", "phi"}
    for name in ("control", "phi"):  # the whole encoder trained, from f_theta, fresh views
        command = times[name]["command"]
        assert "--no-freeze-encoder" in command and "--view-bank-size 0" in command
        assert "--init-from-teacher" in command
    assert "--loss-weight 0" in times["control"]["command"]
    rows = json.loads((work / "eval.json").read_text())
    assert list(rows) == ["theta_maxs", "control", "phi"]
    for row in rows.values():
        assert sorted(row["metrics"]) == sorted(SETS)
        assert all(0.0 <= m["aupr"] <= 1.0 for m in row["metrics"].values())
    # f_phi trained on: its figures are its own, not f_theta's.
    assert rows["phi"]["metrics"] != rows["theta_maxs"]["metrics"]
