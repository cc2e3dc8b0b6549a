"""The demo's side-by-side table: f_phi in the node beside f_theta on the same frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from inference_fixtures import tiny_checkpoint

from uncertainty_seg_node.bags import topics
from uncertainty_seg_node.bags.bag_io import read_mono, read_strings
from uncertainty_seg_node.replay.side_by_side import (
    comparison_markdown,
    comparison_rows,
    evaluate_on_bag,
)
from uncertainty_seg_node.synth.domains import parse_domains
from uncertainty_seg_node.synth.drive import render_drive
from uncertainty_seg_node.synth.writers import write_bag


def test_rows_pair_each_domain_and_the_overall_figures() -> None:
    main = {"miou": 0.4, "maxf05": 0.9, "p_ac_at_maxf05": 0.7, "aupr": 0.95,
            "certain_fraction": 0.8,
            "domains": {"city-day": {"miou": 0.5, "aupr": 0.99},
                        "fog": {"miou": 0.3, "aupr": float("nan")}}}
    other = {"miou": 0.2, "aupr": 0.8, "domains": {"city-day": {"miou": 0.45}}}
    rows = comparison_rows(main, other)
    assert [name for name, _, _ in rows] == ["city-day", "fog", "overall"]
    assert rows[0][1]["miou"] == 0.5 and rows[0][2]["miou"] == 0.45
    assert rows[1][1]["aupr"] is None and rows[1][2]["miou"] is None  # nan, absent
    assert rows[2][1]["maxf05"] == 0.9 and rows[2][2]["maxf05"] is None
    table = comparison_markdown(main, other, main_name="default", other_name="f_theta")
    lines = table.strip().splitlines()
    assert lines[0].startswith("| domain | mIoU (default / f_theta) |")
    assert lines[2].startswith("| city-day | 0.500 / 0.450 |")
    assert lines[-1].startswith("| overall | 0.400 / 0.200 | 0.900 / - |")


def test_compare_model_is_scored_on_the_bag_frames(tmp_path: Path) -> None:
    frames = render_drive(parse_domains("city-day,fog"), 4, (60, 80), 3, 5.0)
    bag = tmp_path / "drive"
    write_bag(frames, bag, "mcap", rate=5.0)
    labels = {i.stamp_ns: i.image for i in read_mono(bag, topics.LABEL_TOPIC)}
    anomaly = {i.stamp_ns: i.image for i in read_mono(bag, topics.ANOMALY_TOPIC)}
    domains = dict(read_strings(bag, topics.DOMAIN_TOPIC))
    model = tiny_checkpoint(tmp_path / "f_theta.pt")
    metrics = evaluate_on_bag(model, bag, labels, anomaly, domains)
    assert sorted(metrics["domains"]) == ["city-day", "fog"]
    for values in [metrics, *metrics["domains"].values()]:
        assert 0.0 <= values["miou"] <= 1.0 and 0.0 <= values["aupr"] <= 1.0
        assert 0.0 <= values["certain_fraction"] <= 1.0
    assert np.isfinite(metrics["gamma"])


def test_compare_option(tmp_path: Path) -> None:
    import pytest

    from uncertainty_seg_node.cli.demo import compare_model
    from uncertainty_seg_node.errors import UserError

    assert compare_model("none") is None
    auto = compare_model("auto")
    assert auto is None or (auto.is_file() and auto.name == "compare.delta.safetensors")
    model = tiny_checkpoint(tmp_path / "f_theta.pt")
    assert compare_model(str(model)) == model
    with pytest.raises(UserError, match="does not exist"):
        compare_model(str(tmp_path / "absent.onnx"))
