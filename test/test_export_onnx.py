"""Export to ONNX: graph interface, metadata round trip, parity, options, the CLI contract."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from inference_fixtures import NET_SIZE, camera_image, tiny_checkpoint

from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.deploy import PostProcessing
from uncertainty_seg_node.export.onnx_export import export_onnx
from uncertainty_seg_node.export.parity import compare_outputs, smooth_random_images
from uncertainty_seg_node.inference.ort_backend import OrtPredictor
from uncertainty_seg_node.inference.torch_backend import TorchPredictor
from uncertainty_seg_node.model.artifact import (
    CONFIG_KEY,
    EXPORT_KEY,
    TEMPERATURE_INITIALIZER,
    read_onnx_metadata,
)
from uncertainty_seg_node.model.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


def test_export_writes_graph_interface_and_metadata(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.onnx"
    result = export_onnx(checkpoint, out, size=(28, 84), post=PostProcessing(with_logits=True))
    model = onnx.load(str(out))
    (image,) = model.graph.input
    assert image.name == "image"
    assert image.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = [d.dim_param or d.dim_value for d in image.type.tensor_type.shape.dim]
    assert dims == ["batch", 28, 84, 3]
    outputs = {o.name: o.type.tensor_type for o in model.graph.output}
    assert outputs["class_ids"].elem_type == onnx.TensorProto.UINT8
    assert outputs["confidence"].elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_value for d in outputs["logits"].shape.dim][1:] == [19, 28, 84]
    props = {p.key for p in model.metadata_props}
    assert {CONFIG_KEY, EXPORT_KEY} <= props
    # The metadata read back is the checkpoint's config at the export size.
    config, info = read_onnx_metadata(out)
    expected = dataclasses.replace(load_checkpoint(checkpoint).config, input_size=(28, 84))
    assert config == expected
    assert config.provenance == {"test": "inference", "seed": 0}
    assert info.input_size == (28, 84) and info.with_logits and info.score_method == "msp"
    # No machine paths in a shipped file: outside the working directory, only the file name.
    assert info.checkpoint == checkpoint.name and len(info.checkpoint_sha256) == 64
    assert info.parity["passed"] and result.parity is not None and result.parity.passed
    assert result.parity.label_agreement >= 0.999
    assert result.parity.confidence_max_abs_diff <= 1e-3


# msp is the first test's; maxlogit and margin export like entropy (scores' own ONNX tests).
@pytest.mark.parametrize("method", ["temperature", "energy", "entropy"])
def test_every_score_exports_with_parity(checkpoint: Path, tmp_path: Path, method: str) -> None:
    out = tmp_path / f"{method}.onnx"
    post = PostProcessing(score_method=method, temperature=1.7,
                          energy_sigma=1.0 if method == "energy" else 0.0)
    result = export_onnx(checkpoint, out, parity_images=1, post=post)
    assert result.parity is not None and result.parity.passed, result.parity
    ort_predictor = OrtPredictor(out)
    assert ort_predictor.export_info.score_method == method
    torch_predictor = TorchPredictor.from_checkpoint(
        checkpoint, score_method=method, temperature=1.7,
        energy_sigma=1.0 if method == "energy" else 0.0,
    )
    image = camera_image()
    a, b = ort_predictor.predict(image), torch_predictor.predict(image)
    assert np.mean(a.class_ids == b.class_ids) >= 0.999
    assert np.abs(a.confidence - b.confidence).max() <= 1e-3
    assert 0.0 <= a.confidence.min() and a.confidence.max() <= 1.0


def test_temperature_is_a_named_initializer(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.onnx"
    export_onnx(checkpoint, out, parity=False,
                post=PostProcessing(score_method="temperature", temperature=2.5))
    values = {
        init.name: onnx.numpy_helper.to_array(init)
        for init in onnx.load(str(out)).graph.initializer
    }
    assert float(values[TEMPERATURE_INITIALIZER]) == pytest.approx(2.5)


def test_float16_confidence_int32_ids_and_static_batch(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "half.onnx"
    result = export_onnx(checkpoint, out, dynamic_batch=False, parity_images=2,
                         post=PostProcessing(confidence_dtype="float16", ids_dtype="int32"))
    assert result.parity is not None and result.parity.passed
    predictor = OrtPredictor(out)
    raw = predictor.session.run(None, {"image": np.zeros((1, *NET_SIZE, 3), np.uint8)})
    assert raw[0].dtype == np.int32 and raw[1].dtype == np.float16
    prediction = predictor.predict(camera_image())
    assert prediction.class_ids.dtype == np.uint8 and prediction.confidence.dtype == np.float32
    with pytest.raises(Exception):  # noqa: B017 - ORT's own shape error
        predictor.session.run(None, {"image": np.zeros((2, *NET_SIZE, 3), np.uint8)})


def test_parity_report_fails_on_disagreement() -> None:
    images = smooth_random_images((14, 28), 2)

    def reference(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return batch[..., 0] // 128, batch[..., 1].astype(np.float32) / 255

    def shifted(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids, conf = reference(batch)
        return ids, conf + 2e-3

    assert compare_outputs("same", reference, reference, images).passed
    report = compare_outputs("shifted", reference, shifted, images)
    assert not report.passed and report.label_agreement == 1.0
    assert report.confidence_max_abs_diff == pytest.approx(2e-3, rel=1e-3)
    assert "FAILED" in report.summary()


def test_export_refuses_bad_sizes_and_missing_checkpoints(checkpoint: Path,
                                                          tmp_path: Path) -> None:
    with pytest.raises(UserError, match="multiples of the patch size"):
        export_onnx(checkpoint, tmp_path / "x.onnx", size=(30, 30))
    with pytest.raises(UserError, match="does not exist"):
        export_onnx(tmp_path / "missing.pt", tmp_path / "x.onnx")
    with pytest.raises(UserError, match="score method"):
        export_onnx(checkpoint, tmp_path / "x.onnx", post=PostProcessing(score_method="softmax"))


def test_cli_export_contract(checkpoint: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.onnx"
    torch.set_grad_enabled(True)
    code = main(["export", "--checkpoint", str(checkpoint), "--onnx", str(out),
                 "--size", "28x56", "--parity-images", "2"])
    torch.set_grad_enabled(True)
    assert code == 0 and out.is_file()
    text = capsys.readouterr().out
    assert "label agreement 100.000 %" in text or "label agreement 99.9" in text
    assert OrtPredictor(out).input_size == (28, 56)
    code = main(["export", "--checkpoint", str(tmp_path / "nope.pt"), "--onnx", str(out)])
    assert code == 2 and "does not exist" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None,
                    reason="TensorRT is installed here")
def test_cli_tensorrt_without_tensorrt_says_how_to_install(checkpoint: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    code = main(["export", "--checkpoint", str(checkpoint), "--onnx", str(tmp_path / "m.onnx"),
                 "--tensorrt", str(tmp_path / "m.engine")])
    err = capsys.readouterr().err
    assert code == 2 and "pip install tensorrt" in err
    assert not (tmp_path / "m.onnx").exists()  # refused before spending time on the export
