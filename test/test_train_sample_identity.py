"""A training sample is named once, by its loader, and every cache keys by that name; the caches
hold a bounded amount in memory however many samples a run draws, and stay exact."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from _train_fixtures import teacher_world

from uncertainty_seg_node.data import loader as loader_module
from uncertainty_seg_node.data import unlabelled as unlabelled_module
from uncertainty_seg_node.data.sample import content_digest
from uncertainty_seg_node.train import TrainConfig, train_uncertainty
from uncertainty_seg_node.train import feature_cache as feature_cache_module
from uncertainty_seg_node.train.feature_cache import FeatureCache
from uncertainty_seg_node.train.teacher_memo import TeacherMemo
from uncertainty_seg_node.train.tensor_store import TensorStore

SIZE = (56, 112)
SOURCE, TARGET = 4, 3
LC_KEYS = ("loss", "loss_sup", "loss_c", "gamma", "consistency_rate")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return teacher_world(tmp_path_factory.mktemp("identity"), SOURCE, TARGET, 2, SIZE)


def _phi(world: dict[str, Path], out: str, **overrides: Any) -> list[dict[str, float]]:
    values: dict[str, Any] = {
        "mode": "uncertainty", "data": str(world["source"]),
        "unlabelled": str(world["target"]), "teacher": str(world["teacher"]),
        "out": str(world["root"] / out), "batch_size": 2, "unlabelled_batch_size": 2,
        "lr": 1e-3, "warmup_steps": 1, "augment": True, "photometric": True,
        "view_bank_size": 2, "freeze_encoder": True, "mask_bank_size": 2, "mask_token": "mean",
        "cache_features": True, "fresh_mask_every": 2, "quiet": True,
    }
    values.update(overrides)
    return train_uncertainty(TrainConfig(**values)).history


def _counting(calls: Counter[str], name: str, function: Callable[..., str]) -> Callable[..., str]:
    def counted(*args: Any) -> str:
        calls[name] += 1
        return function(*args)

    return counted


@pytest.mark.parametrize("steps", [2, 6])
def test_each_image_is_hashed_once_whatever_the_steps_and_caches(
    world: dict[str, Path], monkeypatch: pytest.MonkeyPatch, steps: int
) -> None:
    calls: Counter[str] = Counter()
    for module in (loader_module, unlabelled_module):
        monkeypatch.setattr(module, "content_digest",
                            _counting(calls, "image", content_digest))
    monkeypatch.setattr(feature_cache_module, "input_digest",
                        _counting(calls, "pixels", feature_cache_module.input_digest))
    rows = _phi(world, f"phi_count{steps}.pt", steps=steps)
    assert rows[-1]["bank_reuse"] >= 1.0  # the mask bank, teacher memo and cache all ran
    # One digest per image when each loader first draws; none per step, per cache or per view.
    assert calls == Counter({"image": SOURCE + TARGET})


def test_the_loader_names_views_and_one_off_views_have_no_name(world: dict[str, Path]) -> None:
    from uncertainty_seg_node.config import model_config_for
    from uncertainty_seg_node.data import InfiniteLoader, open_unlabelled
    from uncertainty_seg_node.data.transforms import TrainTransform
    from uncertainty_seg_node.data.view_bank import ViewBank

    config = model_config_for("tiny", input_size=SIZE)
    target = open_unlabelled(str(world["target"]))

    def loader(views: ViewBank | None, scale: float = 1.5) -> InfiniteLoader:
        return InfiniteLoader(target, 3, TrainTransform(config, scale_range=(0.75, scale)),
                              config, seed=0, rank=0, world_size=1, views=views)

    batch = next(loader(ViewBank(2)))
    named = loader(ViewBank(2))
    identity, digests = named.identity, named.image_digests
    assert batch.keys == [f"{identity}:{digests[i]}:{i}:{k}"
                          for i, k in zip(batch.indices, batch.views, strict=True)]
    # The first frames of a longer drive are the same samples (an N-curve shares them).
    prefix = open_unlabelled(str(world["target"]), max_frames=2)
    short = InfiniteLoader(prefix, 1, TrainTransform(config, scale_range=(0.75, 1.5)), config,
                           seed=0, rank=0, world_size=1, views=ViewBank(2))
    assert short.identity == identity and short.image_digests == digests[:2]
    # Another bank seed, another transform: other samples, so other names.
    assert loader(ViewBank(2, seed=1)).identity != identity
    assert loader(ViewBank(2), scale=2.0).identity != identity
    assert next(loader(None)).keys == [None, None, None]


def test_a_store_holds_its_budget_in_memory_and_the_rest_exactly_on_disk() -> None:
    """Resident bytes stay under the budget for 10 or 1000 entries; every entry reads back."""
    generator = torch.Generator().manual_seed(0)
    entry = 16 * 64 * 4  # bytes of one (16, 64) float32 entry
    for count in (10, 1000):
        store = TensorStore(memory_mb=20 * entry / 2**20)  # room for 20 entries
        tensors = [torch.randn(16, 64, generator=generator) for _ in range(count)]
        for i, tensor in enumerate(tensors):
            store.put(("k", str(i)), tensor)
        assert store.bytes_in_memory == min(count, 20) * entry
        assert store.bytes_on_disk == max(count - 20, 0) * entry
        for i, tensor in enumerate(tensors):
            got = store.get(("k", str(i)))
            assert got is not None and torch.equal(got, tensor)
        store.close()
    half = torch.randn(3, 5, generator=generator).to(torch.bfloat16)
    store = TensorStore(memory_mb=0)
    store.put(("h",), half)
    got = store.get(("h",))
    assert got is not None and got.dtype == torch.bfloat16 and torch.equal(got, half)


def test_the_caches_memory_does_not_grow_with_the_samples_drawn() -> None:
    budget = 0.05  # MB
    for samples in (20, 400):
        cache = FeatureCache(memory_mb=budget)
        memo = TeacherMemo(lambda images, keys: images * 2.0, enabled=True, memory_mb=budget)
        for first in range(0, samples, 4):
            keys = [f"d:{i}:0" for i in range(first, first + 4)]
            x = torch.randn(4, 8, 64)
            cache.features(lambda pixels, mask: pixels + 1.0, [("fp", k) for k in keys], x)
            torch.testing.assert_close(memo.logits(x, keys), x * 2.0, rtol=0, atol=0)
        assert len(cache) == samples and len(memo.entries) == samples
        assert cache.store.bytes_in_memory <= budget * 2**20
        assert memo.entries.bytes_in_memory <= budget * 2**20
        cache.close()


def test_a_run_in_a_small_budget_equals_one_held_in_memory(world: dict[str, Path]) -> None:
    held = _phi(world, "phi_ram.pt", steps=4)
    spilled = _phi(world, "phi_disk.pt", steps=4, cache_memory_mb=0.01)
    for row_a, row_b in zip(held, spilled, strict=True):
        for key in LC_KEYS:
            assert row_a[key] == row_b[key], key  # bit-identical
