"""L_c, the Masked gamma-SSL uncertainty loss (paper Sec. IV, Eq. 2-3; docs/method.md).

Per batch of unlabelled target images I, with f_theta frozen:

    s_theta = f_theta(I)            teacher logits, no grad
    s_phi^m = f_phi(m(I))           student logits on the patch-masked image, with grad
    s_phi   = f_phi(I)              student logits on the full image (certainty, `unmasked`)

    M_c     = [argmax s_theta == argmax s_phi^m]                       (Eq. 2)
    gamma   = the (1 - mean M_c) quantile of max softmax s_phi      (so mean M_gamma = mean M_c)
    M_gamma = max softmax s_phi > gamma                                 (Eq. 1)
    L_c     = sum_i M_gamma(i) H[rho_T(softmax s_theta(i)), softmax s_phi^m(i)] / sum_j M_gamma(j)

`rho_T(p) = p^(1/T) / sum p^(1/T)` sharpens the teacher (T = 0.5) and H is the soft-target
cross-entropy. The certainty mask is hard, so no gradient flows through gamma: f_phi learns to be
uncertain where it is inconsistent because only its certain pixels are pulled towards a sharpened
teacher (and the supervised source loss keeps it honest).

The guard `teacher_margin` (an option, not the paper's) weights each certain pixel by the
teacher's top-1 minus top-2 probability, so pixels the teacher barely decides pull less.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

CertaintyFrom = Literal["unmasked", "masked"]
CERTAINTY_FROM: tuple[str, ...] = ("unmasked", "masked")
LcGuard = Literal["none", "teacher_margin"]
LC_GUARDS: tuple[str, ...] = ("none", "teacher_margin")


@dataclass(frozen=True)
class ConsistencyStats:
    """What one evaluation of L_c measured, for the training log (plain floats)."""

    consistency_rate: float  # mean(M_c) over the valid pixels
    gamma: float  # the threshold chosen for this batch
    certain_fraction: float  # mean(M_gamma) over the valid pixels
    loss: float
    valid_pixels: int


def sharpen(probs: Tensor, T: float, dim: int = 1) -> Tensor:  # noqa: N803 (paper's name)
    """rho_T(p) = p^(1/T) / sum_k p^(1/T) along `dim` (T < 1 lowers the entropy)."""
    if T <= 0:
        raise ValueError(f"sharpening temperature must be > 0, got {T}")
    # Dividing by the max first is exact (it cancels in the ratio) and keeps p^(1/T) from
    # underflowing for small T.
    scaled = probs / probs.amax(dim=dim, keepdim=True).clamp_min(torch.finfo(probs.dtype).tiny)
    powered = scaled.pow(1.0 / T)
    return powered / powered.sum(dim=dim, keepdim=True)


def top2_margin(probs: Tensor, dim: int = 1) -> Tensor:
    """The top-1 minus the top-2 probability along `dim`, in [0, 1]."""
    top = probs.topk(2, dim=dim).values
    return top.select(dim, 0) - top.select(dim, 1)


def consistency_mask(logits_teacher: Tensor, logits_masked: Tensor) -> Tensor:
    """M_c (Eq. 2): bool (B, H, W), True where both networks pick the same class."""
    if logits_teacher.shape != logits_masked.shape:
        raise ValueError(
            f"teacher logits {tuple(logits_teacher.shape)} and masked-student logits "
            f"{tuple(logits_masked.shape)} differ in shape"
        )
    return logits_teacher.argmax(dim=1) == logits_masked.argmax(dim=1)


def gamma_threshold(confidence: Tensor, consistent_fraction: float | Tensor) -> Tensor:
    """The gamma for which `mean(confidence > gamma) == consistent_fraction` (up to ties).

    `confidence` holds max-softmax values of every (valid) pixel of the batch, any shape.
    gamma is the (1 - fraction) quantile taken as an order statistic: with N pixels and
    k = round(fraction * N) of them to be certain, gamma is the largest confidence that is NOT
    among the top k. So fraction 1 gives a gamma just below the minimum (every pixel certain) and
    fraction 0 gives the maximum (no pixel certain, since certainty is strictly `>`).
    Returns a 0-d tensor (detached) on `confidence`'s device and dtype.
    """
    values = confidence.detach().reshape(-1)
    n = values.numel()
    if n == 0:
        raise ValueError("gamma_threshold needs at least one pixel")
    fraction = float(consistent_fraction)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"consistent fraction {fraction} is outside [0, 1]")
    k = int(round(fraction * n))  # how many pixels should be certain
    if k >= n:
        lowest = values.min()
        return torch.nextafter(lowest, torch.full_like(lowest, float("-inf")))
    # (n - k)-th smallest value, 1-based: the largest of the n - k uncertain pixels.
    return values.kthvalue(n - k).values


def uncertainty_loss(
    logits_teacher: Tensor,
    logits_masked: Tensor,
    logits_unmasked: Tensor | None,
    *,
    sharpen_T: float = 0.5,  # noqa: N803 (paper's name)
    consistency_temperature: float = 1.0,
    certainty_from: CertaintyFrom = "unmasked",
    ignore_mask: Tensor | None = None,
    guard: LcGuard = "none",
) -> tuple[Tensor, ConsistencyStats]:
    """L_c (Eq. 3) and its statistics.

    Args:
        logits_teacher: s_theta, (B, K, H, W), from the frozen f_theta (detached here).
        logits_masked: s_phi^m, (B, K, H, W), f_phi on the patch-masked images (with grad).
        logits_unmasked: s_phi, (B, K, H, W), f_phi on the full images; needed when
            `certainty_from == "unmasked"` (the paper), ignored for "masked" (the authors' code).
        sharpen_T: rho_T temperature applied to the teacher's softmax (paper: 0.5).
        consistency_temperature: softmax temperature dividing both teacher and student logits
            before the cross-entropy, as the authors' code does (0.1 there for ViT; 1 = Eq. 3).
            The certainty mask and gamma always use the plain softmax, the one gamma thresholds
            at run time.
        certainty_from: which student output's max softmax defines M_gamma.
        ignore_mask: optional bool (B, H, W), True for pixels to leave out (padding).
        guard: "teacher_margin" weights each certain pixel's term by the teacher's top-2
            margin (plain softmax) in both sums; "none" is Eq. 3.

    Returns:
        (loss, stats): loss is a 0-d tensor that keeps the autograd graph even when no pixel
        is certain (it is then exactly 0 with zero gradients).
    """
    if certainty_from not in CERTAINTY_FROM:
        raise ValueError(f"certainty_from must be one of {CERTAINTY_FROM}, got {certainty_from!r}")
    if consistency_temperature <= 0:
        raise ValueError(f"consistency temperature must be > 0, got {consistency_temperature}")
    if guard not in LC_GUARDS:
        raise ValueError(f"guard must be one of {LC_GUARDS}, got {guard!r}")
    teacher = logits_teacher.detach().float()
    masked = logits_masked.float()
    consistent = consistency_mask(teacher, masked)
    valid = torch.ones_like(consistent) if ignore_mask is None else ~ignore_mask.bool()

    if certainty_from == "unmasked":
        if logits_unmasked is None:
            raise ValueError("certainty_from='unmasked' needs the unmasked student logits")
        certainty_logits = logits_unmasked.detach().float()
    else:
        certainty_logits = masked.detach()
    confidence = certainty_logits.softmax(dim=1).amax(dim=1)

    n_valid = int(valid.sum().item())
    if n_valid == 0:
        zero = (masked * 0.0).sum()
        return zero, ConsistencyStats(0.0, 1.0, 0.0, 0.0, 0)

    # Counts in Python ints/floats (float64) so round(rate * n) recovers the count exactly.
    consistency_rate = int((consistent & valid).sum().item()) / n_valid
    gamma = gamma_threshold(confidence[valid], consistency_rate)
    certain = (confidence > gamma) & valid

    # Soft-target cross-entropy, per pixel: -sum_k rho_T(p_theta)_k log p_phi^m_k.
    target = sharpen(F.softmax(teacher / consistency_temperature, dim=1), sharpen_T)
    log_query = F.log_softmax(masked / consistency_temperature, dim=1)
    xent = -(target * log_query).sum(dim=1)  # (B, H, W)

    weights = certain.to(xent.dtype)
    n_certain = weights.sum()
    if guard == "teacher_margin":
        weights = weights * top2_margin(F.softmax(teacher, dim=1))
    # Guard the empty mask: 0 * xent keeps the graph (zero gradients) and avoids 0 / 0; the
    # floor only matters there (a margin-weighted sum can be below 1 with pixels present).
    total = weights.sum()
    loss = (xent * weights).sum() / (total if float(total) > 0 else total.new_tensor(1.0))
    stats = ConsistencyStats(
        consistency_rate=consistency_rate,
        gamma=float(gamma),
        certain_fraction=float(n_certain) / n_valid,
        loss=float(loss.detach()),
        valid_pixels=n_valid,
    )
    return loss, stats
