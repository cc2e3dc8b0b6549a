"""The prose figure check: a measured number in the docs is rendered from, or cites, its result.

`python -m studies.results figures` (test/test_prose_figures.py) reads README.md,
models/MODEL_CARD.md and docs/**/*.md and finds every *figure*: a number with a unit of
measurement (ms, s, CPU-s, min, h, MB, GB, %, Hz, × or x as a ratio, e.g. "2.0–2.5×" or
"×2.2"; both numbers of "442–533 s" or "6.4 vs 3.6 CPU-s"), or a load average ("load 5–12",
"load average 0.5"). Text a figure cannot hide in is left out:
generated tables (`<!-- table:NAME -->` blocks, rendered from docs/results/), fenced code,
inline code and link targets. A figure must then

1. share its line with a result file it comes from (`docs/results/NAME.json` or `NAME.json`),
   and
2. be found in a cited file: some number in it that, read in the unit its key names (`wall_s`,
   `median_ms`, `fp32_mb`, `camera_rate_hz`, `load_avg_...`, ratios and fractions) and
   converted to the prose's unit, rounds to the prose's digits ("16 min" is 15.5 to 16.5
   minutes: 918 s, 15.3 min, is not 16 min).

A bound ("≥ 99 %", "< 0.005") is not a figure. A figure that is not measured (a setting such as
"a 5 Hz camera", a size fixed by the format) says so at the end of its line with
`<!-- not measured -->`; every other figure fails when its
file is missing, or when the file does not hold it (a stale or derived figure: render it from
the file, like a table, or drop it). The second test matches any number of the cited file in
the unit, so a wrong figure that happens to round to another number there passes it: cite the
file the figure is read from, and keep derived figures (sums, ratios of two rows) out of prose.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studies.results.record import RESULTS_DIR, ROOT
from studies.results.render import doc_files

NOT_MEASURED = "<!-- not measured -->"
_NUMBER = r"\d+(?:\.\d+)?"
_RANGE = rf"({_NUMBER})(?:(?:\s?[–-]\s?|\s(?:vs|to|and|or)\s)({_NUMBER}))?"
# unit -> (family, factor to the family's base unit)
UNITS: dict[str, tuple[str, float]] = {
    "ms": ("time", 1e-3), "s": ("time", 1.0), "min": ("time", 60.0), "minutes": ("time", 60.0),
    "h": ("time", 3600.0), "hours": ("time", 3600.0), "MB": ("size", 1.0),
    "GB": ("size", 1000.0), "Hz": ("rate", 1.0), "%": ("percent", 1.0), "×": ("ratio", 1.0),
    "x": ("ratio", 1.0), "load": ("load", 1.0), "CPU-s": ("time", 1.0),
    "CPU-minutes": ("time", 60.0),
}
_SUFFIX = re.compile(
    rf"(?<![\w.]){_RANGE}\s?(CPU-s|CPU-minutes|ms|s|min|minutes|h|hours|MB|GB|Hz|%|×|x)"
    r"(?![\w\d×])")
_PREFIX = re.compile(rf"(?<![\w.])[×x]({_NUMBER})(?![\w\d])")
_LOAD = re.compile(rf"\bload(?: average)?s? (?:of |at )?{_RANGE}(?![\d×x])")
# Comparison signs before a number make it a bound; also as ASCII and as HTML entities.
_BOUNDS = ("≥", "≤", "<", ">", ">=", "<=", "&gt;", "&lt;", "&gt;=", "&lt;=")
_CITE = re.compile(r"(?<![\w/])(?:[\w./]*/)?([a-z0-9_]+)\.json\b")
_GENERATED = re.compile(r"<!-- table:([\w-]+) -->\n.*?<!-- /table:\1 -->", re.DOTALL)
_FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
_HIDDEN = (re.compile(r"`[^`\n]*`"), re.compile(r"\]\([^)\s]*\)"), re.compile(r"<!--.*?-->"))
# Key tokens that name a leaf's unit (the first found from the leaf up its path).
_KEY_UNITS = {"ms": ("time", 1e-3), "s": ("time", 1.0), "seconds": ("time", 1.0),
              "mb": ("size", 1.0), "megabytes": ("size", 1.0), "hz": ("rate", 1.0),
              "ratio": ("ratio", 1.0), "speedup": ("ratio", 1.0), "load": ("load", 1.0)}


@dataclass(frozen=True)
class Figure:
    """One figure in a doc: where, what it says, and why it fails the check."""

    path: Path
    line: int
    text: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.text!r}: {self.problem}"


def _blank(match: re.Match[str]) -> str:
    """MATCH's text with everything but line breaks blanked (line numbers stay right)."""
    return re.sub(r"[^\n]", " ", match.group(0))


def prose_lines(text: str) -> Iterator[tuple[int, str, str]]:
    """(line number, prose, raw line) of TEXT, with what a figure cannot hide in blanked."""
    text = _FENCE.sub(_blank, _GENERATED.sub(_blank, text))
    raw_lines = text.splitlines()
    for number, raw in enumerate(raw_lines, start=1):
        prose = raw
        for pattern in _HIDDEN:
            prose = pattern.sub(_blank, prose)
        yield number, prose, raw


def figures_in(prose: str) -> Iterator[tuple[str, list[tuple[float, int]], str]]:
    """(text, [(value, decimals)], unit) of each figure in one line of prose."""
    def values(*groups: str | None) -> list[tuple[float, int]]:
        return [(float(g), len(g.partition(".")[2])) for g in groups if g]

    def bound(start: int) -> bool:  # "≥ 99 %", "< 5 s": a threshold, not a measurement
        return prose[:start].rstrip().endswith(_BOUNDS)

    taken: list[tuple[int, int]] = []
    for match in _LOAD.finditer(prose):
        taken.append(match.span())
        yield match.group(0), values(match.group(1), match.group(2)), "load"
    for match in _SUFFIX.finditer(prose):
        if any(a <= match.start() < b for a, b in taken) or bound(match.start()):
            continue
        unit = match.group(3)
        if unit in ("×", "x") and re.match(r"\s*\d", prose[match.end():]):
            continue  # "37 × 74": a product, not a ratio
        yield match.group(0), values(match.group(1), match.group(2)), unit
    for match in _PREFIX.finditer(prose):
        yield match.group(0), values(match.group(1)), "×"


def _leaves(data: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], float]]:
    if isinstance(data, bool):
        return
    if isinstance(data, (int, float)):
        if not math.isnan(data):
            yield path, float(data)
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, str(key)))
    elif isinstance(data, list):
        for value in data:
            yield from _leaves(value, path)


def _leaf_unit(path: tuple[str, ...]) -> tuple[str, float] | None:
    for key in reversed(path):
        tokens = re.split(r"[_\W]+", key.lower())
        for token in tokens:
            if token in _KEY_UNITS:
                return _KEY_UNITS[token]
    return None


def holds(result: dict[str, Any], value: float, decimals: int, unit: str) -> bool:
    """Whether RESULT has a number that, in UNIT rounded to DECIMALS, is VALUE."""
    family, factor = UNITS[unit]
    tolerance = 0.5 * 10 ** -decimals + 1e-9
    for path, leaf in _leaves(result):
        leaf_unit = _leaf_unit(path)
        if leaf_unit is None:
            candidates = {"percent": [leaf, 100 * leaf], "ratio": [leaf]}.get(family, [])
        elif leaf_unit[0] == family:
            candidates = [leaf * leaf_unit[1] / factor]
        else:
            candidates = []
        if any(abs(abs(c) - value) <= tolerance for c in candidates):
            return True
    return False


def check_text(text: str, path: Path) -> list[Figure]:
    """The figures of TEXT (the doc at PATH) that fail the check."""
    failing = []
    for number, prose, raw in prose_lines(text):
        if raw.rstrip().endswith(NOT_MEASURED):
            continue
        cited = [name for name in _CITE.findall(raw) if (RESULTS_DIR / f"{name}.json").is_file()]
        for figure, values, unit in figures_in(prose):
            if not cited:
                failing.append(Figure(path, number, figure, "no result file cited on its line"))
                continue
            results = [json.loads((RESULTS_DIR / f"{name}.json").read_text()) for name in cited]
            missing = [v for v, d in values if not any(holds(r, v, d, unit) for r in results)]
            if missing:
                failing.append(Figure(path, number, figure,
                                      f"{', '.join(map(str, missing))} {unit} is in none of "
                                      f"{', '.join(n + '.json' for n in cited)}"))
    return failing


def check(paths: list[Path] | None = None) -> list[Figure]:
    """The failing figures of PATHS (default: every doc)."""
    return [figure for path in (paths or doc_files())
            for figure in check_text(path.read_text(), path)]
