"""The index of docs/results/ (docs/results/README.md): one line per result file, from the file.

Every file in docs/results/*.json is listed, with what it measures and when, so the index
cannot miss a file or go stale.
"""

from __future__ import annotations

from studies.results.record import RESULTS_DIR, load_result
from studies.results.render import renderer
from studies.results.schema import CLEAN


@renderer("results_index")
def results_index() -> str:
    """| file | what it measures | frames or data set | rows | recorded |."""
    out = ["| file | what it measures | frames or data set | rows | recorded (UTC date, commit) |",
           "|---|---|---|---|---|"]
    for path in sorted(RESULTS_DIR.glob("*.json")):
        r = load_result(path.stem)
        tree = "" if r["tree"] == CLEAN else ", uncommitted changes"
        out.append(f"| [`{path.name}`](docs/results/{path.name}) | {r['about']} | "
                   f"{r['dataset']} | {len(r['rows'])} | {r['date'][:10]}, "
                   f"{r['commit'][:7]}{tree} |")
    return "\n".join(out) + "\n"
