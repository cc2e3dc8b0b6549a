"""The docs' generated tables equal what tools/doc_tables.py writes from docs/results/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RESULTS = sorted((REPO / "docs" / "results").glob("*.json"))
sys.path.insert(0, str(REPO / "tools"))

import doc_tables  # noqa: E402
import results  # noqa: E402


def test_every_table_matches_its_result_files() -> None:
    run = subprocess.run([sys.executable, str(REPO / "tools" / "doc_tables.py"), "--check"],
                         cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, ("tables differ from docs/results/ (run python "
                                 "tools/doc_tables.py):\n" + run.stdout + run.stderr)


def test_every_marked_table_has_a_renderer_and_every_renderer_a_table() -> None:
    used = set()
    for path in doc_files():
        for match in doc_tables.MARKER.finditer(path.read_text()):
            assert match.group(2) in doc_tables.RENDERERS, (path, match.group(2))
            used.add(match.group(2))
    assert used == set(doc_tables.RENDERERS)


def doc_files() -> list[Path]:
    return doc_tables.doc_files()


def test_check_reports_a_table_edited_by_hand(tmp_path: Path) -> None:
    """The check can fail: a changed figure inside a table is reported by name."""
    path = next(p for p in doc_files() if doc_tables.MARKER.search(p.read_text()))
    match = doc_tables.MARKER.search(path.read_text())
    assert match is not None
    edited = match.group(0).replace("|", "| 9.999 |", 2)
    _, changed = doc_tables.render_file(edited, path)
    assert changed == [f"{path.relative_to(REPO)}: {match.group(2)}"]


@pytest.mark.parametrize("path", RESULTS, ids=[p.name for p in RESULTS])
def test_result_file_records_how_it_was_made(path: Path) -> None:
    record = json.loads(path.read_text())
    for key in results.REQUIRED_KEYS:
        assert record.get(key), f"{path.name} has no {key}"
    assert len(record["commit"].split("-")[0]) == 40, record["commit"]
    machine = record["machine"]
    for key in ("cpu_cores", "torch", "onnxruntime", "load_avg_1_5_15_after"):
        assert key in machine, f"{path.name}: machine has no {key}"


def test_there_are_result_files() -> None:
    assert RESULTS, "docs/results/ holds no result file"


def test_write_result_fills_commit_date_and_machine(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)
    path = results.write_result("x", "echo 1", {"a": 1.0}, precision="fp32")
    record = json.loads(path.read_text())
    assert record["figures"] == {"a": 1.0} and record["command"] == "echo 1"
    assert record["machine"]["precision"] == "fp32"
    assert record["date"].endswith("Z") and record["commit"] != "unknown"


def test_joint_table_sets_the_shipped_f_phi_beside_each_per_domain_run() -> None:
    """synth_joint: one joint row per scaling domain, its f_φ figures those of synth_domains."""
    joint = results.load_result("synth_domains")["figures"]
    phi = next(k for k in joint if k.startswith("f_φ") and k.endswith("| unseen/fog"))
    lines = doc_tables.synth_joint().splitlines()
    joint_rows = [line for line in lines if "| joint (shipped) |" in line]
    runs, _ = doc_tables.scaling_runs(results.load_result("synth_scaling")["figures"])
    assert [row.split(" | ")[0].lstrip("| ") for row in joint_rows] == sorted({d for d, _ in runs})
    fog = next(row for row in joint_rows if row.startswith("| fog |"))
    assert f"{joint[phi]['aupr']:.3f} / {joint[phi]['maxf05']:.3f}" in fog.split(" | ")[5]
    assert sum("| this domain only |" in line for line in lines) == len(runs)
