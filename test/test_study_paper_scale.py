"""studies/paper_scale.sh (the lent-GPU study) end to end on the CPU with tiny counts: it
renders its data, trains f_theta, the control and f_phi with the whole encoder training, and
evaluates every row on every set; with YCOR and CAMVID set, the same from CamVid day to the real
off-road drive (on small stand-ins of both made here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from uncertainty_seg_node.data.camvid_prepare import CLASSES_YAML

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


def _labelled(folder: Path, names: list[str], ids: list[int], seed: int) -> None:
    """`folder/{images,labels}` of small random frames with label ids drawn from IDS."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    for name in names:
        cv2.imwrite(str(folder / "images" / f"{name}.jpg"),
                    rng.integers(0, 255, (68, 120, 3), dtype=np.uint8))
        cv2.imwrite(str(folder / "labels" / f"{name}.png"),
                    rng.choice(ids, (68, 120)).astype(np.uint8))


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, MODEL="tiny", RECORD="0", STEPS_TASK="2", STEPS_UNC="2", BATCH="2",
                SIZE="56x112", DEVICE="cpu",
                PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **extra)


@pytest.mark.slow
def test_the_ycor_part_runs_end_to_end_with_tiny_counts(tmp_path: Path) -> None:
    """SYNTH=0 YCOR=... CAMVID=...: f_theta on CamVid day, the control and f_phi adapted on
    the drive's first stretch (images only), measured on day/val and both stretches."""
    camvid, ycor, work = tmp_path / "camvid", tmp_path / "ycor", tmp_path / "ps"
    _labelled(camvid / "day" / "train", [f"0006R0_f{i:05d}" for i in range(4)], list(range(12)),
              0)
    _labelled(camvid / "day" / "val", ["0016E5_00001", "0016E5_00002"], list(range(12)), 1)
    (camvid / "classes.yaml").write_text(CLASSES_YAML)
    _labelled(ycor / "offroad" / "train", [f"ycor_{i:06d}" for i in range(6)], [0, 3, 5, 11], 2)
    done = subprocess.run(["bash", "studies/paper_scale.sh", str(work)], cwd=REPO,
                          env=_env(SYNTH="0", CAMVID=str(camvid), YCOR=str(ycor)),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert not (work / "data" / "source").exists()  # SYNTH=0: nothing synthetic rendered
    # the first stretch of the drive, images only, is what f_phi and the control read
    adapt = work / "ycor" / "fold0" / "adapt"
    assert [p.name for p in adapt.iterdir()] == ["images"]
    assert sorted(p.stem for p in (adapt / "images").iterdir()) == [
        f"ycor_{i:06d}" for i in range(3)]
    times = json.loads((work / "train_times.json").read_text())
    assert set(times) == {"theta_camvid", "control_ycor", "phi_ycor"}
    assert f"--data {camvid}/day/train" in times["theta_camvid"]["command"]
    for name in ("control_ycor", "phi_ycor"):
        command = times[name]["command"]
        assert f"--unlabelled {adapt}/images" in command and "--no-freeze-encoder" in command
        assert "theta_camvid.pt" in command and "max_rss_mb" in times[name]
    assert "--loss-weight 0" in times["control_ycor"]["command"]
    rows = json.loads((work / "eval.json").read_text())
    assert list(rows) == ["theta_camvid_maxs", "control_ycor", "phi_ycor"]
    for row in rows.values():
        assert sorted(row["metrics"]) == ["day/val", "fold0/seen", "fold0/unseen"]
        assert all(0.0 <= m["aupr"] <= 1.0 for m in row["metrics"].values())
    assert rows["phi_ycor"]["metrics"] != rows["theta_camvid_maxs"]["metrics"]


def test_ycor_without_camvid_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(["bash", "studies/paper_scale.sh", str(tmp_path / "ps")], cwd=REPO,
                          env=_env(YCOR=str(tmp_path)), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "YCOR needs CAMVID too" in done.stderr
    assert not (tmp_path / "ps").exists()
