"""The inference interface on real files: torch and ONNX Runtime agree, inputs are validated."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from inference_fixtures import NET_SIZE, camera_image, tiny_checkpoint

from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.deploy import PostProcessing
from uncertainty_seg_node.export.onnx_export import export_onnx
from uncertainty_seg_node.inference.ort_backend import OrtPredictor
from uncertainty_seg_node.inference.pipeline import PipelinePredictor
from uncertainty_seg_node.inference.preprocess import plan_resize, preprocess
from uncertainty_seg_node.inference.torch_backend import TorchPredictor
from uncertainty_seg_node.model import build_segmenter
from uncertainty_seg_node.model.checkpoint import load_checkpoint
from uncertainty_seg_node.scores import confidence_from_logits


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("models")
    checkpoint = tiny_checkpoint(root / "tiny.pt")
    onnx_path = root / "tiny.onnx"
    export_onnx(checkpoint, onnx_path, parity=False, post=PostProcessing(with_logits=True))
    return checkpoint, onnx_path


@pytest.fixture(scope="module")
def predictors(files: tuple[Path, Path]) -> tuple[TorchPredictor, OrtPredictor]:
    checkpoint, onnx_path = files
    return TorchPredictor.from_checkpoint(checkpoint), OrtPredictor(onnx_path)


def test_torch_and_onnxruntime_agree_at_camera_resolution(
    predictors: tuple[TorchPredictor, OrtPredictor],
) -> None:
    image = camera_image((53, 97))
    results = [p.predict(image, with_logits=True) for p in predictors]
    for prediction in results:
        assert prediction.class_ids.shape == (53, 97) and prediction.class_ids.dtype == np.uint8
        assert prediction.confidence.shape == (53, 97)
        assert prediction.confidence.dtype == np.float32
        assert prediction.certain.dtype == np.bool_
        assert prediction.gamma == pytest.approx(0.3)  # the checkpoint's default_gamma
        np.testing.assert_array_equal(prediction.certain, prediction.confidence > 0.3)
        assert prediction.logits is not None and prediction.logits.shape == (19, *NET_SIZE)
        assert set(prediction.timings_ms) == {"preprocess", "inference", "postprocess"}
        assert all(v >= 0 for v in prediction.timings_ms.values())
    a, b = results
    assert np.mean(a.class_ids == b.class_ids) >= 0.999
    assert np.abs(a.confidence - b.confidence).max() <= 1e-3
    assert np.abs(a.logits - b.logits).max() <= 1e-3  # type: ignore[operator]


def test_matches_the_model_on_a_manually_prepared_input(
    files: tuple[Path, Path], predictors: tuple[TorchPredictor, OrtPredictor],
) -> None:
    """Brute-force reference: resize, normalise, Segmenter, softmax, argmax, resize back."""
    model = load_checkpoint(files[0]).model.eval()
    config = model.config
    image = camera_image((40, 90), seed=3)
    net = cv2.resize(image, (NET_SIZE[1], NET_SIZE[0]), interpolation=cv2.INTER_LINEAR)
    x = (net.astype(np.float32) / 255 - np.array(config.mean, np.float32)) / np.array(
        config.std, np.float32)
    with torch.no_grad():
        logits = model(torch.from_numpy(x.transpose(2, 0, 1))[None])
    probs = torch.softmax(logits, 1)[0]
    ids = cv2.resize(probs.argmax(0).numpy().astype(np.uint8), (90, 40),
                     interpolation=cv2.INTER_NEAREST)
    conf = cv2.resize(probs.amax(0).numpy(), (90, 40), interpolation=cv2.INTER_LINEAR)
    for predictor in predictors:
        prediction = predictor.predict(image)
        assert np.mean(prediction.class_ids == ids) >= 0.999
        assert np.abs(prediction.confidence - conf).max() <= 1e-4


@pytest.mark.parametrize("encoding", ["bgr8", "rgba8", "bgra8"])
def test_encodings_give_the_rgb_result(predictors: tuple[TorchPredictor, OrtPredictor],
                                       encoding: str) -> None:
    _, ort_predictor = predictors
    rgb = camera_image((45, 66), seed=1)
    code = {"bgr8": cv2.COLOR_RGB2BGR, "rgba8": cv2.COLOR_RGB2RGBA,
            "bgra8": cv2.COLOR_RGB2BGRA}[encoding]
    reference = ort_predictor.predict(rgb)
    other = ort_predictor.predict(cv2.cvtColor(rgb, code), encoding=encoding)
    np.testing.assert_array_equal(other.class_ids, reference.class_ids)
    np.testing.assert_allclose(other.confidence, reference.confidence, atol=1e-6)


def test_mono8_and_gamma_override(predictors: tuple[TorchPredictor, OrtPredictor]) -> None:
    _, ort_predictor = predictors
    gray = camera_image((30, 50))[:, :, 1].copy()
    prediction = ort_predictor.predict(gray, encoding="mono8", gamma=0.9)
    assert prediction.class_ids.shape == (30, 50) and prediction.gamma == 0.9
    np.testing.assert_array_equal(prediction.certain, prediction.confidence > 0.9)
    as_rgb = ort_predictor.predict(np.repeat(gray[:, :, None], 3, axis=2))
    np.testing.assert_array_equal(as_rgb.class_ids, prediction.class_ids)
    everything = ort_predictor.predict(gray, encoding="mono8", gamma=0.0)
    assert everything.certain.mean() == pytest.approx((everything.confidence > 0).mean())


@pytest.mark.parametrize(
    ("image", "encoding", "message"),
    [
        (np.zeros((20, 30, 3), np.float32), "rgb8", "dtype is float32"),
        (np.zeros((20, 30, 3), np.uint16), "bgr8", "dtype is uint16"),
        (np.zeros((20, 30, 4), np.uint8), "rgb8",
         r"rgb8 image must have 3 channel\(s\); got shape \(20, 30, 4\)"),
        (np.zeros((20, 30), np.uint8), "bgr8", r"got shape \(20, 30\)"),
        (np.zeros((20, 30, 3), np.uint8), "mono8", "mono8 image must have 1"),
        (np.zeros((0, 30, 3), np.uint8), "rgb8", "zero size"),
        (np.zeros((20, 0), np.uint8), "mono8", "zero size"),
        (np.zeros((1, 20, 30, 3), np.uint8), "rgb8", r"shape \(1, 20, 30, 3\)"),
        (np.zeros((20, 30, 3), np.uint8), "yuv422", "unsupported image encoding 'yuv422'"),
        ([[0, 1], [2, 3]], "mono8", "numpy array, got list"),
    ],
)
def test_bad_images_raise_user_errors(predictors: tuple[TorchPredictor, OrtPredictor],
                                      image: np.ndarray, encoding: str, message: str) -> None:
    for predictor in predictors:
        with pytest.raises(UserError, match=message):
            predictor.predict(image, encoding=encoding)


def test_bad_gamma_and_missing_logits(files: tuple[Path, Path], tmp_path: Path,
                                      predictors: tuple[TorchPredictor, OrtPredictor]) -> None:
    image = camera_image()
    for predictor in predictors:
        for gamma in (-0.1, 1.5, float("nan"), "high"):
            with pytest.raises(UserError, match="gamma"):
                predictor.predict(image, gamma=gamma)  # type: ignore[arg-type]
    plain = tmp_path / "plain.onnx"
    export_onnx(files[0], plain, parity=False)
    with pytest.raises(UserError, match="--with-logits"):
        OrtPredictor(plain).predict(image, with_logits=True)
    with pytest.raises(UserError, match="re-export with `--score entropy`"):
        OrtPredictor(plain, score_method="entropy")


def test_batches_of_different_sizes(predictors: tuple[TorchPredictor, OrtPredictor]) -> None:
    for predictor in predictors:
        images = [camera_image((30, 40), 0), camera_image((64, 48), 1), camera_image((42, 70), 2)]
        batch = predictor.predict_batch(images)
        assert [p.class_ids.shape for p in batch] == [(30, 40), (64, 48), (42, 70)]
        single = predictor.predict(images[1])
        np.testing.assert_array_equal(batch[1].class_ids, single.class_ids)
        np.testing.assert_allclose(batch[1].confidence, single.confidence, atol=1e-5)


def test_letterbox_policy_maps_content_back(files: tuple[Path, Path]) -> None:
    plan = plan_resize((100, 100), (42, 70), "letterbox")
    assert plan.box == (0, 14, 42, 42)
    wide = plan_resize((20, 200), (42, 70), "letterbox")
    assert wide.box == (17, 0, 7, 70)
    rgb, _ = preprocess(np.full((100, 100, 3), 7, np.uint8), "rgb8", (42, 70), "letterbox")
    assert rgb.shape == (42, 70, 3) and (rgb[:, 14:56] == 7).all()
    assert tuple(rgb[0, 0]) == (124, 116, 104)  # ImageNet mean in uint8: zero after normalising
    model = load_checkpoint(files[0]).model
    model.config = dataclasses.replace(model.config, resize_policy="letterbox")
    predictor = TorchPredictor(model)
    prediction = predictor.predict(camera_image((90, 90)))
    assert prediction.class_ids.shape == (90, 90)
    with pytest.raises(UserError, match="resize policy"):
        plan_resize((10, 10), (14, 14), "crop")


def test_runtime_score_selection_matches_scores_module(
    predictors: tuple[TorchPredictor, OrtPredictor],
) -> None:
    torch_predictor, _ = predictors
    batch = np.stack([camera_image(NET_SIZE, 4)])
    logits = torch_predictor.logits(batch)
    for method in ("entropy", "margin", "msp"):
        torch_predictor.score_method = method
        out = torch_predictor.run_network(batch)
        expected = confidence_from_logits(logits, method).numpy()
        np.testing.assert_allclose(out.confidence, expected, atol=1e-6)
        assert torch_predictor.config.score_method == method
    with pytest.raises(UserError, match="unknown score method"):
        torch_predictor.score_method = "vibes"


def test_ensemble_and_mc_dropout(tmp_path: Path) -> None:
    small = (28, 28)
    first = tiny_checkpoint(tmp_path / "a.pt", seed=1, size=small)
    second = tiny_checkpoint(tmp_path / "b.pt", seed=2, size=small)
    ensemble = TorchPredictor.from_checkpoint([first, second])
    assert ensemble.backend_name == "torch-ensemble"
    batch = np.stack([camera_image(small, 5)])
    members = ensemble.member_logits(batch)
    assert members.shape == (2, 1, 19, *small)
    mean_probs = torch.softmax(members, dim=2).mean(0)
    out = ensemble.run_network(batch)
    np.testing.assert_allclose(out.confidence, mean_probs.amax(1).numpy(), atol=1e-5)
    np.testing.assert_array_equal(out.class_ids, mean_probs.argmax(1).numpy())

    torch.manual_seed(0)
    model = build_segmenter(load_checkpoint(first).config)
    with pytest.raises(UserError, match="MC dropout needs dropout > 0"):
        TorchPredictor(model, mc_dropout=4)
    mc = TorchPredictor(model, mc_dropout=4, mc_dropout_p=0.3)
    passes = mc.member_logits(batch)
    assert passes.shape == (4, 1, 19, *small)
    assert not torch.allclose(passes[0], passes[1])  # dropout is active per pass
    assert isinstance(mc, PipelinePredictor) and mc.backend_name == "torch-mcdropout"


def test_fp16_needs_cuda() -> None:
    model = build_segmenter(model_config_for("tiny", input_size=NET_SIZE))
    with pytest.raises(UserError, match="fp16 needs a CUDA device"):
        TorchPredictor(model, precision="fp16")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA GPU"):
            TorchPredictor(model, device="cuda")


def test_io_binding_path_and_non_contiguous_images(files: tuple[Path, Path]) -> None:
    bound = OrtPredictor(files[1], io_binding=True, threads=1)
    plain = OrtPredictor(files[1], io_binding=False)
    image = camera_image((50, 80), seed=6)[:, ::-1]  # a negative-stride view
    a, b = bound.predict(image, with_logits=True), plain.predict(np.ascontiguousarray(image))
    np.testing.assert_array_equal(a.class_ids, b.class_ids)
    np.testing.assert_array_equal(a.confidence, b.confidence)
    assert a.logits is not None and a.logits.shape == (19, *NET_SIZE)
