"""A fixed bank of K patch masks per training sample, so the masked branch can be cached.

A fresh Bernoulli mask every step makes f_phi(m(x_t)) a new input every time: with a frozen
lower encoder that is the one forward that cannot be reused. Drawing instead from K masks per
sample, each a pure function of (sample name, k, seed), makes the masked inputs repeat; the
feature cache then keeps their lower-encoder outputs (exact) and a long schedule costs decoder
steps only. `stats` says how often bank entries were reused, and the stepper compares
consistency on fresh masks with the bank's, so memorising the bank would show in the logs.

A sample is named by the loader (`Batch.keys`, data/sample.py): with the view bank each view of
an image is its own sample, so each view has its own masks and the masked branch is paired with
its view. `draw` also names each mask it hands out, for the feature cache's key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor


def bank_mask(sample: str, k: int, seed: int, p_mask: float, length: int) -> Tensor:
    """Mask k of the sample named `sample`: (length,) bool, Bernoulli(p_mask)."""
    words = [int.from_bytes(hashlib.blake2b(sample.encode(), digest_size=8).digest(), "little"),
             k, seed, 0x62616E6B]
    rng = np.random.default_rng(np.random.SeedSequence(words))
    return torch.from_numpy(rng.random(length) < p_mask)


class MaskBank:
    """K masks per sample; `draw` picks one per sample with the step's generator."""

    def __init__(self, size: int, p_mask: float, seed: int) -> None:
        if size <= 0:
            raise ValueError(f"a mask bank needs at least one mask per image, got {size}")
        self.size = size
        self.p_mask = p_mask
        self.seed = seed
        self.uses: dict[tuple[str, int], int] = {}

    def draw(
        self, keys: Sequence[str], length: int, generator: torch.Generator
    ) -> tuple[Tensor, list[str]]:
        """(B, length) bool masks, one bank entry per sample named in `keys`, and their names."""
        picks = torch.randint(self.size, (len(keys),), generator=generator).tolist()
        masks = []
        names = []
        for key, k in zip(keys, picks, strict=True):
            self.uses[(key, k)] = self.uses.get((key, k), 0) + 1
            masks.append(bank_mask(key, k, self.seed, self.p_mask, length))
            names.append(f"mask{k}/{self.size}:p{self.p_mask}:s{self.seed}")
        return torch.stack(masks), names

    def stats(self) -> dict[str, float]:
        """Entries drawn so far and the mean number of uses per drawn entry."""
        used = len(self.uses)
        draws = sum(self.uses.values())
        return {"bank_entries": float(used), "bank_reuse": draws / used if used else 0.0}
