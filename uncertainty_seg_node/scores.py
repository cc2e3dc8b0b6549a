"""Per-pixel uncertainty scores on logits, as confidences in [0, 1] (higher = more certain).

Pure torch functions built only from ops that export to ONNX (softmax, log_softmax, amax, topk,
logsumexp, sigmoid, pad, conv2d), so the chosen score runs inside an exported graph. Every
score maps to a confidence in [0, 1] that increases with certainty, so one gamma semantics
(`certain = confidence > gamma`) holds for all of them:

- `msp`: max softmax probability (the method's score, what gamma thresholds by default).
- `temperature`: max softmax of `logits / T` (Guo et al.; T from `fit_temperature`).
- `entropy`: `1 - H(p) / log K` (seed 003).
- `margin`: top-1 minus top-2 softmax probability (seed 003).
- `maxlogit`: `sigmoid(max_k z_k / s)` (seed 004).
- `energy`: `sigmoid(logsumexp_k z_k / s)`, i.e. `sigmoid(-E / s)` with the free energy
  `E = -logsumexp(z)` (seed 002), optionally after Gaussian smoothing of the energy map.

MaxLogit and energy are unbounded; the sigmoid is a monotone squashing, so rankings (AUROC, AP,
FPR95) are unchanged. `s = LOGIT_SCALE = 10` keeps typical logits (|z| < 40) away from the
flat ends of the sigmoid, where the 1e-4 bins of the metrics histograms would merge them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from uncertainty_seg_node.config import SCORE_METHODS
from uncertainty_seg_node.errors import UserError

LOGIT_SCALE = 10.0


def gaussian_kernel1d(sigma: float) -> Tensor:
    """Normalised 1-D Gaussian of radius ceil(3 sigma) (float32)."""
    radius = max(1, math.ceil(3.0 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def gaussian_smooth(maps: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian smoothing of (B, H, W) maps, borders replicated (same size out)."""
    if sigma <= 0:
        return maps
    kernel = gaussian_kernel1d(sigma).to(maps.dtype)
    r = (kernel.numel() - 1) // 2
    x = maps.unsqueeze(1)
    x = F.pad(x, (r, r, r, r), mode="replicate")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    x = F.conv2d(x, kernel.view(1, 1, -1, 1))
    return x.squeeze(1)


def confidence_from_logits(
    logits: Tensor,
    method: str = "msp",
    *,
    temperature: float | Tensor = 1.0,
    energy_smoothing_sigma: float = 0.0,
    logit_scale: float = LOGIT_SCALE,
) -> Tensor:
    """(B, K, H, W) logits -> (B, H, W) float32 confidence in [0, 1], higher = more certain.

    `temperature` is used by `temperature` only; `energy_smoothing_sigma` (pixels, at the logits'
    resolution) by `energy` only; `logit_scale` by `maxlogit` and `energy`.
    """
    if method not in SCORE_METHODS:
        raise UserError(f"unknown score method {method!r}; choose one of {SCORE_METHODS}")
    if logits.dim() != 4:
        raise ValueError(f"logits must be (B, K, H, W), got shape {tuple(logits.shape)}")
    z = logits.float()
    num_classes = z.shape[1]
    if method == "msp":
        return torch.softmax(z, dim=1).amax(dim=1)
    if method == "temperature":
        return torch.softmax(z / temperature, dim=1).amax(dim=1)
    if method == "maxlogit":
        return torch.sigmoid(z.amax(dim=1) / logit_scale)
    if method == "energy":
        neg_energy = gaussian_smooth(torch.logsumexp(z, dim=1), energy_smoothing_sigma)
        return torch.sigmoid(neg_energy / logit_scale)
    if num_classes < 2:  # one class: nothing to be uncertain about
        return torch.ones_like(z[:, 0])
    if method == "entropy":
        log_p = torch.log_softmax(z, dim=1)
        entropy = -(log_p.exp() * log_p).sum(dim=1)
        return (1.0 - entropy / math.log(num_classes)).clamp(0.0, 1.0)
    # margin
    top2 = torch.softmax(z, dim=1).topk(2, dim=1).values
    return (top2[:, 0] - top2[:, 1]).clamp(0.0, 1.0)


def fit_temperature(
    logits: Tensor,
    labels: Tensor,
    ignore_index: int = 255,
    *,
    max_samples: int = 2_000_000,
    seed: int = 0,
) -> float:
    """The temperature T minimising the NLL of softmax(logits / T) on labelled pixels.

    `logits`: (N, K) or (B, K, H, W); `labels`: (N,) or (B, H, W) with `ignore_index` for void.
    At most `max_samples` valid pixels (a seeded random subset) are used. Optimises log T with
    L-BFGS; the result is clamped to [0.01, 100].
    """
    if logits.dim() == 4:
        logits = logits.permute(0, 2, 3, 1).reshape(-1, logits.shape[1])
        labels = labels.reshape(-1)
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(
            f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} do not match"
        )
    valid = labels != ignore_index
    z = logits[valid].detach().float()
    y = labels[valid].long()
    if y.numel() == 0:
        raise UserError("no labelled (non-ignore) pixels to fit the temperature on")
    if (y < 0).any() or (y >= z.shape[1]).any():
        raise UserError(f"labels outside the model's {z.shape[1]} classes")
    if y.numel() > max_samples:
        pick = torch.randperm(y.numel(), generator=torch.Generator().manual_seed(seed))
        z, y = z[pick[:max_samples]], y[pick[:max_samples]]
    log_t = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return float(min(max(math.exp(float(log_t.detach())), 0.01), 100.0))
