"""The feature cache is exact: cached and uncached forwards, and whole training runs, agree."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _train_fixtures import write_labelled, write_unlabelled

from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model.segmenter import Segmenter
from uncertainty_seg_node.train import TrainConfig, train_task, train_uncertainty
from uncertainty_seg_node.train.feature_cache import (
    FeatureCache,
    FrozenLower,
    encoder_fingerprint,
)

SIZE = (56, 112)


def _frozen(seed: int) -> Segmenter:
    torch.manual_seed(seed)
    model = Segmenter(model_config_for("tiny", input_size=SIZE)).eval()
    model.encoder.requires_grad_(False)
    model.encoder.set_split(model.encoder.frozen_prefix())
    return model


def _cached(model: Segmenter, lower: FrozenLower, x: torch.Tensor, keys: list[str],
            mask: torch.Tensor | None = None) -> torch.Tensor:
    """The network with its frozen part from the cache, as a training step runs it."""
    return model(x, mask, lower_states=lower(x, keys, mask))


def test_cached_forward_equals_uncached_and_counts() -> None:
    model = _frozen(0)
    x = torch.randn(3, 3, *SIZE, generator=torch.Generator().manual_seed(1))
    mask = torch.zeros(3, (SIZE[0] // 14) * (SIZE[1] // 14), dtype=torch.bool)
    mask[1, ::2] = True  # only row 1 is masked
    keys = ["a", "b", "c"]
    with torch.no_grad():
        plain, plain_masked = model(x), model(x, mask)
        cache = FeatureCache()
        lower = FrozenLower(model.encoder, cache)
        first, second = _cached(model, lower, x, keys), _cached(model, lower, x, keys)
        masked = _cached(model, lower, x, keys, mask)
    torch.testing.assert_close(first, plain, rtol=0, atol=1e-5)
    torch.testing.assert_close(second, plain, rtol=0, atol=1e-5)
    torch.testing.assert_close(masked, plain_masked, rtol=0, atol=1e-5)
    # 3 misses, then 3 hits, then 2 hits (the masked row is always a real forward).
    assert (len(cache), cache.misses, cache.hits) == (3, 3, 5)
    assert model.encoder.lower_source is None  # nothing attached to the encoder
    # A batch repeating one new image (MC dropout) runs the encoder once for it.
    with torch.no_grad():
        repeated = _cached(model, lower, torch.cat([x[:1] + 1.0] * 3), ["d"] * 3)
    assert (len(cache), cache.misses) == (4, 4)
    torch.testing.assert_close(repeated[1], repeated[0], rtol=0, atol=0)


def test_encoders_never_share_entries_and_trainable_ones_are_refused() -> None:
    a, b = _frozen(0), _frozen(1)
    assert encoder_fingerprint(a.encoder) != encoder_fingerprint(b.encoder)
    x = torch.randn(2, 3, *SIZE)
    cache = FeatureCache()
    with torch.no_grad():
        out_a = _cached(a, FrozenLower(a.encoder, cache), x, ["x0", "x1"])
        out_b = _cached(b, FrozenLower(b.encoder, cache), x, ["x0", "x1"])
    assert len(cache) == 4 and cache.hits == 0
    assert not torch.allclose(out_a, out_b)
    b.encoder.vit.embeddings.cls_token.requires_grad_(True)
    with pytest.raises(RuntimeError, match="frozen encoder"):
        FrozenLower(b.encoder, cache)


def test_cache_file_round_trip(tmp_path: Path) -> None:
    model = _frozen(0)
    x = torch.randn(2, 3, *SIZE)
    cache = FeatureCache()
    with torch.no_grad():
        expected = _cached(model, FrozenLower(model.encoder, cache), x, ["x0", "x1"])
    path = cache.save(tmp_path / "features.pt")
    again = FeatureCache(path)
    with torch.no_grad():
        got = _cached(model, FrozenLower(model.encoder, again), x, ["x0", "x1"])
    assert (again.loaded, again.hits, again.misses) == (2, 2, 0)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    (tmp_path / "bad.pt").write_bytes(b"not a cache")
    with pytest.raises(UserError, match="delete it"):
        FeatureCache(tmp_path / "bad.pt")
    # A file of the torch format before sample names is set aside, and the cache rebuilt.
    torch.save({"format": "uncertainty_seg_node/feature-cache/2", "entries": {}},
               tmp_path / "old.pt")
    assert len(FeatureCache(tmp_path / "old.pt")) == 0
    assert (tmp_path / "old.pt.legacy").is_file() and not (tmp_path / "old.pt").exists()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cache")
    return {"source": write_labelled(root / "src", 3), "target": write_unlabelled(root / "tgt", 3),
            "root": root}


def _task(world: dict[str, Path], out: Path, cache: bool) -> list[dict[str, float]]:
    config = TrainConfig(data=str(world["source"]), out=str(out), size=SIZE, steps=4,
                         batch_size=2, lr=1e-3, warmup_steps=1, freeze_encoder=True,
                         augment=False, cache_features=cache, quiet=True)
    return train_task(config).history


def _close(a: list[dict[str, float]], b: list[dict[str, float]], keys: tuple[str, ...]) -> None:
    assert len(a) == len(b) > 0
    for row_a, row_b in zip(a, b):
        for key in keys:
            assert row_a[key] == pytest.approx(row_b[key], rel=1e-4, abs=1e-5), key


def test_training_with_and_without_cache_gives_the_same_losses(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = world["root"]
    plain = _task(world, root / "theta_plain.pt", cache=False)
    cached = _task(world, root / "theta_cached.pt", cache=True)
    _close(plain, cached, ("loss", "source_miou"))

    def phi(out: str, cache: bool) -> list[dict[str, float]]:
        config = TrainConfig(
            mode="uncertainty", data=str(world["source"]), unlabelled=str(world["target"]),
            teacher=str(root / "theta_cached.pt"), out=str(root / out), steps=3, batch_size=2,
            lr=1e-3, warmup_steps=1, freeze_encoder=True, augment=False,
            feature_cache_file=str(root / "features.pt") if cache else None, quiet=cache,
        )
        return train_uncertainty(config).history

    plain_phi = phi("phi_plain.pt", cache=False)
    cached_phi = phi("phi_cached.pt", cache=True)
    _close(plain_phi, cached_phi, ("loss", "loss_sup", "loss_c", "gamma", "consistency_rate"))
    # Teacher and student share the frozen random encoder (same seed): one set of entries,
    # 3 source + 3 target images, saved for the next run.
    saved = FeatureCache(root / "features.pt")
    assert saved.loaded == 6


def test_cache_options_are_checked(world: dict[str, Path], tmp_path: Path) -> None:
    base = {"data": str(world["source"]), "out": str(tmp_path / "x.pt"), "size": SIZE,
            "steps": 1, "quiet": True, "cache_features": True}
    with pytest.raises(UserError, match="--view-bank-size"):
        train_task(TrainConfig(freeze_encoder=True, **base))  # type: ignore[arg-type]
    with pytest.raises(UserError, match="--freeze-encoder"):
        train_task(TrainConfig(augment=False, **base))  # type: ignore[arg-type]
