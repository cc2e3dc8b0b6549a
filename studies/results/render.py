r"""What a table renderer uses: the registry, the row and source lines, the docs tables go in.

A renderer is a function of no arguments that reads its result file(s) (`load_result`) and
returns the markdown between the markers `<!-- table:NAME -->` and `<!-- /table:NAME -->`::

    @renderer("speed_backends")
    def speed_backends() -> str:
        result = load_result("speed_backends")
        out = ["| backend | median ms |", "|---|---|"]
        out += [f"| {row['label']} | {fmt(row['metrics']['median_ms'], 1)} |"
                for row in result["rows"].values()]
        return "\n".join(out) + "\n\n" + source_line("speed_backends")

A renderer only lays out columns: the figures, and cells such as `fmt` and `pair`, come from
`studies.results.figures`. Renderers live in the `tables_*` modules of this package (none
imports another); `studies.results.tables` imports
them all and rewrites (or, with --check, compares) every marked table of the docs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from studies.results.record import ROOT, load_result

RENDERERS: dict[str, Callable[[], str]] = {}


def renderer(name: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Register FUNCTION as the renderer of the table NAME."""
    def register(function: Callable[[], str]) -> Callable[[], str]:
        if name in RENDERERS:
            raise ValueError(f"two renderers for table {name!r}")
        RENDERERS[name] = function
        return function
    return register


def doc_files() -> list[Path]:
    """The docs whose tables are generated and whose prose figures are checked."""
    files = [ROOT / "README.md", ROOT / "models" / "MODEL_CARD.md"]
    files += sorted((ROOT / "docs").rglob("*.md"))
    return [f for f in files if f.is_file()]


def table_row(*cells: object) -> str:
    """One markdown table row of CELLS."""
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def source_line(*names: str) -> str:
    """The line under a table that names its result file(s), date, machine and commit."""
    parts = []
    for name in names:
        r = load_result(name)
        m = r["machine"]
        load = m.get("load_avg_1_5_15_before") or m.get("load_avg_1_5_15_after")
        parts.append(f"[`docs/results/{name}.json`](docs/results/{name}.json) "
                     f"({r['date'][:10]}, {m['cpu_cores']} CPU cores, load {load[0]:.1f} before, "
                     f"commit {r['commit'][:7]})")
    return "*Source: " + "; ".join(parts) + ".*\n"
