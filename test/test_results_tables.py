"""The docs' generated tables equal what `python -m studies.results tables` writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from studies.results import load_result, tables
from studies.results.figures import scaling_runs
from studies.results.render import RENDERERS
from studies.results.tables_synth import synth_joint

REPO = Path(__file__).resolve().parent.parent


def test_every_table_matches_its_result_files() -> None:
    run = subprocess.run([sys.executable, "-m", "studies.results", "tables", "--check"],
                         cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, ("tables differ from docs/results/ (run python -m "
                                 "studies.results tables):\n" + run.stdout + run.stderr)


def test_every_marked_table_has_a_renderer_and_every_renderer_a_table() -> None:
    used = set()
    for path in tables.doc_files():
        for match in tables.MARKER.finditer(path.read_text()):
            assert match.group(2) in RENDERERS, (path, match.group(2))
            used.add(match.group(2))
    assert used == set(RENDERERS)


def test_check_reports_a_table_edited_by_hand() -> None:
    """The check can fail: a changed figure inside a table is reported by name."""
    path = next(p for p in tables.doc_files() if tables.MARKER.search(p.read_text()))
    match = tables.MARKER.search(path.read_text())
    assert match is not None
    edited = match.group(0).replace("|", "| 9.999 |", 2)
    _, changed = tables.render_file(edited, path)
    assert changed == [f"{path.relative_to(REPO)}: {match.group(2)}"]


def test_the_index_lists_every_result_file() -> None:
    index = (REPO / "docs" / "results" / "README.md").read_text()
    for path in (REPO / "docs" / "results").glob("*.json"):
        assert f"[`{path.name}`]" in index, path.name


def test_joint_table_sets_the_joint_f_phi_beside_each_per_domain_run() -> None:
    """synth_joint: one joint row per scaling domain, its f_φ figures those of synth_domains."""
    phi = load_result("synth_domains")["rows"]["phi"]["metrics"]["unseen/fog"]
    lines = synth_joint().splitlines()
    joint_rows = [line for line in lines if "| joint |" in line]
    runs, _ = scaling_runs(load_result("synth_scaling")["rows"])
    assert [row.split(" | ")[0].lstrip("| ") for row in joint_rows] == sorted({d for d, _ in runs})
    fog = next(row for row in joint_rows if row.startswith("| fog |"))
    assert f"{phi['aupr']:.3f} / {phi['maxf05']:.3f}" in fog.split(" | ")[5]
    assert sum("| this domain only |" in line for line in lines) == len(runs)
