"""The results pipeline: every measured figure in the docs comes from a file in docs/results/.

    python -m studies.results run NAME --row ID --label LABEL -- CMD ... {json}   record a row
    python -m studies.results tables [--check]   rewrite (or compare) the docs' tables
    python -m studies.results figures            prose figures without their result file
    python -m studies.results validate           every result file against the schema
    python -m studies.results ship-verdict [--model]   the shipping rule: which model ships
    python -m studies.results domains            the synthetic domains and seeds, for bash
    python -m studies.results plot-scaling       docs/experiments/synth_scaling.png

Modules: `schema` (the one shape of a result file), `record` (write/read; refuses a dirty tree
or keeps the diff's hash), `figures` (the one reader of a row: its figures, ids, set keys,
domains and the cells of every table), `shipping` (the shipping rule), `run_command` (the `run`
command), `render` and `tables_*` (the docs' tables: columns only), `tables` (rewriting and
--check), `prose_figures` (the figure check), `plots`.
Library use::

    from studies.results import load_result, write_result
"""

from studies.results.record import (
    RESULTS_DIR,
    ROOT,
    DirtyTreeError,
    load_result,
    result_path,
    write_result,
)
from studies.results.schema import validate

__all__ = ["RESULTS_DIR", "ROOT", "DirtyTreeError", "load_result", "result_path", "validate",
           "write_result"]
