"""An endless, seeded, resumable batch stream without DataLoader workers.

Why no worker processes: the target CPU machine has 2 cores that torch already uses for the
forward/backward pass, and reading + resizing a 480x360 frame costs a few milliseconds, far below
a training step, so workers would only add fork/IPC overhead and non-determinism. Everything here
is a pure function of (seed, rank, epoch, position), so a run resumes bit-exactly from
`state_dict()`, and each DDP rank reads its own shard (DistributedSampler-style: the epoch
permutation is padded to a multiple of world_size and rank r takes every world_size-th index).

With a view bank (data/view_bank.py) a draw of image i takes one of its K fixed views: the
loader's generator picks k, and the transform runs with view k's own generator.

Each batch names its samples (`Batch.keys`, data/sample.py): the loader's identity (how it
turns an image into a tensor: the transform, the normalisation, the view bank, and a fixed
probe image through the transform, so a changed transform shows), the image's digest (each
image hashed once, when the first batch is drawn), its index and the view. Runs on two subsets
that share a prefix (`--unlabelled-max-frames`) name the shared samples alike. A sample whose
tensor is new at every draw (a random view without a bank) has no name: nothing could be reused
for it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from uncertainty_seg_node.config import ModelConfig
from uncertainty_seg_node.data.labelled import LabelledDataset
from uncertainty_seg_node.data.sample import LabelledSample, content_digest, sample_key
from uncertainty_seg_node.data.transforms import EvalTransform, labels_to_tensor, to_tensor_batch
from uncertainty_seg_node.data.unlabelled import UnlabelledDataset
from uncertainty_seg_node.data.view_bank import ViewBank
from uncertainty_seg_node.errors import UserError

_PROBE = 0x70726F6265  # "probe": the fixed image whose transform names the loader

if TYPE_CHECKING:
    import torch


class _Dataset(Protocol):
    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> Any: ...


class _Transform(Protocol):
    def __call__(
        self, sample: LabelledSample, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]: ...
    def image(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...


@dataclass
class Batch:
    """A batch ready for the network."""

    images: torch.Tensor  # float32 (B, 3, H, W), normalised
    labels: torch.Tensor | None  # int64 (B, H, W), 255 = ignore; None for unlabelled data
    names: list[str]
    indices: list[int]  # dataset indices
    views: list[int]  # the view bank's view of each image (-1: no bank)
    keys: list[str | None]  # each sample's name (data/sample.py); None: a one-off random view


class InfiniteLoader:
    """Draws batches forever from a labelled or unlabelled dataset; `next(loader)` -> Batch."""

    def __init__(
        self,
        dataset: _Dataset,
        batch_size: int,
        transform: _Transform,
        config: ModelConfig,
        *,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        shuffle: bool = True,
        views: ViewBank | None = None,
    ) -> None:
        if batch_size < 1:
            raise UserError(f"batch size must be >= 1, got {batch_size}")
        if len(dataset) == 0:
            raise UserError("cannot draw batches from an empty dataset")
        if rank is None or world_size is None:
            rank, world_size = _dist_rank_world()
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world size {world_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.transform = transform
        self.config = config
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.views = views
        self.epoch = 0
        self.position = 0  # index into this rank's shard of the current epoch
        self._shard = self._shard_for(0)

    @property
    def repeats(self) -> bool:
        """Whether a drawn sample is the same tensor every time it is drawn again."""
        return self.views is not None or isinstance(self.transform, EvalTransform)

    @cached_property
    def identity(self) -> str:
        """How this loader makes a tensor of an image: transform, normalisation, view bank."""
        digest = hashlib.blake2b(digest_size=16)
        bank = self.views
        digest.update(repr((type(self.transform).__qualname__, tuple(self.config.input_size),
                            tuple(self.config.mean), tuple(self.config.std),
                            None if bank is None else (bank.size, bank.seed, bank.stream)))
                      .encode())
        rng = np.random.default_rng(_PROBE)
        image = rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)
        labels = rng.integers(0, 3, (97, 131), dtype=np.uint8)
        for made in (self.transform.image(image, np.random.default_rng(_PROBE)),
                     *self.transform(LabelledSample("probe", image, labels),
                                     np.random.default_rng(_PROBE))):
            digest.update(np.ascontiguousarray(made).tobytes())
        return digest.hexdigest()

    @cached_property
    def image_digests(self) -> list[str]:
        """Each image's digest (of its file where it has one), computed once."""
        return _image_digests(self.dataset)

    def shard_indices(self, epoch: int) -> list[int]:
        """Dataset indices this rank visits in `epoch`, in order."""
        return self._shard_for(epoch).tolist()

    def _shard_for(self, epoch: int) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(n)
        else:
            order = np.arange(n)
        total = -(-n // self.world_size) * self.world_size
        order = np.resize(order, total)  # wraps around, like DistributedSampler's padding
        return order[self.rank :: self.world_size]

    def __iter__(self) -> InfiniteLoader:
        return self

    def __next__(self) -> Batch:
        images: list[np.ndarray] = []
        labels: list[np.ndarray] = []
        names: list[str] = []
        indices: list[int] = []
        views: list[int] = []
        keys: list[str | None] = []
        identity = self.identity if self.repeats else None
        digests = self.image_digests if self.repeats else []
        for _ in range(self.batch_size):
            if self.position >= len(self._shard):
                self.epoch += 1
                self.position = 0
                self._shard = self._shard_for(self.epoch)
            index = int(self._shard[self.position])
            rng = np.random.default_rng([self.seed, self.rank, self.epoch, self.position, 1])
            self.position += 1
            view = self.views.draw(rng) if self.views is not None else -1
            image, label, name = self._sample(index, view, rng)
            if label is not None:
                labels.append(label)
            images.append(image)
            names.append(name)
            indices.append(index)
            views.append(view)
            keys.append(sample_key(identity, digests[index], index, view)
                        if identity is not None else None)
        label_tensor = labels_to_tensor(labels) if labels else None
        return Batch(to_tensor_batch(images, self.config), label_tensor, names, indices, views,
                     keys)

    def _sample(
        self, index: int, view: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None, str]:
        """(image, labels or None, name) of image `index` as view `view` of the bank.

        Without a bank the transform draws from `rng`.
        """
        if self.views is not None:
            rng = self.views.generator(index, view)
        item = self.dataset[index]
        if isinstance(item, LabelledSample):
            image, labels = self.transform(item, rng)
            return image, labels, item.name
        names = getattr(self.dataset, "names", None)
        name = str(names[index]) if names is not None else str(index)
        return self.transform.image(item, rng), None, name

    def state_dict(self) -> dict[str, int]:
        """Where the stream is, for checkpoints."""
        return {"seed": self.seed, "epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue a stream saved by `state_dict()` (same dataset, seed and world size)."""
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self._shard = self._shard_for(self.epoch)


def _image_digests(dataset: _Dataset) -> list[str]:
    if isinstance(dataset, LabelledDataset):
        return [content_digest(item.image_path.read_bytes()) for item in dataset.items]
    if isinstance(dataset, UnlabelledDataset):
        return dataset.image_digests()
    digests = []
    for index in range(len(dataset)):
        item = dataset[index]
        pixels = item.image if isinstance(item, LabelledSample) else item
        digests.append(content_digest(np.ascontiguousarray(pixels).tobytes()))
    return digests


def _dist_rank_world() -> tuple[int, int]:
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - torch is a training requirement
        return 0, 1
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1
