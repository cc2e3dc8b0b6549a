"""L_c and its pieces against brute-force numpy references on random tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from uncertainty_seg_node.losses import (
    consistency_mask,
    gamma_threshold,
    sharpen,
    supervised_loss,
    uncertainty_loss,
)


def _softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _reference_loss(
    teacher: np.ndarray,
    masked: np.ndarray,
    unmasked: np.ndarray,
    T: float,
    tau: float,
    certainty_from: str,
    ignore: np.ndarray | None = None,
    margin_guard: bool = False,
) -> tuple[float, float, float, float]:
    """Pixel-by-pixel loops over Eq. 2-3, gamma by sorting (and the teacher-margin weights)."""
    B, K, H, W = teacher.shape
    conf_logits = unmasked if certainty_from == "unmasked" else masked
    p_conf = _softmax(conf_logits.astype(np.float64))
    pixels = [
        (b, i, j)
        for b in range(B) for i in range(H) for j in range(W)
        if ignore is None or not ignore[b, i, j]
    ]
    consistent = [
        teacher[b, :, i, j].argmax() == masked[b, :, i, j].argmax() for b, i, j in pixels
    ]
    rate = sum(consistent) / len(pixels)
    conf = sorted(p_conf[b, :, i, j].max() for b, i, j in pixels)
    k = round(rate * len(pixels))
    gamma = conf[0] - 1e-12 if k == len(pixels) else conf[len(pixels) - k - 1]
    num = 0.0
    den = 0.0
    certain = 0
    for b, i, j in pixels:
        if p_conf[b, :, i, j].max() > gamma:
            p_t = _softmax(teacher[b, :, i, j][None].astype(np.float64) / tau)[0]
            p_t = p_t ** (1.0 / T)
            p_t /= p_t.sum()
            q = _softmax(masked[b, :, i, j][None].astype(np.float64) / tau)[0]
            weight = 1.0
            if margin_guard:
                top = np.sort(_softmax(teacher[b, :, i, j][None].astype(np.float64))[0])
                weight = top[-1] - top[-2]
            num += weight * float(-(p_t * np.log(q)).sum())
            den += weight
            certain += 1
    return (num / den if den else 0.0), rate, gamma, certain / len(pixels)


def _random_logits(seed: int, shape: tuple[int, ...] = (2, 5, 6, 7)) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=gen) * 2.0 for _ in range(3)]


def test_sharpen_matches_formula_and_is_softmax_of_scaled_logits() -> None:
    logits = torch.randn(3, 19, 4, 5, dtype=torch.float64)
    p = logits.softmax(1)
    for T in (0.1, 0.5, 1.0, 2.0):
        ref = p.numpy() ** (1.0 / T)
        ref /= ref.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(sharpen(p, T).numpy(), ref, rtol=1e-10)
        torch.testing.assert_close(sharpen(p, T), (logits / T).softmax(1))
    assert bool((sharpen(p, 0.5).amax(1) >= p.amax(1) - 1e-12).all())
    with pytest.raises(ValueError):
        sharpen(p, 0.0)


def test_sharpen_handles_zero_probabilities_and_tiny_temperature() -> None:
    p = torch.tensor([[0.0, 0.3, 0.7], [1e-30, 1e-30, 1.0]]).T[None]  # (1, 3, 2)
    out = sharpen(p, 0.01)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.sum(1), torch.ones(1, 2))
    assert out[0, 0, 0] == 0.0 and out[0, 2, 0] > 0.999


def test_consistency_mask_is_argmax_agreement() -> None:
    t, m, _ = _random_logits(1)
    ref = t.numpy().argmax(1) == m.numpy().argmax(1)
    got = consistency_mask(t, m)
    assert got.dtype == torch.bool
    np.testing.assert_array_equal(got.numpy(), ref)
    assert consistency_mask(t, t).all()
    with pytest.raises(ValueError, match="shape"):
        consistency_mask(t, m[:, :4])


@pytest.mark.parametrize("fraction", [0.0, 0.013, 0.25, 0.5, 0.77, 0.999, 1.0])
def test_gamma_makes_certain_fraction_equal_consistent_fraction(fraction: float) -> None:
    confidence = torch.rand(4, 9, 11, generator=torch.Generator().manual_seed(3))
    gamma = gamma_threshold(confidence, fraction)
    n = confidence.numel()
    certain = int((confidence > gamma).sum())
    assert certain == round(fraction * n)
    if fraction == 1.0:
        assert bool((confidence > gamma).all())
    if fraction == 0.0:
        assert not bool((confidence > gamma).any())
        assert float(gamma) == float(confidence.max())


def test_gamma_is_the_quantile_of_the_confidences() -> None:
    gen = torch.Generator().manual_seed(5)
    confidence = torch.rand(10_001, generator=gen, dtype=torch.float64)
    for fraction in (0.1, 0.5, 0.9):
        gamma = float(gamma_threshold(confidence, fraction))
        ref = float(np.quantile(confidence.numpy(), 1.0 - fraction, method="lower"))
        assert math.isclose(gamma, ref, abs_tol=2e-4)


def test_gamma_with_ties_and_bad_input() -> None:
    confidence = torch.tensor([0.5, 0.5, 0.5, 0.9])
    gamma = gamma_threshold(confidence, 0.5)  # the tie cannot be split: only 0.9 is certain
    assert int((confidence > gamma).sum()) == 1
    with pytest.raises(ValueError):
        gamma_threshold(confidence, 1.5)
    with pytest.raises(ValueError):
        gamma_threshold(torch.zeros(0), 0.5)


@pytest.mark.parametrize("certainty_from", ["unmasked", "masked"])
@pytest.mark.parametrize("tau", [1.0, 0.1])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uncertainty_loss_matches_bruteforce(certainty_from: str, tau: float, seed: int) -> None:
    t, m, u = _random_logits(seed)
    loss, stats = uncertainty_loss(
        t, m, u, sharpen_T=0.5, consistency_temperature=tau, certainty_from=certainty_from  # type: ignore[arg-type]
    )
    ref_loss, ref_rate, ref_gamma, ref_certain = _reference_loss(
        t.numpy(), m.numpy(), u.numpy(), 0.5, tau, certainty_from
    )
    assert math.isclose(float(loss), ref_loss, rel_tol=1e-5, abs_tol=1e-6)
    assert math.isclose(stats.consistency_rate, ref_rate, abs_tol=1e-7)
    assert math.isclose(stats.gamma, ref_gamma, rel_tol=1e-6)
    assert math.isclose(stats.certain_fraction, ref_certain, abs_tol=1e-9)
    # gamma's defining property: as many certain pixels as consistent ones (no ties here).
    assert math.isclose(stats.certain_fraction, stats.consistency_rate, abs_tol=1e-9)


@pytest.mark.parametrize("seed", [0, 3])
def test_the_teacher_margin_guard_matches_bruteforce(seed: int) -> None:
    t, m, u = _random_logits(seed)
    loss, stats = uncertainty_loss(t, m, u, guard="teacher_margin")
    ref_loss, ref_rate, ref_gamma, ref_certain = _reference_loss(
        t.numpy(), m.numpy(), u.numpy(), 0.5, 1.0, "unmasked", margin_guard=True)
    assert math.isclose(float(loss), ref_loss, rel_tol=1e-5, abs_tol=1e-6)
    # The guard weights the pixels; which pixels are certain, and gamma, do not change.
    assert math.isclose(stats.gamma, ref_gamma, rel_tol=1e-6)
    assert math.isclose(stats.certain_fraction, ref_certain, abs_tol=1e-9)
    plain, _ = uncertainty_loss(t, m, u)
    assert not math.isclose(float(loss), float(plain), rel_tol=1e-4)
    with pytest.raises(ValueError, match="guard"):
        uncertainty_loss(t, m, u, guard="bogus")  # type: ignore[arg-type]


def test_uncertainty_loss_with_ignore_mask() -> None:
    t, m, u = _random_logits(7)
    ignore = torch.zeros(2, 6, 7, dtype=torch.bool)
    ignore[:, :2] = True
    loss, stats = uncertainty_loss(t, m, u, ignore_mask=ignore)
    ref_loss, ref_rate, _, ref_certain = _reference_loss(
        t.numpy(), m.numpy(), u.numpy(), 0.5, 1.0, "unmasked", ignore.numpy()
    )
    assert math.isclose(float(loss), ref_loss, rel_tol=1e-5)
    assert math.isclose(stats.consistency_rate, ref_rate, abs_tol=1e-7)
    assert stats.valid_pixels == 2 * 4 * 7
    assert math.isclose(stats.certain_fraction, ref_certain)


def test_all_consistent_makes_every_pixel_certain() -> None:
    t, _, u = _random_logits(11)
    masked = (t * 1.7).requires_grad_(True)  # same argmax everywhere
    loss, stats = uncertainty_loss(t, masked, u)
    assert stats.consistency_rate == 1.0 and stats.certain_fraction == 1.0
    ref_loss, *_ = _reference_loss(
        t.numpy(), masked.detach().numpy(), u.numpy(), 0.5, 1.0, "unmasked"
    )
    assert math.isclose(float(loss.detach()), ref_loss, rel_tol=1e-5)
    loss.backward()
    assert masked.grad is not None and masked.grad.abs().sum() > 0


def test_none_consistent_gives_zero_loss_with_graph_intact() -> None:
    t, _, u = _random_logits(12)
    masked = (-t).clone().requires_grad_(True)  # opposite argmax everywhere
    loss, stats = uncertainty_loss(t, masked, u, certainty_from="masked")
    assert stats.consistency_rate == 0.0 and stats.certain_fraction == 0.0
    assert float(loss.detach()) == 0.0 and loss.requires_grad
    loss.backward()
    assert masked.grad is not None and float(masked.grad.abs().sum()) == 0.0


def test_everything_ignored_gives_zero_loss_with_graph_intact() -> None:
    t, m, u = _random_logits(13)
    m.requires_grad_(True)
    loss, stats = uncertainty_loss(t, m, u, ignore_mask=torch.ones(2, 6, 7, dtype=torch.bool))
    assert float(loss.detach()) == 0.0 and stats.valid_pixels == 0
    loss.backward()
    assert m.grad is not None and float(m.grad.abs().sum()) == 0.0


def test_loss_gradient_reaches_only_the_masked_branch() -> None:
    t, m, u = (x.requires_grad_(True) for x in _random_logits(14))
    loss, _ = uncertainty_loss(t, m, u)
    loss.backward()
    assert m.grad is not None and m.grad.abs().sum() > 0
    assert t.grad is None and u.grad is None  # teacher frozen, certainty mask is hard


def test_bad_arguments() -> None:
    t, m, u = _random_logits(15)
    with pytest.raises(ValueError, match="unmasked"):
        uncertainty_loss(t, m, None)
    with pytest.raises(ValueError, match="certainty_from"):
        uncertainty_loss(t, m, u, certainty_from="both")  # type: ignore[arg-type]


def test_supervised_loss_ignores_255_and_matches_numpy() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 3, 5, generator=gen, dtype=torch.float64)
    labels = torch.randint(0, 4, (2, 3, 5), generator=gen)
    labels[0, 0] = 255
    p = _softmax(logits.numpy())
    terms = [
        -np.log(p[b, labels[b, i, j], i, j])
        for b in range(2) for i in range(3) for j in range(5) if labels[b, i, j] != 255
    ]
    loss = supervised_loss(logits, labels)
    assert math.isclose(float(loss), float(np.mean(terms)), rel_tol=1e-6)
    all_ignored = torch.full_like(labels, 255)
    x = logits.clone().requires_grad_(True)
    loss = supervised_loss(x, all_ignored)
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert x.grad is not None and float(x.grad.abs().sum()) == 0.0
