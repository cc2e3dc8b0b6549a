"""The view bank: K fixed augmented views per image, so augmentation costs what caching costs.

A random view drawn afresh every time is a new input every time, and a frozen encoder's features
of it can never be reused. The bank instead gives image i exactly K views: view k is the
training transform run with a generator seeded by (bank seed, i, k), so its pixels, its warped
labels and (through the pixels) its patch masks are the same every time it is drawn. Each draw
picks one of the K views with the loader's own generator, and the loader names the view
(data/sample.py). Under that name the frozen encoder's features of a view are computed once
(train/feature_cache.py), the teacher's logits of a target view once (train/teacher_memo.py),
and the mask bank draws the view's own masks (train/mask_bank.py), so the masked branch is
paired with its view. A view is made when it is drawn: a run holds only the views it drew.

The bank is the augmented data set: its seed is its own (`view_bank_seed`), not the run's, so
two training seeds of one recipe differ in their initialisation, their order and which view
they draw, and share the bank's features through one cache file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

_VIEW_TAG = 0x76696577  # "view": keeps these streams apart from the loader's


@dataclass(frozen=True)
class ViewBank:
    """K views per image, view k of image i a pure function of (seed, stream, i, k)."""

    size: int
    seed: int = 0
    stream: int = 0  # one bank per data set of a run: 0 the labelled source, 1 the targets

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"a view bank needs at least one view per image, got {self.size}")

    def draw(self, rng: np.random.Generator) -> int:
        """Which of the K views a draw takes (from the loader's generator)."""
        return int(rng.integers(self.size))

    def generator(self, index: int, view: int) -> np.random.Generator:
        """The generator that makes view `view` of image `index`."""
        if not 0 <= view < self.size:
            raise ValueError(f"view {view} is outside the bank's {self.size} views")
        return np.random.default_rng([self.seed, self.stream, index, view, _VIEW_TAG])

    def all_views(self, count: int) -> Iterator[tuple[int, int]]:
        """Every (image index, view) of a data set of `count` images, image by image."""
        for index in range(count):
            for view in range(self.size):
                yield index, view
