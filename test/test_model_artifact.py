"""The model file: portable paths in its metadata, and no shipped model carries a machine path."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import onnxruntime as ort
import pytest
from inference_fixtures import tiny_checkpoint

from uncertainty_seg_node.export.onnx_export import export_onnx
from uncertainty_seg_node.inference import load_predictor
from uncertainty_seg_node.model.artifact import (
    find_checkpoint_for,
    portable_path,
    portable_value,
    read_onnx_metadata,
    read_sidecar,
    write_sidecar,
)

REPO = Path(__file__).resolve().parents[1]
# A token that starts at "/" and goes two folders deep: /home/x/..., /work/main/...
_MACHINE_PATH = re.compile(r"(?<![^\s'\"=])/[\w.-]+/[\w./-]+")


def _metadata_strings(path: Path) -> list[str]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return list(session.get_modelmeta().custom_metadata_map.values())


def _machine_paths(texts: list[str]) -> list[str]:
    return [match for text in texts for match in _MACHINE_PATH.findall(text)]


def test_portable_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert portable_path(tmp_path / "runs" / "a.pt") == "runs/a.pt"
    assert portable_path("/somewhere/else/b.pt") == "b.pt"
    value = {"command": "train --data /srv/data/source --out=/srv/runs/f.pt rel/x.pt",
             "data": f"{tmp_path}/data/val", "list": ["/opt/x/c.yaml", 3],
             "url": "https://example.org/a/b", "topic": "camera"}
    assert portable_value(value) == {
        "command": "train --data source --out=f.pt rel/x.pt", "data": "data/val",
        "list": ["c.yaml", 3], "url": "https://example.org/a/b", "topic": "camera"}


def test_export_and_sidecar_record_no_machine_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = tiny_checkpoint(tmp_path / "runs" / "tiny.pt")
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(tmp_path)
    onnx_path = tmp_path / "models" / "m.onnx"
    export_onnx(checkpoint, onnx_path, parity=False)
    config, info = read_onnx_metadata(onnx_path)
    assert info.checkpoint == "runs/tiny.pt"  # relative to the working directory
    assert find_checkpoint_for(onnx_path) == Path("runs/tiny.pt")
    # From another working directory the recorded path does not resolve; the model's folder is
    # searched for a file with the recorded name and hash.
    (tmp_path / "models" / "tiny.pt").write_bytes(checkpoint.read_bytes())
    monkeypatch.chdir(outside)
    config = dataclasses.replace(config, provenance={"data": f"{tmp_path}/data/source"})
    info = dataclasses.replace(info, checkpoint=str(checkpoint))
    engine = tmp_path / "m.engine"
    write_sidecar(engine, config, info, {"key": {}})
    assert _machine_paths([json.dumps(json.loads(engine.with_name("m.engine.json").read_text()))
                           ]) == []
    engine_config, engine_info, _ = read_sidecar(engine)
    assert engine_config.provenance == {"data": "source"} and engine_info.checkpoint == "tiny.pt"
    assert load_predictor(onnx_path).config.input_size == config.input_size


def test_the_detector_finds_machine_paths() -> None:
    # The check below must be able to fail: a developer's checkpoint path is a machine path.
    found = _machine_paths(['{"checkpoint": "/work/main/runs/default_model/f_theta_cal.pt"}',
                            "--data /home/me/data/source"])
    assert found == ["/work/main/runs/default_model/f_theta_cal.pt", "/home/me/data/source"]


def test_no_shipped_model_file_contains_an_absolute_path() -> None:
    files = sorted((REPO / "models").iterdir())
    assert files, "models/ is empty"
    for path in files:
        if path.suffix == ".onnx":
            texts = _metadata_strings(path)
        elif path.suffix == ".safetensors":  # a delta file: its JSON header holds the metadata
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as handle:
                texts = list((handle.metadata() or {}).values())
        else:
            texts = [path.read_text()]
        assert _machine_paths(texts) == [], f"{path.name} carries machine paths"


def test_a_model_file_is_checked_and_opened_once_per_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from uncertainty_seg_node.inference import ort_backend  # noqa: F401 - loaded before patching
    from uncertainty_seg_node.model import artifact

    onnx_path = tmp_path / "m.onnx"
    export_onnx(tiny_checkpoint(tmp_path / "m.pt"), onnx_path, parity=False)
    checks: list[Path] = []
    sessions: list[str] = []

    real_check = artifact.check_model_file

    def counting_check(path: Path) -> None:
        checks.append(path)
        real_check(path)

    class CountingSession(ort.InferenceSession):  # type: ignore[misc]
        def __init__(self, path: str, *args: object, **kwargs: object) -> None:
            sessions.append(path)
            super().__init__(path, *args, **kwargs)

    for name, module in list(sys.modules.items()):  # wherever the check was imported to
        if name.startswith("uncertainty_seg_node.") and hasattr(module, "check_model_file"):
            monkeypatch.setattr(module, "check_model_file", counting_check)
    monkeypatch.setattr(ort, "InferenceSession", CountingSession)
    predictor = load_predictor(onnx_path, "onnxruntime")
    assert predictor.config.num_classes == 19
    assert checks == [onnx_path] and sessions == [str(onnx_path)]


def test_the_bench_reads_a_model_file_once_down_to_the_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make_predictors` resolves the file into one ModelFile: metadata and hash read once."""
    pytest.importorskip("openvino")
    from uncertainty_seg_node.bench import make_predictors
    from uncertainty_seg_node.export.model_cache import CACHE_ENV
    from uncertainty_seg_node.model import artifact

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    onnx_path = tmp_path / "m.onnx"
    export_onnx(tiny_checkpoint(tmp_path / "m.pt"), onnx_path, parity=False)
    reads: list[Path] = []
    hashes: list[Path] = []
    real_read, real_hash = artifact.read_onnx_props, artifact.file_sha256

    def counting_read(path: str | Path) -> dict[str, str]:
        reads.append(Path(path))
        return real_read(path)

    def counting_hash(path: str | Path, chunk: int = 1 << 20) -> str:
        hashes.append(Path(path))
        return real_hash(path, chunk)

    monkeypatch.setattr(artifact, "read_onnx_props", counting_read)
    monkeypatch.setattr(artifact, "file_sha256", counting_hash)
    predictors, skipped = make_predictors(onnx_path, ["openvino:fp32", "onnxruntime"],
                                          scratch=tmp_path, threads=1)
    assert set(predictors) == {"openvino:fp32", "onnxruntime"} and not skipped
    assert reads == [onnx_path]  # the backends use what the walk read
    assert hashes == [onnx_path]  # OpenVINO's IR folder and gate verdict share one hash
