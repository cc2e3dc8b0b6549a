"""An exact memo of frozen encoder parts: the lower blocks run once per (image, mask).

With a frozen lower encoder (all of it for E* and the teacher f_theta; the blocks below
`--train-blocks` for partial fine-tuning) its output `Encoder.lower(x, M)` is a pure function of
(lower weights, input pixels, patch mask). Without augmentation every training image reaches the
network as the same tensor each epoch, so that output can be kept instead of recomputed: exact
for the supervised branch, for s_theta = f_theta(x_t), for the certainty branch s_phi = f_phi(x_t)
and, when the masks come from a fixed bank (train/mask_bank.py), for the masked branch
f_phi(m(x_t)) too. Masked rows are only kept when `cache_masked` is on: fresh random masks never
repeat, so keeping them would only cost memory. With augmentation the inputs repeat only through
the view bank (data/view_bank.py): each image's K views come back, and are cached like images.

Unmasked entries are keyed by (fingerprint of the lower weights without the mask token, digest of
the input); masked entries by (fingerprint with the mask token, input digest, mask digest). One
cache serves several encoders, a stale entry can never be returned for different weights, pixels
or masks, and a saved cache file is only ever reused for exactly what it was made from.

`cached_encoders(cache, model, ...)` makes the cache each listed encoder's `lower_source` for a
block (model/encoder.py): the encoder is split after its longest frozen prefix of blocks and asks
the cache for `lower`'s output; weights and state dicts are untouched, and the split and source
are restored on exit.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model.encoder import Encoder

FORMAT = "uncertainty_seg_node/feature-cache/2"
_MASK_TOKEN = "mask_token"

Forward = Callable[..., Tensor]
Key = tuple[str, ...]


def _digest(*tensors: Tensor, salt: str = "") -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(salt.encode())
    for tensor in tensors:
        digest.update(str(tuple(tensor.shape)).encode() + str(tensor.dtype).encode())
        digest.update(tensor.detach().to("cpu").contiguous().numpy().tobytes())
    return digest.hexdigest()


def encoder_fingerprint(encoder: Encoder, *, with_mask_token: bool = False) -> str:
    """A digest of every tensor `encoder.lower` reads (the mask token only if asked) + the split.

    The mask token never touches an unmasked forward, so unmasked entries leave it out and stay
    valid whatever token a run chooses.
    """
    named = sorted(encoder.lower_parameters(), key=lambda item: item[0])
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"split={encoder.split}".encode())
    for name, tensor in named:
        if name.endswith(_MASK_TOKEN) and not with_mask_token:
            continue
        digest.update(name.encode())
        digest.update(_digest(tensor).encode())
    return digest.hexdigest()


def input_digest(pixels: Tensor) -> str:
    """A digest of one input tensor (shape, dtype and bytes)."""
    return _digest(pixels)


def mask_digest(mask: Tensor) -> str:
    """A digest of one patch mask."""
    return _digest(mask.to(torch.bool), salt="mask")


class FeatureCache:
    """`Encoder.lower` outputs per key; hit/miss counters for unmasked and masked rows.

    `max_entries` bounds the memory (new entries are dropped once full). `path`, when it names
    an existing file written by `save`, pre-loads its entries. `cache_masked` also keeps masked
    rows (only worth it when masks repeat: the mask bank).
    """

    def __init__(
        self, path: str | Path | None = None, max_entries: int | None = None, *,
        cache_masked: bool = False,
    ) -> None:
        self.max_entries = max_entries
        self.cache_masked = cache_masked
        self.entries: dict[Key, Tensor] = {}
        self.hits = 0
        self.misses = 0
        self.masked_hits = 0
        self.masked_misses = 0
        self.loaded = 0
        self.nbytes = 0  # of the entries held
        if path is not None and Path(path).is_file():
            self.load(path)

    def __len__(self) -> int:
        return len(self.entries)

    def stats(self) -> dict[str, int]:
        """Entries, hits and misses so far (for logs and provenance)."""
        return {"entries": len(self), "hits": self.hits, "misses": self.misses,
                "masked_hits": self.masked_hits, "masked_misses": self.masked_misses,
                "loaded": self.loaded, "megabytes": round(self.nbytes / 2**20)}

    def features(
        self, forward: Forward, fingerprints: tuple[str, str], pixel_values: Tensor,
        patch_mask: Tensor | None = None,
    ) -> Tensor:
        """`forward(pixel_values, patch_mask)` with cacheable rows answered from the cache.

        `fingerprints` = (without mask token, with mask token) of the encoder's lower part.
        """
        batch = pixel_values.shape[0]
        masked = (
            patch_mask.reshape(batch, -1).any(dim=1).tolist() if patch_mask is not None
            else [False] * batch
        )
        rows: list[Tensor | None] = [None] * batch
        keys: dict[int, Key] = {}
        for i in range(batch):
            if masked[i] and not self.cache_masked:
                continue
            digest = input_digest(pixel_values[i])
            if masked[i]:
                assert patch_mask is not None
                key: Key = (fingerprints[1], digest, mask_digest(patch_mask[i]))
            else:
                key = (fingerprints[0], digest)
            keys[i] = key
            hit = self.entries.get(key)
            if hit is not None:
                rows[i] = hit.to(pixel_values.device)
                self._count(masked[i], hit=True)
        # One forward per distinct missing key (MC-dropout batches repeat every image).
        first: dict[Key, int] = {}
        for i in keys:
            if rows[i] is None:
                first.setdefault(keys[i], i)
        run = sorted(set(first.values()) | {i for i in range(batch) if i not in keys})
        if run:
            any_masked = patch_mask is not None and any(masked[i] for i in run)
            mask_rows = patch_mask[run] if any_masked and patch_mask is not None else None
            computed = forward(pixel_values[run], mask_rows)
            fresh = dict(zip(run, computed, strict=True))
            for i in run:
                rows[i] = fresh[i]
                if i in keys:
                    self._count(masked[i], hit=False)
                    if self.max_entries is None or len(self) < self.max_entries:
                        self._store(keys[i], fresh[i].detach().clone())
            for i in keys:
                if rows[i] is None:
                    rows[i] = fresh[first[keys[i]]]
        return torch.stack([row for row in rows if row is not None])

    def _store(self, key: Key, tensor: Tensor) -> None:
        self.entries[key] = tensor
        self.nbytes += tensor.numel() * tensor.element_size()

    @contextmanager
    def masks_uncached(self) -> Iterator[None]:
        """Masked rows inside the block run the encoder and are not kept (one-off masks)."""
        before = self.cache_masked
        self.cache_masked = False
        try:
            yield
        finally:
            self.cache_masked = before

    def _count(self, masked: bool, *, hit: bool) -> None:
        if masked:
            self.masked_hits += hit
            self.masked_misses += not hit
        else:
            self.hits += hit
            self.misses += not hit

    def save(self, path: str | Path) -> Path:
        """Write every entry (on the CPU) atomically to `path`."""
        from uncertainty_seg_node.model.checkpoint import atomic_torch_save

        payload = {
            "format": FORMAT,
            "entries": {"/".join(key): t.detach().cpu() for key, t in self.entries.items()},
        }
        return atomic_torch_save(payload, path)

    def load(self, path: str | Path) -> int:
        """Add the entries of a file written by `save`; returns how many were added."""
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 (torch raises many types for a bad file)
            raise UserError(f"feature cache {path} is unreadable ({exc}); delete it") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise UserError(f"{path} is not a feature cache written by this version; delete it")
        added = 0
        for name, tensor in payload["entries"].items():
            key = tuple(name.split("/"))
            if key not in self.entries:
                self._store(key, tensor)
                added += 1
        self.loaded += added
        return added


def _check_frozen(encoder: Encoder) -> None:
    trainable = [n for n, p in encoder.lower_parameters()
                 if p.requires_grad and not n.endswith(_MASK_TOKEN)]
    if trainable:
        raise RuntimeError(
            f"the feature cache needs a frozen encoder, but {trainable[0]} (and "
            f"{len(trainable) - 1} more) can train; freeze it (E*) or do not cache"
        )


def _mask_token_frozen(encoder: Encoder) -> bool:
    return not encoder.mask_token.requires_grad


@contextmanager
def cached_encoders(cache: FeatureCache, *models: nn.Module) -> Iterator[FeatureCache]:
    """Within the block, `cache` is each model's encoder's `lower_source`.

    Each encoder is split after its longest frozen prefix (all blocks for E* and the teacher,
    the blocks below `--train-blocks` otherwise); that part must stay unchanged inside the
    block: its fingerprint is taken on entry. Masked rows are cached only while the mask token
    is frozen as well.
    """
    attached: list[tuple[Encoder, int]] = []
    try:
        for model in models:
            encoder = model.encoder
            if any(encoder is done for done, _ in attached):
                continue
            if not isinstance(encoder, Encoder):
                raise TypeError("cached_encoders needs models with an `Encoder`")
            if encoder.lower_source is not None:
                raise RuntimeError("this encoder already has a feature source; do not nest")
            prefix = encoder.frozen_prefix()
            if prefix < 0:
                _check_frozen(encoder)  # raises: the embeddings train
            attached.append((encoder, encoder.split))
            encoder.set_split(prefix)
            encoder.lower_source = _CachedLower(cache, encoder)
        yield cache
    finally:
        for encoder, split in attached:
            encoder.lower_source = None
            encoder.set_split(split)


class _CachedLower:
    """An encoder's `lower_source`: its frozen lower part's output, from the cache."""

    def __init__(self, cache: FeatureCache, encoder: Encoder) -> None:
        self.cache = cache
        self.encoder = encoder
        self.fingerprints = (encoder_fingerprint(encoder),
                             encoder_fingerprint(encoder, with_mask_token=True))

    def __call__(
        self, lower: Forward, pixel_values: Tensor, patch_mask: Tensor | None = None
    ) -> Tensor:
        _check_frozen(self.encoder)
        if patch_mask is not None and not _mask_token_frozen(self.encoder):
            return lower(pixel_values, patch_mask)  # a learned token: no reuse
        return self.cache.features(lower, self.fingerprints, pixel_values, patch_mask)


def cache_summary(cache: FeatureCache) -> dict[str, Any]:
    """The cache's counters plus its hit rates, for provenance."""
    stats: dict[str, Any] = dict(cache.stats())
    total = cache.hits + cache.misses
    stats["hit_rate"] = round(cache.hits / total, 4) if total else None
    masked = cache.masked_hits + cache.masked_misses
    stats["masked_hit_rate"] = round(cache.masked_hits / masked, 4) if masked else None
    return stats


@contextmanager
def training_feature_cache(
    enabled: bool, file: str | Path | None, *models: nn.Module, save: bool = True,
    quiet: bool = False, cache_masked: bool = False,
) -> Iterator[FeatureCache | None]:
    """The training run's cache over the frozen lower encoders of `models` (student, teacher).

    Loads `file` when it exists and writes it back at the end when new entries were made and
    `save` is true (rank 0 only under DDP). Yields None when caching is off.
    """
    if not enabled:
        yield None
        return
    frozen = [m for m in models
              if isinstance(m.encoder, Encoder) and m.encoder.frozen_prefix() >= 0]
    if not frozen:
        raise UserError(
            "--cache-features needs a frozen encoder part: add --freeze-encoder (E*) or "
            "--train-blocks N"
        )
    cache = FeatureCache(file, cache_masked=cache_masked)
    with cached_encoders(cache, *frozen):
        yield cache
    saved = file is not None and save and len(cache) > cache.loaded
    if saved:
        assert file is not None
        cache.save(file)
    if not quiet:
        stats = cache_summary(cache)
        print(f"feature cache: {stats['entries']} entries ({stats['loaded']} loaded), "
              f"{stats['hits']} hits, {stats['misses']} misses, masked {stats['masked_hits']} "
              f"hits, {stats['masked_misses']} misses, {stats['megabytes']} MB"
              + (f"; saved to {file}" if saved else ""), file=sys.stderr)
