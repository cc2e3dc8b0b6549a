"""f_theta's logits per training sample, computed once.

The teacher is frozen and a sample the loader names (`Batch.keys`: no augmentation, or a view
of the view bank) reaches it as the same tensor every time it is drawn, so its logits are a
pure function of the name. They are kept in a `TensorStore` (train/tensor_store.py): RAM up to
`memory_mb`, the rest in a temporary file, as 1.7 MB of 11-class logits per 168x224 view would
otherwise grow with every new view a run draws.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from uncertainty_seg_node.train.tensor_store import TensorStore

# (images, their sample names) -> logits
TeacherForward = Callable[[Tensor, Sequence[str | None]], Tensor]


class TeacherMemo:
    """`logits(images, keys)` = `forward(images, keys)`, each named sample computed once."""

    def __init__(self, forward: TeacherForward, enabled: bool, memory_mb: float) -> None:
        self.forward = forward
        self.enabled = enabled
        self.entries = TensorStore(memory_mb)
        self.hits = 0

    @torch.no_grad()
    def logits(self, images: Tensor, keys: Sequence[str | None]) -> Tensor:
        if not self.enabled or any(key is None for key in keys):
            return self.forward(images, keys)
        rows: list[Tensor | None] = [self.entries.get((str(key),)) for key in keys]
        missing = [i for i, row in enumerate(rows) if row is None]
        if missing:
            computed = self.forward(images[missing], [keys[i] for i in missing])
            for j, i in enumerate(missing):
                self.entries.put((str(keys[i]),), computed[j])
                rows[i] = computed[j]
        self.hits += len(keys) - len(missing)
        return torch.stack([row.to(images.device) for row in rows if row is not None])
