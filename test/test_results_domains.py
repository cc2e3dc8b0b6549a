"""The synthetic domains and their seeds live once, in studies/results/figures.py: the study
scripts read them through studies/study_lib.sh, and its helpers do what the scripts rely on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from studies.results.figures import SEED_OFFSETS, SYNTH_DOMAINS

REPO = Path(__file__).resolve().parent.parent
LIB = REPO / "studies" / "study_lib.sh"


def _bash(script: str) -> str:
    """SCRIPT's output, run by bash with the study library sourced, from the repository root."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(["bash", "-c", f"set -euo pipefail; source {LIB}; {script}"], cwd=REPO,
                          env=env, capture_output=True, text=True, check=True).stdout


def test_the_scripts_read_the_domains_and_seeds_of_figures_py() -> None:
    out = _bash('echo "${DOMAINS[@]}"; for d in "${DOMAINS[@]}"; do seed_offset "$d"; done')
    domains, *offsets = out.split("\n")[:-1]
    assert tuple(domains.split()) == SYNTH_DOMAINS
    assert dict(zip(SYNTH_DOMAINS, map(int, offsets))) == SEED_OFFSETS
    # each seed once: a test set never repeats another domain's frames
    assert sorted(SEED_OFFSETS.values()) == list(range(len(SYNTH_DOMAINS)))


def test_an_unknown_domain_stops_the_script() -> None:
    run = subprocess.run(["bash", "-c", f"set -euo pipefail; source {LIB}; "
                          's="$(seed_offset fogg)"; echo reached'], cwd=REPO,
                         capture_output=True, text=True,
                         env=dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}"
                                  f"{os.environ['PATH']}"))
    assert run.returncode != 0 and "unknown domain fogg" in run.stderr
    assert "reached" not in run.stdout


def test_link_subset_takes_the_first_frames_with_their_labels(tmp_path: Path) -> None:
    pool = tmp_path / "pool"
    for i in (3, 1, 2):
        (pool / "leftImg8bit" / "train" / "c").mkdir(parents=True, exist_ok=True)
        (pool / "gtFine" / "train" / "c").mkdir(parents=True, exist_ok=True)
        (pool / "leftImg8bit" / "train" / "c" / f"f{i}_leftImg8bit.png").write_text("")
        (pool / "gtFine" / "train" / "c" / f"f{i}_gtFine_labelIds.png").write_text("")
    _bash(f"link_subset {pool} {tmp_path}/seen 2 yes; link_subset {pool} {tmp_path}/adapt 2 no")
    seen = sorted(p.name for p in (tmp_path / "seen").rglob("*.png"))
    assert seen == ["f1_gtFine_labelIds.png", "f1_leftImg8bit.png", "f2_gtFine_labelIds.png",
                    "f2_leftImg8bit.png"]
    assert sorted(p.name for p in (tmp_path / "adapt").rglob("*.png")) == [
        "f1_leftImg8bit.png", "f2_leftImg8bit.png"]


def test_pool_images_links_every_image_of_each_set_into_one_folder(tmp_path: Path) -> None:
    for name in ("a", "b"):
        folder = tmp_path / name / "leftImg8bit" / "train" / "x"
        folder.mkdir(parents=True)
        (folder / f"{name}_leftImg8bit.png").write_text("")
    _bash(f"pool_images {tmp_path}/all {tmp_path}/a {tmp_path}/b")
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == [
        "a_leftImg8bit.png", "b_leftImg8bit.png"]
