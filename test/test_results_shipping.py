"""The shipping rule (studies/results/shipping.py) against crafted result files: a recipe that
meets every part of the bar ships f_φ, and one that misses any single threshold ships f_θ."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from studies.results import shipping
from studies.results.figures import SYNTH_DOMAINS, domain_key, fold_key
from studies.results.schema import validate

REPO = Path(__file__).resolve().parent.parent

# Figures of a recipe that meets the bar with room: f_φ 0.02 above f_θ, f_θ 0.01 above the
# control, on every set.
PHI, THETA, CONTROL = 0.92, 0.90, 0.89


def _figures(value: float, miou: float = 0.60) -> dict[str, float]:
    return {"aupr": value, "maxf05": value - 0.05, "miou": miou}


def _record(name: str, rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    record = {"schema": 1, "name": name, "about": "crafted", "dataset": "crafted",
              "commands": {"eval": "crafted"}, "commit": "0" * 40, "tree": "clean",
              "date": "2026-12-07T00:00:00Z",
              "machine": {"cpu_cores": 2, "python": "3.11", "torch": None, "onnxruntime": None,
                          "load_avg_1_5_15_after": [0.0, 0.0, 0.0]},
              "rows": {k: {"label": k, "command": "eval", "checkpoints": [], **row}
                       for k, row in rows.items()}}
    assert validate(record) == []
    return record


def _camvid(unseen: dict[tuple[int, int], float] | None = None,
            phi_miou: float = 0.60) -> dict[str, Any]:
    """camvid_augmented.json: f_θ, control and f_φ per seed; UNSEEN[(seed, fold)] sets f_φ."""
    rows: dict[str, dict[str, Any]] = {}
    for seed in shipping.CAMVID_SEEDS:
        for name, value in (("theta", THETA), ("control", CONTROL)):
            rows[f"{name}_s{seed}"] = {"metrics": {
                "day/val": _figures(value), **{fold_key(f): _figures(value) for f in (0, 1)}}}
        rows[f"phi_s{seed}"] = {"metrics": {
            **{f"day/val@fold{f}": _figures(PHI, phi_miou) for f in (0, 1)},
            **{fold_key(f): _figures((unseen or {}).get((seed, f), PHI)) for f in (0, 1)}}}
    return _record("camvid_augmented", rows)


def _synth(phi: dict[str, float] | None = None) -> dict[str, Any]:
    """synth_augmented.json: f_θ, control and f_φ per domain; PHI[domain] sets f_φ's AUPR."""
    def row(value: float, override: dict[str, float] | None = None) -> dict[str, Any]:
        return {"metrics": {domain_key("unseen", d): _figures((override or {}).get(d, value))
                            for d in SYNTH_DOMAINS}}

    return _record("synth_augmented", {"theta_maxs": row(THETA), "control": row(CONTROL),
                                       "phi": row(PHI, phi)})


def _demo(phi: float = 0.93, theta: float = 0.93) -> dict[str, Any]:
    return _record("demo", {"demo": {"metrics": {
        "stage": "task", "overall": {"aupr": theta},
        "compare": {"stage": "uncertainty", "overall": {"aupr": phi}}}}})


def _offroad(unseen: dict[tuple[int, int], float] | None = None) -> dict[str, Any]:
    """ycor_offroad.json: the rows of camvid_augmented.json's shape, on the drive's stretches."""
    return _record("ycor_offroad", _camvid(unseen)["rows"])


def _verdict(camvid: dict[str, Any], synth: dict[str, Any], demo: dict[str, Any] | None,
             offroad: dict[str, Any] | None = None) -> shipping.Verdict:
    """The rule on the given files, the real off-road study met unless given."""
    return shipping.ship_verdict(camvid, synth, demo, _offroad() if offroad is None else offroad)


def _failing(verdict: shipping.Verdict) -> list[str]:
    return [check.name for check in verdict.failing]


def test_a_recipe_that_meets_every_part_ships_f_phi() -> None:
    verdict = _verdict(_camvid(), _synth(), _demo())
    assert verdict.bar_met and verdict.demo.met and _failing(verdict) == []
    assert verdict.ship == "f_phi"


# Each case misses one threshold by a little: which part fails, and the figure it reports.
MISSES = {
    "a fold of one seed below the control": (
        {"camvid": _camvid(unseen={(1, 0): CONTROL - 0.001})},
        "CamVid, each fold of seeds 0 and 1",
        "seed 1 fold 0: AUPR -0.011 over f_θ and -0.001 over the control"),
    "a fold of one seed level with f_θ": (
        {"camvid": _camvid(unseen={(0, 1): THETA})},
        "CamVid, each fold of seeds 0 and 1", "3 of 4 fold-seed pairs"),
    "day/val mIoU more than 2 points below f_θ's": (
        {"camvid": _camvid(phi_miou=0.60 - 0.021)}, "CamVid day/val mIoU", "seed 0: -0.021"),
    "3 of 5 synthetic domains won": (
        {"synth": _synth({"fog": THETA, "night": THETA})},
        "Synthetic world, domains won", "3 (rural, snow, offroad)"),
    "one domain more than 0.01 AUPR below f_θ": (
        {"synth": _synth({"offroad": THETA - 0.011})},
        "Synthetic world, worst AUPR", "-0.011 (offroad)"),
    "a seed without its rows": (
        {"camvid": _record("camvid_augmented", {
            k: v for k, v in _camvid()["rows"].items() if not k.endswith("_s1")})},
        "CamVid, each fold of seeds 0 and 1", "no figures for seed 1"),
}
ALSO = {"a seed without its rows": ["CamVid day/val mIoU"]}  # no figures fail each part


@pytest.mark.parametrize("case", MISSES)
def test_a_recipe_that_misses_one_threshold_ships_f_theta(case: str) -> None:
    given, part, figure = MISSES[case]
    verdict = _verdict(given.get("camvid", _camvid()), given.get("synth", _synth()),
                                    _demo())
    assert _failing(verdict) == [part, *ALSO.get(case, [])]
    assert figure in next(c.measured for c in verdict.bar if c.name == part)
    assert verdict.ship == "f_theta"


def test_a_stretch_of_the_real_off_road_drive_below_f_theta_ships_f_theta() -> None:
    verdict = _verdict(_camvid(), _synth(), _demo(), _offroad(unseen={(0, 1): THETA - 0.002}))
    assert _failing(verdict) == ["Real off-road (YCOR), each fold of seeds 0 and 1"]
    assert "seed 0 fold 1: AUPR -0.002 over f_θ" in verdict.bar[-2].measured
    assert verdict.ship == "f_theta"


def test_before_the_real_off_road_study_has_run_f_phi_does_not_ship() -> None:
    verdict = shipping.ship_verdict(_camvid(), _synth(), _demo(), None)
    assert _failing(verdict) == [] and not verdict.bar_met and verdict.ship == "f_theta"
    assert [c.name for c in verdict.unmeasured] == [
        "Real off-road (YCOR), each fold of seeds 0 and 1",
        "Real off-road (YCOR): CamVid day/val mIoU"]
    assert "Real off-road (YCOR), each fold of seeds 0 and 1: not measured" in verdict.reason()


def test_the_miou_threshold_is_a_bound_not_a_strict_gain() -> None:
    verdict = _verdict(_camvid(phi_miou=0.60 - 0.019), _synth(), _demo())
    assert verdict.ship == "f_phi"


def test_the_demo_drive_decides_only_once_the_bar_is_met() -> None:
    behind = _demo(phi=0.93 - 0.011, theta=0.93)
    verdict = _verdict(_camvid(), _synth(), behind)
    assert _failing(verdict) == ["Demo drive"] and verdict.ship == "f_theta"
    assert _verdict(_camvid(), _synth(), _demo(phi=0.93 - 0.009)).ship == "f_phi"
    missed = _verdict(_camvid(), _synth({"offroad": 0.5}), _demo(phi=0.99))
    assert _failing(missed) == ["Synthetic world, worst AUPR"] and missed.ship == "f_theta"


def test_before_the_demo_has_run_a_recipe_that_meets_the_bar_ships_f_phi() -> None:
    verdict = _verdict(_camvid(), _synth(), None)
    assert verdict.demo.met is None and verdict.ship == "f_phi"


def test_make_default_model_takes_its_default_from_the_verdict() -> None:
    """The script's SHIP default is what the command prints for the result files in docs/."""
    script = (REPO / "tools" / "make_default_model.sh").read_text()
    assert "ship-verdict --model" in script
    printed = subprocess.run([sys.executable, "-m", "studies.results", "ship-verdict", "--model"],
                             cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert printed.strip() == shipping.current_verdict().ship
