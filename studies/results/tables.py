"""Rewrite every generated table of the docs from the result files.

`python -m studies.results tables` rewrites them; with `--check` it changes nothing and names
each table that differs.

A generated table sits between two markers in README.md, models/MODEL_CARD.md or docs/**/*.md::

    <!-- table:NAME -->
    ... (written from docs/results/; do not edit by hand) ...
    <!-- /table:NAME -->

NAME is a renderer registered with `@renderer("NAME")` (`studies.results.render`) in one of the
`tables_*` modules imported here. A new table: its renderer in a `tables_*` module (a new module
is imported below), the two markers where it goes, then `python -m studies.results tables`.
"""

from __future__ import annotations

import re
from pathlib import Path

from studies.results import (
    tables_backends,
    tables_camvid,
    tables_index,
    tables_offroad,
    tables_runtime,
    tables_shipping,
    tables_synth,
)
from studies.results.record import ROOT
from studies.results.render import RENDERERS, doc_files

TABLE_MODULES = (tables_backends, tables_camvid, tables_index, tables_offroad, tables_runtime,
                 tables_shipping, tables_synth)
MARKER = re.compile(r"(<!-- table:([\w-]+) -->\n)(.*?)(<!-- /table:\2 -->)", re.DOTALL)


def render_file(text: str, source: Path) -> tuple[str, list[str]]:
    """TEXT with every marked table re-rendered, and the names of the tables that changed."""
    changed: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in RENDERERS:
            raise SystemExit(f"{source}: no renderer for table {name!r} in studies/results/ "
                             f"(known: {', '.join(sorted(RENDERERS))})")
        body = RENDERERS[name]()
        if source.parent != ROOT:  # links in a table are written relative to the repo root
            body = _relative_links(body, source)
        if body != match.group(3):
            changed.append(f"{source.relative_to(ROOT)}: {name}")
        return match.group(1) + body + match.group(4)

    return MARKER.sub(replace, text), changed


def _relative_links(body: str, source: Path) -> str:
    up = "../" * len(source.parent.relative_to(ROOT).parts)
    return body.replace("](docs/", f"]({up}docs/")


def rewrite(check: bool) -> list[str]:
    """Rewrite the docs' tables (or only compare, with CHECK); the tables that differ(ed)."""
    differing: list[str] = []
    for path in doc_files():
        text = path.read_text()
        new, changed = render_file(text, path)
        differing += changed
        if changed and not check:
            path.write_text(new)
    return differing
