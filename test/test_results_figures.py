"""studies/results/figures.py: row ids and set keys as fields, and the means the tables show."""

from __future__ import annotations

import pytest

from studies.results.figures import (
    Fields,
    domain_mean,
    fold_mean,
    parse_row_id,
    parse_set_key,
    row_id,
    set_figure,
)

ROW_IDS = {
    "theta_s0": Fields("theta", seed=0),
    "phi_f1_s0": Fields("phi", fold=1, seed=0),
    "phi_fog_100": Fields("phi", domain="fog", n=100),
    "control_offroad_1600": Fields("control", domain="offroad", n=1600),
    "theta_s0_maxlogit": Fields("theta", seed=0, detail="maxlogit"),
    "theta_maxs": Fields("theta", detail="maxs"),
    "ensemble3": Fields("ensemble3"),
}


@pytest.mark.parametrize("text", ROW_IDS)
def test_a_row_id_is_parsed_into_its_fields_and_composed_back(text: str) -> None:
    fields = parse_row_id(text)
    assert fields == ROW_IDS[text]
    if fields.detail is None:
        assert row_id(fields.name, domain=fields.domain, n=fields.n, fold=fields.fold,
                      seed=fields.seed) == text


def test_set_keys_say_part_domain_n_and_fold() -> None:
    assert parse_set_key("fold1/unseen") == Fields("unseen", fold=1)
    assert parse_set_key("unseen/fog") == Fields("unseen", domain="fog")
    assert parse_set_key("test/night") == Fields("unseen", domain="night")  # synth_scaling.json
    assert parse_set_key("seen/fog-400") == Fields("seen", domain="fog", n=400)
    assert parse_set_key("day/val@fold1") == Fields("day/val", fold=1)
    assert parse_set_key("day/val") == Fields("day/val")


def test_means_need_every_fold_and_domain() -> None:
    row = {"metrics": {"fold0/unseen": {"aupr": 0.8}, "fold1/unseen": {"aupr": 0.9},
                       "day/val@fold0": {"miou": 0.5}, "day/val@fold1": {"miou": 0.7},
                       "unseen/fog": {"aupr": 0.6}}}
    assert fold_mean(row, "unseen", "aupr") == pytest.approx(0.85)
    assert set_figure(row, "day/val", "miou") == pytest.approx(0.6)
    assert fold_mean(row, "seen", "aupr") is None
    assert domain_mean(row, "unseen", "aupr") is None  # four domains missing
