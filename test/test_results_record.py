"""studies/results: every result file has the one schema; recording refuses a dirty tree or
keeps the diff's hash; `run` records a command's JSON as a row."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from studies.results import __main__ as cli
from studies.results import record, schema

REPO = Path(__file__).resolve().parent.parent
RESULTS = sorted((REPO / "docs" / "results").glob("*.json"))
# Recorded from a dirty tree before the diff's hash was kept; a file leaves this list when it is
# recorded again, and none may join it.
LEGACY_DIRTY = {"assembly", "augment_target_cost", "camvid_folds", "camvid_levers",
                "default_model_camvid", "demo", "quantize", "speed_cpu", "speed_node",
                "synth_domains", "synth_scaling"}


@pytest.mark.parametrize("path", RESULTS, ids=[p.name for p in RESULTS])
def test_result_file_has_the_schema(path: Path) -> None:
    data = json.loads(path.read_text())
    assert schema.validate(data) == [], path.name
    assert data["name"] == path.stem


def test_no_result_file_joins_the_legacy_dirty_ones() -> None:
    legacy = {p.stem for p in RESULTS if json.loads(p.read_text())["tree"] == schema.LEGACY_DIRTY}
    assert legacy <= LEGACY_DIRTY, legacy - LEGACY_DIRTY


def test_validate_names_what_a_record_gets_wrong() -> None:
    data = json.loads((REPO / "docs" / "results" / "quantize.json").read_text())
    data["commit"] += "-dirty"
    data["rows"]["default | day/val"] = {"label": "x", "command": "nowhere", "metrics": {}}
    problems = schema.validate(data)
    assert any("40 hex" in p for p in problems)
    assert any("'default | day/val' is not a stable id" in p for p in problems)
    assert any("command 'nowhere' is not in commands" in p for p in problems)
    assert any("no checkpoints" in p for p in problems)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with one commit; results are written to its docs/results/."""
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("-c", "user.email=a@b", "-c", "user.name=a", "add", "code.py")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "one")
    monkeypatch.setattr(record, "ROOT", tmp_path)
    monkeypatch.setattr(record, "RESULTS_DIR", tmp_path / "docs" / "results")
    return tmp_path


def _row(metrics: dict[str, float]) -> dict[str, object]:
    return {"label": "one", "command": "c", "checkpoints": [], "metrics": metrics}


def test_a_clean_tree_is_recorded_clean_and_rows_merge(repo: Path) -> None:
    path = record.write_result("x", about="a", dataset="d", commands={"c": "echo"},
                               rows={"one": _row({"v": 1.0})}, precision="fp32")
    first = json.loads(path.read_text())
    assert first["tree"] == "clean" and len(first["commit"]) == 40
    assert first["machine"]["precision"] == "fp32" and first["date"].endswith("Z")
    record.write_result("x", commands={"c2": "echo 2"},
                        rows={"two": {**_row({"v": 2.0}), "command": "c2"}}, merge=True)
    merged = json.loads(path.read_text())
    assert list(merged["rows"]) == ["one", "two"] and merged["about"] == "a"


def test_a_dirty_tree_is_refused_or_recorded_with_the_diffs_hash(repo: Path) -> None:
    (repo / "code.py").write_text("x = 2\n")
    with pytest.raises(record.DirtyTreeError, match="code.py"):
        record.write_result("x", about="a", dataset="d", commands={"c": "echo"},
                            rows={"one": _row({})})
    path = record.write_result("x", about="a", dataset="d", commands={"c": "echo"},
                               rows={"one": _row({})}, allow_dirty=True)
    tree = json.loads(path.read_text())["tree"]
    assert tree.startswith(schema.DIFF_PREFIX) and len(tree) == len(schema.DIFF_PREFIX) + 64


def test_a_change_to_the_docs_only_is_clean(repo: Path) -> None:
    (repo / "docs").mkdir(exist_ok=True)
    (repo / "code.md").write_text("prose\n")
    subprocess.run(["git", "add", "code.md"], cwd=repo, check=True)
    assert record.git_state()[1] == "clean"


def test_run_records_the_commands_json_as_a_row(repo: Path) -> None:
    write = "import json, sys; json.dump({'median_ms': 4.5}, open(sys.argv[1], 'w'))"
    rc = cli.main(["run", "speed", "--row", "t1", "--label", "1 thread", "--about", "a",
                   "--dataset", "d", "--checkpoint", "m.onnx", "--extra", "threads=1", "--",
                   sys.executable, "-c", write, "{json}"])
    assert rc == 0
    data = json.loads((repo / "docs" / "results" / "speed.json").read_text())
    assert schema.validate(data) == []
    assert data["rows"]["t1"] == {"label": "1 thread", "command": "t1",
                                  "checkpoints": ["m.onnx"], "metrics": {"median_ms": 4.5}}
    assert data["commands"]["t1"].endswith("'{json}'") and data["machine"]["threads"] == "1"


def test_run_refuses_a_dirty_tree_before_running(repo: Path) -> None:
    (repo / "code.py").write_text("x = 3\n")
    marker = repo / "ran"
    with pytest.raises(SystemExit, match="uncommitted changes in code.py"):
        cli.main(["run", "speed", "--row", "t1", "--label", "l", "--about", "a", "--dataset",
                  "d", "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"])
    assert not marker.exists()
