"""One self-contained HTML page for a report: key figures in a table, plots embedded as data URIs.

The page needs no server and no other file (images are base64-embedded and also linked, so
the PNGs can be opened full size from the folder).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# (metrics key, column title, how to show it) for the key-figure table, in order.
KEY_FIGURES: tuple[tuple[str, str], ...] = (
    ("maxf05", "MaxF0.5"),
    ("p_ac_at_maxf05", "p(a,c) @ MaxF0.5"),
    ("aupr", "AUPR"),
    ("auroc", "AUROC"),
    ("fpr95", "FPR95"),
    ("ece", "ECE"),
    ("mce", "MCE"),
    ("dice", "unc.-error Dice"),
    ("miou", "mIoU"),
    ("certain_fraction", "certain fraction"),
    ("anomaly_auroc", "anomaly AUROC"),
    ("anomaly_ap", "anomaly AP"),
    ("anomaly_fpr95", "anomaly FPR95"),
)

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; }
td, th { border: 1px solid #bbb; padding: 3px 8px; text-align: right; font-size: 14px; }
th { background: #eee; } td.name, th.name { text-align: left; }
.warn { background: #fff3cd; border: 1px solid #e0c060; padding: 0.5em 1em; }
figure { display: inline-block; margin: 0.4em 1em 1em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #ccc; }
figcaption { font-size: 13px; color: #555; }
"""


def format_value(value: Any) -> str:
    """Numbers to 3 decimals (NaN and None shown as an en dash), others as text."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return "–" if not math.isfinite(value) else f"{value:.3f}"
    if isinstance(value, Mapping):
        return ", ".join(f"{html.escape(str(k))} {format_value(v)}" for k, v in value.items())
    return html.escape(str(value))


def metrics_table(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """An HTML table: one row per group (domain / method), the KEY_FIGURES present as columns."""
    present = [(k, t) for k, t in KEY_FIGURES if any(k in r for r in rows.values())]
    head = "".join(f"<th>{html.escape(t)}</th>" for _, t in present)
    body = []
    for name, row in rows.items():
        cells = "".join(f"<td>{format_value(row.get(k))}</td>" for k, _ in present)
        body.append(f"<tr><td class='name'>{html.escape(name)}</td>{cells}</tr>")
    return f"<table><tr><th class='name'></th>{head}</tr>{''.join(body)}</table>"


def key_value_table(items: Mapping[str, Any]) -> str:
    """A two-column table of run facts."""
    body = "".join(
        f"<tr><td class='name'>{html.escape(str(k))}</td>"
        f"<td class='name'>{format_value(v)}</td></tr>"
        for k, v in items.items()
    )
    return f"<table>{body}</table>"


def embedded_figure(path: Path, caption: str, *, base: Path) -> str:
    """<figure> with the PNG embedded as a data URI and a link to the file itself."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    try:
        href = path.relative_to(base).as_posix()
    except ValueError:
        href = path.as_posix()
    return (
        f"<figure><a href='{html.escape(href)}'><img src='data:image/png;base64,{data}' "
        f"alt='{html.escape(caption)}'></a><figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def write_html(
    path: Path,
    *,
    title: str,
    facts: Mapping[str, Any],
    metric_rows: Mapping[str, Mapping[str, Any]],
    figures: Sequence[tuple[Path, str]],
    examples: Sequence[tuple[Path, str]] = (),
    warnings: Sequence[str] = (),
    extra_html: str = "",
) -> Path:
    """Write the report page; figure and example paths must exist (they are embedded)."""
    base = path.parent
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for text in warnings:
        parts.append(f"<p class='warn'>{html.escape(text)}</p>")
    parts.append("<h2>Run</h2>" + key_value_table(facts))
    if metric_rows:
        parts.append(
            "<h2>Key figures</h2><p>Positive = accurate pixel, predicted positive = certain pixel "
            "(confidence above the threshold); void pixels excluded. MaxF0.5 is the best F0.5 "
            "over all thresholds, with p(a,c) at that threshold.</p>"
        )
        parts.append(metrics_table(metric_rows))
    parts.append(extra_html)
    if figures:
        parts.append("<h2>Figures</h2>")
        parts.extend(embedded_figure(p, c, base=base) for p, c in figures)
    if examples:
        parts.append("<h2>Example frames</h2>")
        parts.extend(embedded_figure(p, c, base=base) for p, c in examples)
    parts.append("<p><a href='metrics.json'>metrics.json</a> holds every figure.</p>")
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
