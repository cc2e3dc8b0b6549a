"""A fixed bank of K patch masks per unlabelled image, so the masked branch can be cached.

A fresh Bernoulli mask every step makes f_phi(m(x_t)) a new input every time: with a frozen
lower encoder that is the one forward that cannot be reused. Drawing instead from K masks per
image, each a pure function of (image, k, seed), makes the masked inputs repeat; the feature
cache then keeps their lower-encoder outputs (exact) and a long schedule costs decoder steps
only. `stats` says how often bank entries were reused, and the stepper compares consistency on
fresh masks with the bank's, so memorising the bank would show in the logs.

With the view bank (data/view_bank.py) an image reaches the network as one of its K views, each
a fixed tensor, so keying by pixels gives each view its own masks: the masked branch is paired
with its view, and its features are cached like the view's. `keys` can name another identity.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from uncertainty_seg_node.train.feature_cache import input_digest


def bank_mask(image_key: str, k: int, seed: int, p_mask: float, length: int) -> Tensor:
    """Mask k of the image with digest `image_key`: (length,) bool, Bernoulli(p_mask)."""
    words = [int.from_bytes(hashlib.blake2b(image_key.encode(), digest_size=8).digest(), "little"),
             k, seed, 0x62616E6B]
    rng = np.random.default_rng(np.random.SeedSequence(words))
    return torch.from_numpy(rng.random(length) < p_mask)


class MaskBank:
    """K masks per image; `draw` picks one per image with the step's generator."""

    def __init__(self, size: int, p_mask: float, seed: int) -> None:
        if size <= 0:
            raise ValueError(f"a mask bank needs at least one mask per image, got {size}")
        self.size = size
        self.p_mask = p_mask
        self.seed = seed
        self.uses: dict[tuple[str, int], int] = {}

    def draw(
        self, images: Tensor, length: int, generator: torch.Generator,
        keys: Sequence[str] | None = None,
    ) -> Tensor:
        """(B, length) bool masks for `images` (B, 3, H, W), one bank entry per image.

        Each image's masks are keyed by its pixels' digest, or by `keys[i]` when given (an
        identity that outlives the pixels, for augmented views).
        """
        picks = torch.randint(self.size, (images.shape[0],), generator=generator).tolist()
        if keys is None:
            keys = [input_digest(image) for image in images]
        if len(keys) != images.shape[0]:
            raise ValueError(f"{len(keys)} bank keys for {images.shape[0]} images")
        masks = []
        for key, k in zip(keys, picks, strict=True):
            self.uses[(key, k)] = self.uses.get((key, k), 0) + 1
            masks.append(bank_mask(key, k, self.seed, self.p_mask, length))
        return torch.stack(masks).to(images.device)

    def stats(self) -> dict[str, float]:
        """Entries drawn so far and the mean number of uses per drawn entry."""
        used = len(self.uses)
        draws = sum(self.uses.values())
        return {"bank_entries": float(used), "bank_reuse": draws / used if used else 0.0}
