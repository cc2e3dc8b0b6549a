"""The node's parameter table and validation, with no ROS graph (plus one real rclpy declare)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.gamma import parse_gamma
from uncertainty_seg_node.model.artifact import resolve_model_path
from uncertainty_seg_node.ros.params import (
    PARAMETERS,
    SPECS,
    NodeSettings,
    check_value,
    settings_from_values,
    unknown_names,
)


def test_defaults_are_valid_and_match_settings() -> None:
    defaults = NodeSettings()
    for spec in PARAMETERS:
        assert check_value(spec.name, spec.default) is None, spec.name
        assert spec.description, spec.name
    settings = settings_from_values({spec.name: spec.default for spec in PARAMETERS})
    assert settings == defaults


@pytest.mark.parametrize("value, expected", [
    ("auto", None), ("AUTO ", None), (0.0, 0.0), (1, 1.0), (0.75, 0.75), ("0.3", 0.3),
])
def test_parse_gamma_accepts(value: object, expected: float | None) -> None:
    assert parse_gamma(value) == expected


@pytest.mark.parametrize("value", [-0.1, 1.5, math.nan, math.inf, "high", True, [0.5], None])
def test_parse_gamma_refuses_with_reason(value: object) -> None:
    with pytest.raises(ValueError, match="gamma"):
        parse_gamma(value)


@pytest.mark.parametrize("name, value, words", [
    ("backend", "tensorflow", "not one of"),
    ("qos_reliability", "sometimes", "not one of"),
    ("qos_depth", 0, "outside"),
    ("qos_depth", 2.0, "must be a int"),
    ("color_overlay_alpha", 1.5, "outside"),
    ("device", "gpu0", "cpu, cuda or cuda:N"),
    ("model_path", "  ", "empty"),
    ("publish_color", "yes", "must be a bool"),
    ("max_image_pixels", True, "must be a int"),
    ("score_method", "vibes", "not one of"),
    ("no_such_parameter", 1, "unknown parameter"),
])
def test_bad_values_are_refused_with_reason(name: str, value: object, words: str) -> None:
    reason = check_value(name, value)
    assert reason is not None and words in reason


def test_float_parameter_takes_an_integer() -> None:
    assert check_value("diagnostics_period", 2) is None
    assert settings_from_values({"diagnostics_period": 2}).diagnostics_period == 2.0


def test_settings_error_names_every_bad_value() -> None:
    with pytest.raises(UserError) as info:
        settings_from_values({"gamma": 2.0, "backend": "x", "device": "cpu"})
    assert "gamma" in str(info.value) and "backend" in str(info.value)


def test_settings_replace_only_given_values() -> None:
    base = settings_from_values({"gamma": 0.4, "publish_color": False})
    changed = settings_from_values({"gamma": "auto"}, base=base)
    assert changed.gamma is None and changed.publish_color is False


def test_compressed_topic_follows_image_transport() -> None:
    assert NodeSettings(image_topic="/cam/image", compressed=True).input_topic == (
        "/cam/image/compressed")
    assert NodeSettings(image_topic="/cam/image/compressed", compressed=True).input_topic == (
        "/cam/image/compressed")
    assert NodeSettings(image_topic="/cam/image").input_topic == "/cam/image"


def test_unknown_names_ignore_rclpy_builtins() -> None:
    names = ["gamma", "use_sim_time", "qos_overrides./x.reliability", "gama", "modelpath"]
    assert unknown_names(names) == ["gama", "modelpath"]


def test_model_path_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    share = tmp_path / "share"
    (share / "models").mkdir(parents=True)
    (share / "models" / "a.onnx").write_bytes(b"x")
    work = tmp_path / "work"
    (work / "runs").mkdir(parents=True)
    (work / "runs" / "b.onnx").write_bytes(b"x")
    monkeypatch.chdir(work)
    assert resolve_model_path("models/a.onnx", share) == share / "models" / "a.onnx"
    assert resolve_model_path("runs/b.onnx", share) == (work / "runs" / "b.onnx").resolve()
    # Missing everywhere: the share-dir path, so the error names where it was expected.
    assert resolve_model_path("models/c.onnx", share) == share / "models" / "c.onnx"
    assert resolve_model_path(str(tmp_path / "abs.onnx"), share) == tmp_path / "abs.onnx"


@pytest.mark.ros  # each distro's rclpy, including the overrides it parses (override_names)
def test_declared_with_descriptors_in_rclpy() -> None:
    rclpy = pytest.importorskip("rclpy")
    from rclpy.parameter import Parameter

    from uncertainty_seg_node.ros.params import declare_parameters

    context = rclpy.Context()
    context.init(args=[], domain_id=99)
    try:
        node = rclpy.create_node(
            "params_probe", context=context,
            parameter_overrides=[Parameter("gamma", value=0.25),
                                 Parameter("qos_depth", value=3)],
        )
        settings = declare_parameters(node)
        assert settings.gamma == 0.25 and settings.qos_depth == 3
        descriptors = node.describe_parameters([s.name for s in PARAMETERS])
        for spec, descriptor in zip(PARAMETERS, descriptors):
            assert descriptor.description == spec.description
            assert descriptor.read_only == spec.read_only
        assert descriptors[list(SPECS).index("qos_depth")].integer_range[0].to_value == 100
        # rclpy itself refuses a read-only change and an out-of-range value.
        results = node.set_parameters([Parameter("backend", value="torch"),
                                       Parameter("color_overlay_alpha", value=2.0)])
        assert not results[0].successful and not results[1].successful
        node.destroy_node()
        with pytest.raises(UserError, match="unknown parameter"):
            typo = rclpy.create_node("params_typo", context=context,
                                     parameter_overrides=[Parameter("gama", value=0.3)])
            declare_parameters(typo)
        with pytest.raises(UserError, match="bad parameter value"):
            bad = rclpy.create_node("params_bad", context=context,
                                    parameter_overrides=[Parameter("qos_depth", value=0)])
            declare_parameters(bad)
    finally:
        context.try_shutdown()


def test_input_reliability_follows_publishers_only_in_auto() -> None:
    from uncertainty_seg_node.ros.params import input_reliability

    assert input_reliability("auto", []) == "best_effort"  # sensor data until a camera shows
    assert input_reliability("auto", ["reliable", "reliable"]) == "reliable"
    assert input_reliability("auto", ["reliable", "best_effort"]) == "best_effort"
    assert input_reliability("best_effort", ["reliable"]) == "best_effort"
    assert input_reliability("reliable", ["best_effort"]) == "reliable"
