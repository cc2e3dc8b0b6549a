"""An exact memo of frozen encoders' features: E(x) is computed once per image, then reused.

With a frozen encoder (E*, and always for the teacher f_theta) the unmasked features of an image
are a pure function of (encoder weights, input pixels). Without augmentation every training image
reaches the network as the same tensor each epoch, so its features can be kept instead of
recomputed: exact for the supervised branch, for s_theta = f_theta(x_t) and for the certainty
branch s_phi = f_phi(x_t) when both encoders are the same frozen one. The masked branch
f_phi(m(x_t)) draws a new mask every step, so those rows always run the real encoder.

Entries are keyed by (encoder fingerprint, digest of the input tensor's bytes), so one cache
serves several encoders, a stale entry can never be returned for different weights or pixels,
and a saved cache file is only ever reused for exactly the encoder and inputs it was made from.
The mask token is left out of the fingerprint: it never touches an unmasked forward.

Hook it in with `cached_encoders(cache, model, ...)`: inside the block every listed model's
encoder answers unmasked rows from the cache; its weights and state dict are untouched.
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

FORMAT = "uncertainty_seg_node/feature-cache/1"
_MASK_TOKEN = "mask_token"

Forward = Callable[..., Tensor]


def encoder_fingerprint(encoder: nn.Module) -> str:
    """A digest of every encoder tensor that an unmasked forward reads (mask token excluded)."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(encoder.state_dict().items()):
        if name.endswith(_MASK_TOKEN):
            continue
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode() + str(tensor.dtype).encode())
        digest.update(tensor.detach().to("cpu").contiguous().numpy().tobytes())
    return digest.hexdigest()


def input_digest(pixels: Tensor) -> str:
    """A digest of one input tensor (shape, dtype and bytes)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(tuple(pixels.shape)).encode() + str(pixels.dtype).encode())
    digest.update(pixels.detach().to("cpu").contiguous().numpy().tobytes())
    return digest.hexdigest()


class FeatureCache:
    """Unmasked encoder features per (encoder fingerprint, input digest); hit/miss counters.

    `max_entries` bounds the memory (new entries are dropped once full). `path`, when it names
    an existing file written by `save`, pre-loads its entries.
    """

    def __init__(self, path: str | Path | None = None, max_entries: int | None = None) -> None:
        self.max_entries = max_entries
        self.entries: dict[tuple[str, str], Tensor] = {}
        self.hits = 0
        self.misses = 0
        self.loaded = 0
        if path is not None and Path(path).is_file():
            self.load(path)

    def __len__(self) -> int:
        return len(self.entries)

    def stats(self) -> dict[str, int]:
        """Entries, hits and misses so far (for logs and provenance)."""
        return {"entries": len(self), "hits": self.hits, "misses": self.misses,
                "loaded": self.loaded}

    def features(
        self, forward: Forward, fingerprint: str, pixel_values: Tensor,
        patch_mask: Tensor | None = None,
    ) -> Tensor:
        """`forward(pixel_values, patch_mask)` with unmasked rows answered from the cache."""
        batch = pixel_values.shape[0]
        masked = (
            patch_mask.reshape(batch, -1).any(dim=1).tolist() if patch_mask is not None
            else [False] * batch
        )
        rows: list[Tensor | None] = [None] * batch
        keys: dict[int, tuple[str, str]] = {}
        for i in range(batch):
            if masked[i]:
                continue
            key = (fingerprint, input_digest(pixel_values[i]))
            keys[i] = key
            hit = self.entries.get(key)
            if hit is not None:
                rows[i] = hit.to(pixel_values.device)
                self.hits += 1
        # One forward per distinct missing input (MC-dropout batches repeat every image).
        first: dict[tuple[str, str], int] = {}
        for i in keys:
            if rows[i] is None:
                first.setdefault(keys[i], i)
        if first:
            self.misses += len(first)
            unique = list(first.values())
            computed = forward(pixel_values[unique], None)
            fresh = {keys[i]: computed[j] for j, i in enumerate(unique)}
            for i in keys:
                if rows[i] is None:
                    rows[i] = fresh[keys[i]]
            for key, value in fresh.items():
                if self.max_entries is None or len(self.entries) < self.max_entries:
                    self.entries[key] = value.detach().clone()
        real = [i for i in range(batch) if masked[i]]
        if real:
            assert patch_mask is not None
            computed = forward(pixel_values[real], patch_mask[real])
            for j, i in enumerate(real):
                rows[i] = computed[j]
        return torch.stack([row for row in rows if row is not None])

    def save(self, path: str | Path) -> Path:
        """Write every entry (on the CPU) atomically to `path`."""
        from uncertainty_seg_node.model.checkpoint import atomic_torch_save

        payload = {
            "format": FORMAT,
            "entries": {f"{f}/{d}": t.detach().cpu() for (f, d), t in self.entries.items()},
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
            fingerprint, digest = name.split("/", 1)
            if (fingerprint, digest) not in self.entries:
                self.entries[(fingerprint, digest)] = tensor
                added += 1
        self.loaded += added
        return added


def _check_frozen(encoder: nn.Module) -> None:
    trainable = [n for n, p in encoder.named_parameters()
                 if p.requires_grad and not n.endswith(_MASK_TOKEN)]
    if trainable:
        raise RuntimeError(
            f"the feature cache needs a frozen encoder, but {trainable[0]} (and "
            f"{len(trainable) - 1} more) can train; freeze it (E*) or do not cache"
        )


@contextmanager
def cached_encoders(cache: FeatureCache, *models: nn.Module) -> Iterator[FeatureCache]:
    """Within the block, each model's `encoder` answers unmasked rows from `cache`.

    Every encoder must be frozen (its parameters `requires_grad=False`, the mask token aside)
    and must stay unchanged inside the block: its fingerprint is taken on entry.
    """
    patched: list[nn.Module] = []
    try:
        for model in models:
            encoder = model.encoder  # type: ignore[union-attr]
            if any(encoder is done for done in patched):
                continue
            if not isinstance(encoder, nn.Module):
                raise TypeError("cached_encoders needs models with an `encoder` module")
            _check_frozen(encoder)
            fingerprint = encoder_fingerprint(encoder)
            original: Forward = encoder.forward

            def forward(
                pixel_values: Tensor, patch_mask: Tensor | None = None, *,
                _encoder: nn.Module = encoder, _original: Forward = original,
                _fingerprint: str = fingerprint,
            ) -> Tensor:
                _check_frozen(_encoder)
                return cache.features(_original, _fingerprint, pixel_values, patch_mask)

            encoder.forward = forward  # type: ignore[method-assign]
            patched.append(encoder)
        yield cache
    finally:
        for encoder in patched:
            del encoder.forward  # back to the class's forward


def cache_summary(cache: FeatureCache) -> dict[str, Any]:
    """The cache's counters plus its hit rate, for provenance."""
    stats: dict[str, Any] = dict(cache.stats())
    total = cache.hits + cache.misses
    stats["hit_rate"] = round(cache.hits / total, 4) if total else None
    return stats


def _is_frozen(model: nn.Module) -> bool:
    encoder = model.encoder
    assert isinstance(encoder, nn.Module)
    return not any(p.requires_grad for n, p in encoder.named_parameters()
                   if not n.endswith(_MASK_TOKEN))


@contextmanager
def training_feature_cache(
    enabled: bool, file: str | Path | None, *models: nn.Module, save: bool = True,
    quiet: bool = False,
) -> Iterator[FeatureCache | None]:
    """The training run's cache over every frozen encoder among `models` (student E*, teacher).

    Loads `file` when it exists and writes it back at the end when new entries were made and
    `save` is true (rank 0 only under DDP). Yields None when caching is off.
    """
    if not enabled:
        yield None
        return
    frozen = [m for m in models if _is_frozen(m)]
    if not frozen:
        raise UserError("--cache-features needs a frozen encoder: add --freeze-encoder (E*)")
    cache = FeatureCache(file)
    with cached_encoders(cache, *frozen):
        yield cache
    saved = file is not None and save and len(cache) > cache.loaded
    if saved:
        assert file is not None
        cache.save(file)
    if not quiet:
        stats = cache_summary(cache)
        print(f"feature cache: {stats['entries']} entries ({stats['loaded']} loaded), "
              f"{stats['hits']} hits, {stats['misses']} misses"
              + (f"; saved to {file}" if saved else ""), file=sys.stderr)
