"""Loss functions: the supervised source loss and L_c, the uncertainty (consistency) loss."""

from uncertainty_seg_node.losses.consistency import (
    ConsistencyStats,
    consistency_mask,
    gamma_threshold,
    sharpen,
    uncertainty_loss,
)
from uncertainty_seg_node.losses.supervised import supervised_loss

__all__ = [
    "ConsistencyStats",
    "consistency_mask",
    "gamma_threshold",
    "sharpen",
    "supervised_loss",
    "uncertainty_loss",
]
