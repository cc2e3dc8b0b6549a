"""The one-copy helpers: atomic writes, the gamma rules, backend names and device strings."""

from __future__ import annotations

import math
import stat
from pathlib import Path

import pytest

from uncertainty_seg_node.atomic import atomic_target, atomic_write
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.gamma import check_gamma, parse_gamma, resolve_gamma
from uncertainty_seg_node.runtime import BACKENDS, normalize_backend, parse_device


def test_atomic_write_replaces_whole_files_and_keeps_modes(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.json"
    atomic_write(target, "{}\n")
    assert target.read_text() == "{}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # not mkstemp's private 0600
    target.chmod(0o640)
    atomic_write(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01" and stat.S_IMODE(target.stat().st_mode) == 0o640
    with pytest.raises(RuntimeError), atomic_target(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"\x00\x01"  # the old file stays, no temp file is left
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.json"]


@pytest.mark.parametrize("value", [0, 0.0, 0.5, 1, 1.0])
def test_check_gamma_accepts(value: float) -> None:
    assert check_gamma(value) == float(value)


@pytest.mark.parametrize("value", [-0.01, 1.01, math.nan, math.inf, True, "0.5", None])
def test_check_gamma_refuses_naming_the_flag(value: object) -> None:
    with pytest.raises(UserError, match="--gamma"):
        check_gamma(value, "--gamma")


def test_resolve_gamma_auto_means_the_model_default() -> None:
    assert resolve_gamma(None, 0.42) == 0.42
    assert resolve_gamma("auto", 0.42) == resolve_gamma(" AUTO", 0.42) == 0.42
    assert resolve_gamma(0.1, 0.42) == resolve_gamma("0.1", 0.42) == 0.1
    with pytest.raises(UserError, match="outside"):
        resolve_gamma(2.0, 0.42)
    with pytest.raises(UserError, match="neither a number"):
        resolve_gamma("high", 0.42)
    assert parse_gamma("auto") is None


def test_backends_and_devices() -> None:
    assert BACKENDS == ("auto", "onnxruntime", "openvino", "torch", "tensorrt")
    assert [normalize_backend(n) for n in ("ORT", "trt", "pytorch", "auto")] == [
        "onnxruntime", "tensorrt", "torch", "auto"]
    with pytest.raises(UserError, match="unknown backend"):
        normalize_backend("tflite")
    assert parse_device("cpu") == ("cpu", 0)
    assert parse_device("cuda") == ("cuda", 0) and parse_device("cuda:3") == ("cuda", 3)
    assert parse_device("gpu") == ("gpu", 0) and parse_device("gpu:1") == ("gpu", 1)
    for bad in ("gpu:", "npu", "cuda:", "cuda:x", "cpu:1", "CUDA", ""):
        with pytest.raises(UserError, match="cpu, cuda or cuda:N"):
            parse_device(bad)
