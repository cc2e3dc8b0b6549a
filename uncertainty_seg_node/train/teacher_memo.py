"""f_theta's logits per target image, computed once.

The teacher is frozen and, without augmentation, every target image reaches it as the same
tensor each epoch, so its logits are a pure function of the image.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from uncertainty_seg_node.train.feature_cache import input_digest


class TeacherMemo:
    """`logits(images)` = `forward(images)`, each distinct image computed once."""

    def __init__(self, forward: Callable[[Tensor], Tensor], enabled: bool) -> None:
        self.forward = forward
        self.enabled = enabled
        self.entries: dict[str, Tensor] = {}
        self.hits = 0

    @torch.no_grad()
    def logits(self, images: Tensor) -> Tensor:
        if not self.enabled:
            return self.forward(images)
        keys = [input_digest(image) for image in images]
        missing = [i for i, key in enumerate(keys) if key not in self.entries]
        if missing:
            computed = self.forward(images[missing])
            for j, i in enumerate(missing):
                self.entries[keys[i]] = computed[j].detach().clone()
        self.hits += len(keys) - len(missing)
        return torch.stack([self.entries[key] for key in keys]).to(images.device)
