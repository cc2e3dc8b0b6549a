"""The supervised source-domain loss: per-pixel cross-entropy, 255 = ignore."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from uncertainty_seg_node.classes import IGNORE_INDEX


def supervised_loss(
    logits: Tensor,
    labels: Tensor,
    *,
    ignore_index: int = IGNORE_INDEX,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Mean cross-entropy over the labelled pixels of (B, K, H, W) logits vs (B, H, W) labels.

    Pixels labelled `ignore_index` do not count. A batch with no labelled pixel gives exactly 0
    with the autograd graph intact (plain `F.cross_entropy` would return NaN).
    """
    labels = labels.long()
    if labels.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(
            f"labels {tuple(labels.shape)} do not match logits {tuple(logits.shape)}"
        )
    logits = logits.float()
    if not bool((labels != ignore_index).any()):
        return (logits * 0.0).sum()
    return F.cross_entropy(
        logits, labels, ignore_index=ignore_index, label_smoothing=label_smoothing
    )


def batch_confusion(
    logits: Tensor, labels: Tensor, num_classes: int, *, ignore_index: int = IGNORE_INDEX
) -> Tensor:
    """(K, K) int64 confusion matrix [true, predicted] of a batch, ignore pixels left out."""
    pred = logits.detach().argmax(dim=1).reshape(-1)
    true = labels.reshape(-1).long().to(pred.device)
    keep = (true != ignore_index) & (true < num_classes)
    index = true[keep] * num_classes + pred[keep]
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    ).cpu()


def miou_from_confusion(confusion: Tensor) -> float:
    """Mean IoU over the classes that occur (in labels or predictions); NaN if none does."""
    confusion = confusion.double()
    tp = confusion.diag()
    union = confusion.sum(0) + confusion.sum(1) - tp
    present = union > 0
    if not bool(present.any()):
        return float("nan")
    return float((tp[present] / union[present]).mean())
