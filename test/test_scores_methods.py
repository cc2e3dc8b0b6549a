"""Uncertainty scores against numpy brute force, range/monotonicity properties, ONNX export."""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import pytest
import torch

from uncertainty_seg_node.config import SCORE_METHODS
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.scores import (
    LOGIT_SCALE,
    confidence_from_logits,
    fit_temperature,
    gaussian_smooth,
)


def _logits(seed: int = 0, shape: tuple[int, ...] = (2, 5, 6, 7), scale: float = 3.0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * scale


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _brute_smooth(m: np.ndarray, sigma: float) -> np.ndarray:
    r = max(1, math.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    kernel2d = np.outer(k, k)
    size = 2 * r + 1
    out = np.empty_like(m)
    for b in range(m.shape[0]):
        padded = np.pad(m[b], r, mode="edge")
        for i in range(m.shape[1]):
            for j in range(m.shape[2]):
                out[b, i, j] = np.sum(kernel2d * padded[i : i + size, j : j + size])
    return out


def _brute(z: np.ndarray, method: str, t: float = 1.0, sigma: float = 0.0) -> np.ndarray:
    p = _softmax(z)
    k = z.shape[1]
    if method == "msp":
        return p.max(axis=1)
    if method == "temperature":
        return _softmax(z / t).max(axis=1)
    if method == "maxlogit":
        return _sigmoid(z.max(axis=1) / LOGIT_SCALE)
    if method == "energy":
        lse = np.log(np.exp(z).sum(axis=1))
        if sigma > 0:
            lse = _brute_smooth(lse, sigma)
        return _sigmoid(lse / LOGIT_SCALE)
    if method == "entropy":
        return 1 - (-(p * np.log(p)).sum(axis=1)) / np.log(k)
    top = np.sort(p, axis=1)
    return top[:, -1] - top[:, -2]


@pytest.mark.parametrize("method", SCORE_METHODS)
def test_scores_match_numpy_and_lie_in_unit_interval(method: str) -> None:
    z = _logits()
    got = confidence_from_logits(z, method, temperature=1.7).numpy()
    ref = _brute(z.double().numpy(), method, t=1.7)
    assert got.shape == (2, 6, 7) and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, atol=2e-6)
    assert got.min() >= 0.0 and got.max() <= 1.0


def test_energy_smoothing_matches_brute_force() -> None:
    z = _logits(1)
    got = confidence_from_logits(z, "energy", energy_smoothing_sigma=1.3).numpy()
    np.testing.assert_allclose(got, _brute(z.double().numpy(), "energy", sigma=1.3), atol=2e-6)
    flat = torch.full((1, 9, 11), 4.0)
    assert torch.allclose(gaussian_smooth(flat, 2.0), flat)
    noisy = torch.randn(1, 16, 16)
    assert gaussian_smooth(noisy, 1.0).std() < noisy.std()


@pytest.mark.parametrize("method", ["msp", "entropy", "temperature"])
def test_sharper_logits_are_more_certain(method: str) -> None:
    z = _logits(2)
    soft = confidence_from_logits(z, method, temperature=2.0)
    sharp = confidence_from_logits(z * 2.0, method, temperature=2.0)
    assert torch.all(sharp >= soft - 1e-6) and torch.any(sharp > soft)


@pytest.mark.parametrize("method", ["maxlogit", "energy"])
def test_unbounded_scores_are_monotone_in_logits(method: str) -> None:
    z = _logits(3)
    assert torch.all(confidence_from_logits(z + 1.0, method) > confidence_from_logits(z, method))


def test_extremes() -> None:
    uniform = torch.zeros(1, 4, 2, 2)
    onehot = torch.full((1, 4, 2, 2), -50.0)
    onehot[:, 1] = 50.0
    for method, low, high in [("msp", 0.25, 1.0), ("entropy", 0.0, 1.0), ("margin", 0.0, 1.0)]:
        assert torch.allclose(confidence_from_logits(uniform, method), torch.tensor(low))
        assert torch.allclose(confidence_from_logits(onehot, method), torch.tensor(high))
    with pytest.raises(UserError, match="unknown score method"):
        confidence_from_logits(uniform, "bogus")


def test_fit_temperature_recovers_true_temperature() -> None:
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(20_000, 6, generator=gen) * 4.0
    t_true = 2.5
    labels = torch.multinomial(torch.softmax(z / t_true, dim=1), 1, generator=gen).squeeze(1)
    labels[:500] = 255  # ignored
    t = fit_temperature(z, labels)
    assert abs(t - t_true) < 0.15
    # No temperature on a fine grid has a lower NLL.
    valid = labels != 255
    nll = [
        torch.nn.functional.cross_entropy(z[valid] / g, labels[valid]).item()
        for g in np.linspace(1.5, 3.5, 81)
    ]
    fitted = torch.nn.functional.cross_entropy(z[valid] / t, labels[valid]).item()
    assert fitted <= min(nll) + 1e-6
    # (B, K, H, W) input works too, and an all-ignore input is refused.
    z4 = z[:4000].reshape(10, 20, 20, 6).permute(0, 3, 1, 2)
    assert fit_temperature(z4, labels[:4000].reshape(10, 20, 20)) > 1.0
    with pytest.raises(UserError, match="no labelled"):
        fit_temperature(z, torch.full((20_000,), 255))


class _Scorer(torch.nn.Module):
    def __init__(self, method: str) -> None:
        super().__init__()
        self.method = method

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return confidence_from_logits(
            logits, self.method, temperature=1.5, energy_smoothing_sigma=1.0
        )


@pytest.mark.parametrize("method", SCORE_METHODS)
def test_onnx_export_matches_torch(method: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    z = _logits(4, shape=(1, 5, 8, 10))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Scorer(method), (z,), buffer, input_names=["logits"], output_names=["confidence"],
            opset_version=17, dynamo=False,
        )
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"logits": z.numpy()})
    np.testing.assert_allclose(got, _Scorer(method)(z).numpy(), atol=1e-5)
