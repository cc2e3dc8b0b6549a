"""studies/row_eval.py: rows keep the rows file's order, an old evaluation file is refused, and
the folds table averages each fold's own unseen frames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studies import row_eval
from studies.results.tables_camvid import folds_table


def _metrics(aupr: float, maxf05: float) -> dict[str, float]:
    return {"aupr": aupr, "maxf05": maxf05, "p_ac_at_maxf05": 0.5, "auroc": 0.7,
            "fpr95": 0.8, "ece": 0.1, "miou": 0.3, "passes": 1}


def test_results_follow_the_rows_order_and_keep_unknown_rows_last() -> None:
    results = {"b": {}, "old": {}, "a": {}}
    assert list(row_eval.in_row_order(results, ["a", "b"])) == ["a", "b", "old"]


def test_an_evaluation_keyed_by_label_and_set_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    out.write_text(json.dumps({"f_θ | day/val": _metrics(0.8, 0.7)}))
    with pytest.raises(SystemExit, match="rows by id"):
        row_eval.load_evaluation(out)


def test_a_row_without_checkpoints_is_refused(tmp_path: Path) -> None:
    rows = tmp_path / "rows.yaml"
    rows.write_text("theta:\n  label: f_θ\n")
    with pytest.raises(SystemExit, match="row 'theta' needs a label and checkpoints"):
        row_eval.load_rows(rows)


def test_a_fold_row_is_measured_with_each_folds_model_on_that_folds_sets() -> None:
    datasets = {name: Path(name) for name in
                ("day/val", "fold0/unseen", "fold0/seen", "fold1/unseen", "fold1/seen")}
    row = {"label": "f_φ", "fold_checkpoints": [["f0.pt"], ["f1.pt"]]}
    jobs = row_eval._row_jobs(row, datasets, folds=2)
    assert [(models, sorted(sets)) for models, sets in jobs] == [
        (["f0.pt"], ["day/val@fold0", "fold0/seen", "fold0/unseen"]),
        (["f1.pt"], ["day/val@fold1", "fold1/seen", "fold1/unseen"])]


def test_sets_a_row_names_but_eval_lacks_are_skipped() -> None:
    row = {"label": "f_φ", "checkpoints": ["m.pt"], "sets": ["test/fog", "seen/fog-30"]}
    jobs = row_eval._row_jobs(row, {"test/fog": Path("t")}, folds=0)
    assert jobs == [(["m.pt"], {"test/fog": Path("t")})]


def test_folds_table_means_each_folds_unseen_frames() -> None:
    rows = {
        "m": {"label": "m", "metrics": {
            "fold0/unseen": _metrics(0.80, 0.70), "fold1/unseen": _metrics(0.90, 0.80),
            "fold0/seen": _metrics(0.60, 0.50), "fold1/seen": _metrics(0.70, 0.60),
            "day/val@fold0": _metrics(0.99, 0.95), "day/val@fold1": _metrics(0.99, 0.95)}},
        "plain": {"label": "no folds", "metrics": {"day/val": _metrics(0.5, 0.5)}},
    }
    table = folds_table(rows)
    lines = [line for line in table.splitlines() if line.startswith("| m ")]
    assert len(lines) == 1
    cells = [c.strip() for c in lines[0].strip("|").split("|")]
    assert cells[2:6] == ["0.800 / 0.700", "0.900 / 0.800", "0.850", "0.750 @ 0.500"]
    assert cells[10] == "0.650 / 0.550"
    assert "no folds" not in table  # not a fold row: left out of the table
