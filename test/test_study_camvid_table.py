"""tools/study_camvid.py: evaluation results keep the rows file's order, and the folds table
averages each fold's own unseen frames."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

import study_camvid  # noqa: E402


def _metrics(aupr: float, maxf05: float) -> dict[str, float]:
    return {"aupr": aupr, "maxf05": maxf05, "p_ac_at_maxf05": 0.5, "auroc": 0.7,
            "fpr95": 0.8, "ece": 0.1, "miou": 0.3, "passes": 1}


def test_results_follow_the_rows_order_and_keep_unknown_rows_last() -> None:
    results = {"b | x": 1, "old | x": 2, "a | x": 3, "a | y": 4, "b | y": 5}
    ordered = study_camvid._in_row_order(results, ["a", "b"])
    assert list(ordered) == ["a | x", "a | y", "b | x", "b | y", "old | x"]


def test_folds_table_means_each_folds_unseen_frames(tmp_path: Path) -> None:
    results = {
        "m | fold0/unseen": _metrics(0.80, 0.70), "m | fold1/unseen": _metrics(0.90, 0.80),
        "m | fold0/seen": _metrics(0.60, 0.50), "m | fold1/seen": _metrics(0.70, 0.60),
        "m | day/val@fold0": _metrics(0.99, 0.95), "m | day/val@fold1": _metrics(0.99, 0.95),
        "no folds | day/val": _metrics(0.5, 0.5),  # not a fold row: left out of the table
    }
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(results))
    table = study_camvid.folds_table(path)
    rows = [line for line in table.splitlines() if line.startswith("| m ")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[2:6] == ["0.800 / 0.700", "0.900 / 0.800", "0.850", "0.750 @ 0.500"]
    assert cells[10] == "0.650 / 0.550"
    assert "no folds" not in table
