"""The prose figure check (studies/results/prose_figures.py): the docs pass it, and it fails on
each kind of stale figure a reader found in them, planted into a doc against the real result
files."""

from __future__ import annotations

from pathlib import Path

import pytest

from studies.results import prose_figures

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "planted.md"  # never written: only its place (for relative paths) counts


def failing(text: str) -> list[str]:
    return [f.problem for f in prose_figures.check_text(text, DOC)]


def test_the_docs_pass() -> None:
    assert [str(f) for f in prose_figures.check()] == []


# Each line states a figure that disagrees with its result file, or has none: the cases of the
# docs as a reader found them (most as they were written, a few with the file they point to).
STALE = {
    "a figure attributed to the wrong file":
        "The node's latency is 139.2 ms (`speed_node.json`).",
    "one graph's time given from the other command's file":
        "The whole pipeline takes 41.5 ms (`speed_node.json`).",
    "training time from other runs than the cited file's":
        "An f_φ per fold takes 442–533 s (`camvid_folds.json`).",
    "a derived figure":
        "features from f_θ's cache file), so θ then φ take about 19 min, under the target.",
    "training times with no result file":
        "f_θ took 16 min wall and f_φ 14 min.",
    "the same times against the file with the runs":
        "f_θ took 16 min wall and f_φ 14 min (`synth_domains.json`).",
    "outliers the file records larger":
        "Jazzy showed 0.9–1.6 s outliers (`dds_delivery.json`).",
    "a load the tables do not record":
        "measured at load average 5–12 (`speed_cpu.json`).",
    "a size rounded the wrong way":
        "The backbone is 88 MB in fp32 (`quantize.json`).",
    "a range with no file":
        "- **Cost**: an f_φ took 7–10 min wall at N = 30–100, 12–14 min at 400 and 16–20 min",
    "a duration with no file":
        "of the drive at 1 Hz) gave f_φ a gain over f_θ's max-softmax on the next 31 s (AUPR",
    "a ratio with no file":
        "5–32× slower under load.",
    "the tutorial's times with no file":
        "ran all blocks in 31–45 s, and in 195 s with `camvid-prepare` added.",
    "a load with no file":
        "2 CPU cores shared with other jobs, load 4–11.",
    "a prefix ratio and CPU time":
        "42 vs 19 CPU-minutes (×2.3; `augment_target_cost.json`).",
}


@pytest.mark.parametrize("line", STALE.values(), ids=list(STALE))
def test_a_planted_stale_figure_fails(line: str) -> None:
    assert failing(f"# A doc\n\nSome prose.\n{line}\n"), line


# Each line states its figures right, or states none the check counts.
SOUND = {
    "cited and held": "The node's latency median is 51.3 ms (`docs/results/speed_node.json`).",
    "converted units": "f_θ took 10 min wall (`camvid_folds.json`): 623 s.",
    "a fraction as a percentage": "61 % of the dusk pixels right (`camvid_folds.json`).",
    "a ratio": "×2.2 CPU for 400 steps (`augment_target_cost.json`).",
    "a bound": "labels agree on ≥ 99 % of pixels, AUPR moves < 0.005.",
    "a bound, written out": "labels >= 99 % equal, or &gt;= 99 % in generated HTML-safe text",
    "inline code": "run `sleep 5 s` first",
    "a product, not a ratio": "37 × 74 patch tokens at 518×1036",
    "a setting, marked": "a camera at 5 Hz <!-- not measured -->",
}


@pytest.mark.parametrize("line", SOUND.values(), ids=list(SOUND))
def test_a_sound_line_passes(line: str) -> None:
    assert failing(f"{line}\n") == [], line


def test_generated_tables_and_code_blocks_are_left_to_their_own_checks() -> None:
    text = ("<!-- table:demo_domains -->\n| latency | 999.9 ms |\n<!-- /table:demo_domains -->\n"
            "```bash\nsleep 31 s\n```\n")
    assert failing(text) == []


def test_the_line_number_points_at_the_figure() -> None:
    text = "```\ncode\n```\n\nfine\nwait 12 s here\n"
    assert [f.line for f in prose_figures.check_text(text, DOC)] == [6]
