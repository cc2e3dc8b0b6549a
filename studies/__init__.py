"""The studies behind the docs' figures, and the results pipeline they write into.

Run everything from the repository root as modules (no `sys.path` tricks):

- `python -m studies.results ...`: record a result file, render the docs' tables from the result
  files, check that no prose figure lacks its result file (`studies/results/`).
- `python -m studies.row_eval ...`: evaluate the rows of a rows file (models and predictor
  options) on frame sets, and record them as a result file.
- `python -m studies.timed_train ...`: one `uncertainty-seg train` run, its wall and CPU time kept.
- one script per study (`studies/<study>.sh` or `python -m studies.<study>`), with its rows file
  beside it: `studies/README.md` names each study and the result file it makes.

Result files live in `docs/results/` (indexed in `docs/results/README.md`); run outputs
(checkpoints, caches, evaluations) in `runs/`, which git ignores.
"""
