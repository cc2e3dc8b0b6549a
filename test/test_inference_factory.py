"""load_predictor: dispatch by file type; clear errors for missing, corrupt, foreign files."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from inference_fixtures import camera_image, tiny_checkpoint

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.onnx_export import export_onnx
from uncertainty_seg_node.inference import load_predictor
from uncertainty_seg_node.inference.ort_backend import OrtPredictor
from uncertainty_seg_node.inference.torch_backend import TorchPredictor
from uncertainty_seg_node.model.artifact import find_checkpoint_for
from uncertainty_seg_node.runtime import normalize_backend

NO_TENSORRT = importlib.util.find_spec("tensorrt") is None


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("factory")
    checkpoint = tiny_checkpoint(root / "model.pt")
    onnx_path = root / "model.onnx"
    export_onnx(checkpoint, onnx_path, parity=False)
    return checkpoint, onnx_path


def test_backend_follows_the_file_type(files: tuple[Path, Path], tmp_path: Path) -> None:
    checkpoint, onnx_path = files
    torch_predictor = load_predictor(checkpoint)
    assert isinstance(torch_predictor, TorchPredictor)
    assert torch_predictor.backend_name == "torch"
    ort_predictor = load_predictor(str(onnx_path), "onnxruntime")
    assert isinstance(ort_predictor, OrtPredictor)
    assert ort_predictor.backend_name == "onnxruntime"
    assert ort_predictor.config == torch_predictor.config
    # backend='torch' on an .onnx file finds the checkpoint it was exported from.
    assert find_checkpoint_for(onnx_path) == checkpoint.resolve()
    from_onnx = load_predictor(onnx_path, backend="torch", score_method="entropy")
    assert isinstance(from_onnx, TorchPredictor) and from_onnx.score_method == "entropy"
    # ...or a sibling checkpoint when the recorded one moved.
    moved = tmp_path / "copy.onnx"
    moved.write_bytes(onnx_path.read_bytes())
    assert find_checkpoint_for(moved) in (checkpoint.resolve(), None)
    (tmp_path / "copy.pt").write_bytes(checkpoint.read_bytes())
    assert find_checkpoint_for(moved) is not None
    ensemble = load_predictor([checkpoint, tmp_path / "copy.pt"])
    assert ensemble.backend_name == "torch-ensemble"
    assert ensemble.predict(camera_image()).class_ids.shape == (37, 61)
    assert normalize_backend("ORT") == "onnxruntime" and normalize_backend("trt") == "tensorrt"


def test_missing_files_name_the_path_and_the_fix(tmp_path: Path) -> None:
    for name in ("model.onnx", "model.engine"):
        with pytest.raises(UserError, match=rf"{tmp_path / name} does not exist.*uncertainty-seg "
                                            "export"):
            load_predictor(tmp_path / name)
    with pytest.raises(UserError, match="does not exist"):
        load_predictor(tmp_path / "model.pt")
    with pytest.raises(UserError, match="unknown type '.bin'"):
        load_predictor(tmp_path / "model.bin")
    with pytest.raises(UserError, match="unknown backend 'tflite'"):
        load_predictor(tmp_path / "model.onnx", backend="tflite")


def test_corrupt_and_foreign_files(files: tuple[Path, Path], tmp_path: Path) -> None:
    checkpoint, onnx_path = files
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 50)
    with pytest.raises(UserError, match=rf"{corrupt} is corrupt or not a model.*export"):
        load_predictor(corrupt)
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(onnx_path.read_bytes()[:5000])
    with pytest.raises(UserError, match="corrupt"):
        load_predictor(truncated)
    bad_ckpt = tmp_path / "bad.pt"
    bad_ckpt.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="corrupt"):
        load_predictor(bad_ckpt)
    # A valid ONNX file that was not made by `uncertainty-seg export`.
    foreign = tmp_path / "foreign.onnx"
    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    graph = onnx.helper.make_graph(
        [node], "g", [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.UINT8, [1, 3])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.UINT8, [1, 3])])
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]),
              str(foreign))
    with pytest.raises(UserError, match="no uncertainty_seg_node metadata"):
        load_predictor(foreign)
    with pytest.raises(UserError, match="ONNX Runtime needs an .onnx file"):
        load_predictor(checkpoint, backend="onnxruntime")
    with pytest.raises(UserError, match="TensorRT needs an .onnx or engine file"):
        load_predictor(checkpoint, backend="tensorrt")
    with pytest.raises(UserError, match="needs a checkpoint"):
        load_predictor(foreign, backend="torch")


@pytest.mark.skipif(not NO_TENSORRT, reason="TensorRT is installed here")
def test_tensorrt_missing_says_how_to_install(files: tuple[Path, Path], tmp_path: Path) -> None:
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"serialized")
    for path, backend in ((engine, "auto"), (files[1], "tensorrt")):
        with pytest.raises(UserError, match="pip install tensorrt"):
            load_predictor(path, backend=backend, device="cuda")


def test_inference_package_does_not_import_torch() -> None:
    code = ("import sys; import uncertainty_seg_node.inference as i; "
            "import uncertainty_seg_node.inference.ort_backend; "
            "import uncertainty_seg_node.inference.trt_backend; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
