"""An exact memo of frozen encoder parts: the lower blocks run once per (sample, mask).

With a frozen lower encoder (all of it for E* and the teacher f_theta; the blocks below
`--train-blocks` for partial fine-tuning) its output `Encoder.lower(x, M)` is a pure function of
(lower weights, input pixels, patch mask). A training sample whose tensor repeats (no
augmentation, or one of the view bank's fixed views) is named by the loader (`Batch.keys`,
data/sample.py), so that output can be kept under the sample's name instead of recomputed:
exact for the supervised branch, for s_theta = f_theta(x_t), for the certainty branch
s_phi = f_phi(x_t) and, when the masks come from a fixed bank (train/mask_bank.py, whose masks
are named too), for the masked branch f_phi(m(x_t)).

Unmasked entries are keyed by (fingerprint of the lower weights without the mask token, sample
name); masked entries by (fingerprint with the mask token, sample name, mask name). The sample
name holds the data set's identity (its images' digests, the transform, the view bank), so one
cache serves several encoders and data sets, and a saved cache file is only ever reused for
exactly what it was made from. Entries live in a `TensorStore` (train/tensor_store.py): RAM up
to `memory_mb`, then a temporary file, so memory does not grow with the number of samples.

`FrozenLower` is what a training step is given: one encoder's frozen lower part answered from
the cache; the step hands its output to the network (`model(x, mask, lower_states=...)`).
`cached_inference` serves evaluation, which has no loader to name its frames: there the cache
sits in the encoders' `lower_source` and keys frames by a digest of their pixels.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model.encoder import Encoder
from uncertainty_seg_node.train.tensor_store import Key, TensorStore, append_records

MEMORY_MB = 1024.0
_MASK_TOKEN = "mask_token"

Forward = Callable[[Tensor, Tensor | None], Tensor]


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
    """A digest of one input tensor (shape, dtype and bytes): evaluation's frame name."""
    return _digest(pixels)


class FeatureCache:
    """`Encoder.lower` outputs per key; hit/miss counters for unmasked and masked rows.

    `path`, when it names an existing file written by `save`, is indexed: its entries are read
    from it when asked for. `memory_mb` bounds the RAM the new entries take (the rest goes to a
    temporary file). `cache_masked` also keeps masked rows that have a mask name (the bank).
    """

    def __init__(
        self, path: str | Path | None = None, *, memory_mb: float = MEMORY_MB,
        cache_masked: bool = False,
    ) -> None:
        self.cache_masked = cache_masked
        self.store = TensorStore(memory_mb)
        self.hits = 0
        self.misses = 0
        self.masked_hits = 0
        self.masked_misses = 0
        self.loaded = 0
        self._new: list[Key] = []  # made by this run, in order (what `save` appends)
        if path is not None and Path(path).is_file():
            _set_aside_legacy(Path(path))
        if path is not None and Path(path).is_file():
            self.loaded = self.store.index_file(path)

    def __len__(self) -> int:
        return len(self.store)

    @property
    def entries(self) -> Iterator[Key]:
        """Every key held (loaded or new)."""
        return self.store.keys()

    def stats(self) -> dict[str, int]:
        """Entries, hits and misses so far (for logs and provenance)."""
        return {"entries": len(self), "hits": self.hits, "misses": self.misses,
                "masked_hits": self.masked_hits, "masked_misses": self.masked_misses,
                "loaded": self.loaded,
                "megabytes": round(self.store.bytes_in_memory / 2**20),
                "megabytes_on_disk": round(self.store.bytes_on_disk / 2**20)}

    def features(self, forward: Forward, keys: Sequence[Key | None], pixel_values: Tensor,
                 patch_mask: Tensor | None = None) -> Tensor:
        """`forward(pixel_values, patch_mask)`, rows with a key answered from the cache.

        `keys[i]` names row i (None: compute it and keep nothing); rows with one key share one
        forward (MC-dropout batches repeat every image).
        """
        batch = pixel_values.shape[0]
        if len(keys) != batch:
            raise ValueError(f"{len(keys)} cache keys for a batch of {batch}")
        rows: list[Tensor | None] = [None] * batch
        for i, key in enumerate(keys):
            if key is None:
                continue
            hit = self.store.get(key)
            if hit is not None:
                rows[i] = hit.to(pixel_values.device)
                self._count(len(key) == 3, hit=True)
        first: dict[Key, int] = {}
        run: list[int] = []
        for i, key in enumerate(keys):
            if rows[i] is not None:
                continue
            if key is None:
                run.append(i)
            elif key not in first:
                first[key] = i
                run.append(i)
        if run:
            mask_rows = patch_mask[run] if patch_mask is not None else None
            computed = forward(pixel_values[run], mask_rows)
            for i, row in zip(run, computed, strict=True):
                rows[i] = row
                key = keys[i]
                if key is not None:
                    self._count(len(key) == 3, hit=False)
                    self.store.put(key, row)
                    self._new.append(key)
            for i, key in enumerate(keys):
                if rows[i] is None and key is not None:
                    rows[i] = rows[first[key]]
        return torch.stack([row for row in rows if row is not None])

    def _count(self, masked: bool, *, hit: bool) -> None:
        if masked:
            self.masked_hits += hit
            self.masked_misses += not hit
        else:
            self.hits += hit
            self.misses += not hit

    def save(self, path: str | Path) -> Path:
        """Append the entries made since the last save to the cache file `path`."""
        append_records(path, self.store, self._new)
        self._new = []
        return Path(path)

    @property
    def unsaved(self) -> int:
        """Entries made since the cache was opened or last saved."""
        return len(self._new)

    def close(self) -> None:
        """Drop every entry (and the temporary file)."""
        self.store.close()


def _set_aside_legacy(path: Path) -> None:
    """A cache file of the torch format before sample names (a zip) is renamed, not read.

    Its entries are keyed by pixel digests no run asks for any more; the cache is rebuilt.
    """
    with path.open("rb") as handle:
        legacy = handle.read(4) == b"PK\x03\x04"
    if legacy:
        old = path.with_name(path.name + ".legacy")
        path.replace(old)
        print(f"note: {path} is a feature cache of an older format; moved to {old.name} and "
              "rebuilt (delete it when no older version needs it)", file=sys.stderr)


def _check_frozen(encoder: Encoder) -> None:
    trainable = [n for n, p in encoder.lower_parameters()
                 if p.requires_grad and not n.endswith(_MASK_TOKEN)]
    if trainable:
        raise RuntimeError(
            f"the feature cache needs a frozen encoder, but {trainable[0]} (and "
            f"{len(trainable) - 1} more) can train; freeze it (E*) or do not cache"
        )


class FrozenLower:
    """One encoder's frozen lower part (blocks below its `split`), answered from `cache`.

    `lower(x, keys)` is `encoder.lower(x)` with the rows of known samples from the cache;
    `lower(x, keys, mask, mask_keys)` the masked rows, cached while the mask token is frozen
    and the cache keeps masked rows, and only for masks with a name. Returns None when the
    rows would need a gradient (a learned mask token): the network then runs its lower part.
    """

    def __init__(self, encoder: Encoder, cache: FeatureCache) -> None:
        _check_frozen(encoder)
        self.encoder = encoder
        self.cache = cache
        self.fingerprints = (encoder_fingerprint(encoder),
                             encoder_fingerprint(encoder, with_mask_token=True))

    def __call__(self, pixel_values: Tensor, keys: Sequence[str | None],
                 patch_mask: Tensor | None = None,
                 mask_keys: Sequence[str | None] | None = None) -> Tensor | None:
        _check_frozen(self.encoder)
        if patch_mask is not None and self.encoder.mask_token.requires_grad:
            return None  # a learned token: no reuse, and its gradient flows in the network
        plain, masked = self.fingerprints
        rows: list[Key | None] = []
        for i, key in enumerate(keys):
            row_masked = patch_mask is not None and bool(patch_mask[i].any())
            mask_key = mask_keys[i] if mask_keys is not None else None
            if key is None:
                rows.append(None)
            elif not row_masked:
                rows.append((plain, key))
            elif self.cache.cache_masked and mask_key is not None:
                rows.append((masked, key, mask_key))
            else:
                rows.append(None)  # a one-off mask: computed, not kept
        with torch.no_grad():
            return self.cache.features(self.encoder.lower, rows, pixel_values, patch_mask)


def frozen_lower(model: nn.Module, cache: FeatureCache | None) -> FrozenLower | None:
    """The cached lower part of `model`'s encoder; None without a cache or a frozen part."""
    encoder = getattr(model, "encoder", None)
    if cache is None or not isinstance(encoder, Encoder) or encoder.split == 0:
        return None
    return FrozenLower(encoder, cache)


@contextmanager
def training_feature_cache(
    enabled: bool, file: str | Path | None, *models: nn.Module, save: bool = True,
    quiet: bool = False, cache_masked: bool = False, memory_mb: float = MEMORY_MB,
) -> Iterator[FeatureCache | None]:
    """The training run's cache, for the frozen lower encoders of `models` (student, teacher).

    Indexes `file` when it exists and appends the new entries at the end when `save` is true
    (rank 0 only under DDP). Yields None when caching is off.
    """
    if not enabled:
        yield None
        return
    if not any(isinstance(m.encoder, Encoder) and m.encoder.split > 0 for m in models):
        raise UserError(
            "--cache-features needs a frozen encoder part: add --freeze-encoder (E*) or "
            "--train-blocks N"
        )
    cache = FeatureCache(file, cache_masked=cache_masked, memory_mb=memory_mb)
    try:
        yield cache
        saved = file is not None and save and cache.unsaved > 0
        if saved:
            assert file is not None
            cache.save(file)
        if not quiet:
            stats = cache_summary(cache)
            print(f"feature cache: {stats['entries']} entries ({stats['loaded']} loaded), "
                  f"{stats['hits']} hits, {stats['misses']} misses, masked "
                  f"{stats['masked_hits']} hits, {stats['masked_misses']} misses, "
                  f"{stats['megabytes']} MB in memory, {stats['megabytes_on_disk']} MB on disk"
                  + (f"; saved to {file}" if saved else ""), file=sys.stderr)
    finally:
        cache.close()


def cache_summary(cache: FeatureCache) -> dict[str, Any]:
    """The cache's counters plus its hit rates, for provenance."""
    stats: dict[str, Any] = dict(cache.stats())
    total = cache.hits + cache.misses
    stats["hit_rate"] = round(cache.hits / total, 4) if total else None
    masked = cache.masked_hits + cache.masked_misses
    stats["masked_hit_rate"] = round(cache.masked_hits / masked, 4) if masked else None
    return stats


@contextmanager
def cached_inference(cache: FeatureCache, models: Sequence[nn.Module]) -> Iterator[None]:
    """Evaluation: within the block, each frozen model's encoder reads `cache` for its lower part.

    Each encoder is split after its frozen blocks for the block (restored after); frames are
    keyed by a digest of their pixels, as evaluation has no loader to name them. Masked
    forwards are not cached.
    """
    attached: list[tuple[Encoder, int]] = []
    try:
        for model in models:
            encoder = model.encoder
            if not isinstance(encoder, Encoder) or any(encoder is e for e, _ in attached):
                continue
            if encoder.frozen_prefix() < 0:
                _check_frozen(encoder)  # raises: the embeddings train
            attached.append((encoder, encoder.split))
            encoder.set_split(encoder.frozen_prefix())
            plain = encoder_fingerprint(encoder)

            def source(lower: Forward, pixels: Tensor, mask: Tensor | None,
                       fingerprint: str = plain) -> Tensor:
                if mask is not None:
                    return lower(pixels, mask)
                keys = [(fingerprint, input_digest(row)) for row in pixels]
                return cache.features(lower, keys, pixels)

            encoder.lower_source = source
        yield
    finally:
        for encoder, split in attached:
            encoder.lower_source = None
            encoder.set_split(split)
