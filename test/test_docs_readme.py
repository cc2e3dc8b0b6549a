"""The README stays a short first read: at most 150 lines, its sections in one reading order."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
ORDER = ["## The two commands", "## On a robot", "## The node", "## Speed", "## Limitations",
         "## Read next"]


def test_the_readme_is_short_and_in_reading_order() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; keep it to 150"
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == ORDER, headings
    assert "tools/dev demo" in lines[lines.index(ORDER[0]) + 3]
