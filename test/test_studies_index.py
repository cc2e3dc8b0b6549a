"""studies/README.md names every study script and rows file: one README line per study, naming
the result file it makes."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STUDIES = REPO / "studies"
TOOLS = {"__init__.py", "row_eval.py", "timed_train.py", "study_lib.sh"}  # tools, not studies


def unnamed_studies(folder: Path, index: str) -> list[str]:
    """Study scripts of FOLDER (*.sh, *.py but the shared tools) that INDEX does not name."""
    scripts = [p for p in sorted(folder.iterdir())
               if p.suffix in (".sh", ".py") and p.name not in TOOLS]
    return [p.name for p in scripts
            if f"studies/{p.name}" not in index and f"studies.{p.stem}" not in index]


def test_every_study_has_its_readme_line() -> None:
    assert unnamed_studies(STUDIES, (STUDIES / "README.md").read_text()) == []


def test_the_check_finds_a_study_without_a_line(tmp_path: Path) -> None:
    for name in ("new_study.sh", "row_eval.py", "named.py"):
        (tmp_path / name).write_text("")
    assert unnamed_studies(tmp_path, "`python -m studies.named`") == ["new_study.sh"]


def test_every_rows_file_belongs_to_a_named_study() -> None:
    index = (STUDIES / "README.md").read_text()
    assert [p.name for p in STUDIES.glob("*.rows.yaml") if p.name not in index] == []
