"""The long-schedule machinery of step 3: mask bank, partial fine-tuning, mask token, eval-mode
certainty and the L_c warm-up, each checked against the plain (uncached) computation."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import torch
from _train_fixtures import teacher_world

from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model.checkpoint import load_checkpoint
from uncertainty_seg_node.model.mask_token import (
    mean_patch_embedding,
    resolve_mask_token_mode,
    set_mask_token,
)
from uncertainty_seg_node.model.segmenter import Segmenter
from uncertainty_seg_node.train import TrainConfig, train_task, train_uncertainty
from uncertainty_seg_node.train.feature_cache import FeatureCache, FrozenLower
from uncertainty_seg_node.train.mask_bank import MaskBank, bank_mask
from uncertainty_seg_node.train.uncertainty import UncertaintyStepper

SIZE = (56, 112)
LENGTH = (SIZE[0] // 14) * (SIZE[1] // 14)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return teacher_world(tmp_path_factory.mktemp("mgs"), 4, 3, 3, SIZE)


def _phi(world: dict[str, Path], out: str, **overrides: Any) -> list[dict[str, float]]:
    values: dict[str, Any] = {
        "mode": "uncertainty", "data": str(world["source"]),
        "unlabelled": str(world["target"]), "teacher": str(world["teacher"]),
        "out": str(world["root"] / out), "steps": 4, "batch_size": 2,
        "unlabelled_batch_size": 2, "lr": 1e-3, "warmup_steps": 1, "augment": False,
        "quiet": True, "fresh_mask_every": 2,
    }
    values.update(overrides)
    return train_uncertainty(TrainConfig(**values)).history


def _same(a: list[dict[str, float]], b: list[dict[str, float]], keys: tuple[str, ...]) -> None:
    assert len(a) == len(b) > 0
    for row_a, row_b in zip(a, b, strict=True):
        for key in keys:
            if key in row_a or key in row_b:  # fresh-mask checks run every few steps only
                assert row_a[key] == pytest.approx(row_b[key], rel=1e-4, abs=1e-5), key


LC_KEYS = ("loss", "loss_sup", "loss_c", "gamma", "consistency_rate")


def test_bank_masks_are_a_pure_function_of_image_and_k() -> None:
    first = bank_mask("abc", 0, 0, 0.5, 4000)
    assert torch.equal(first, bank_mask("abc", 0, 0, 0.5, 4000))
    assert not torch.equal(first, bank_mask("abc", 1, 0, 0.5, 4000))
    assert not torch.equal(first, bank_mask("abd", 0, 0, 0.5, 4000))
    assert abs(float(first.float().mean()) - 0.5) < 0.05
    bank = MaskBank(2, 0.5, seed=0)
    samples = ["u0", "u1", "u2"]  # three samples, as the loader names them
    gen = torch.Generator().manual_seed(0)
    masks = torch.cat([bank.draw(samples, LENGTH, gen)[0] for _ in range(20)])
    assert masks.shape == (60, LENGTH)
    # 3 images x 2 masks: at most 6 distinct masks over 60 draws, each reused.
    assert len({tuple(m.tolist()) for m in masks}) <= 6
    stats = bank.stats()
    assert stats["bank_entries"] <= 6 and stats["bank_reuse"] >= 10


def test_bank_training_with_and_without_cache_gives_the_same_losses(
    world: dict[str, Path]
) -> None:
    common = {"freeze_encoder": True, "mask_bank_size": 2, "mask_token": "mean"}
    plain = _phi(world, "phi_bank_plain.pt", **common)
    file = world["root"] / "bank_features.pt"
    cached = _phi(world, "phi_bank_cached.pt", feature_cache_file=str(file), **common)
    _same(plain, cached, LC_KEYS + ("consistency_fresh", "consistency_bank"))
    assert "consistency_fresh" in cached[0] and "consistency_fresh" not in cached[1]
    assert cached[-1]["bank_reuse"] >= 1.0
    saved = FeatureCache(file)
    masked = [key for key in saved.entries if len(key) == 3]
    # At most 3 target images x 2 bank masks were ever drawn, and at least one was.
    assert 1 <= len(masked) <= 6
    # A second run draws the same masks: every masked row comes from the file.
    again = _phi(world, "phi_bank_again.pt", feature_cache_file=str(file), **common)
    _same(cached, again, LC_KEYS)


def test_partial_fine_tuning_cached_equals_uncached(world: dict[str, Path]) -> None:
    def task(out: str, cache: bool) -> list[dict[str, float]]:
        config = TrainConfig(data=str(world["source"]), out=str(world["root"] / out), size=SIZE,
                             steps=3, batch_size=2, lr=1e-3, warmup_steps=1, train_blocks=1,
                             augment=False, cache_features=cache, quiet=True)
        return train_task(config).history

    _same(task("tb_plain.pt", False), task("tb_cached.pt", True), ("loss", "source_miou"))
    trained = load_checkpoint(world["root"] / "tb_cached.pt").model
    start = load_checkpoint(world["teacher"]).model  # same seed: same initial encoder
    layers = trained.encoder.vit.encoder.layer
    assert torch.equal(layers[0].mlp.fc1.weight, start.encoder.vit.encoder.layer[0].mlp.fc1.weight)
    assert not torch.equal(layers[-1].mlp.fc1.weight,
                           start.encoder.vit.encoder.layer[-1].mlp.fc1.weight)
    common = {"train_blocks": 1, "mask_bank_size": 2, "mask_token": "mean"}
    plain = _phi(world, "phi_tb_plain.pt", **common)
    cached = _phi(world, "phi_tb_cached.pt", cache_features=True, **common)
    _same(plain, cached, LC_KEYS)


def test_split_forward_equals_the_whole_encoder() -> None:
    torch.manual_seed(0)
    model = Segmenter(model_config_for("tiny", input_size=SIZE)).eval()
    x = torch.randn(2, 3, *SIZE)
    mask = model.random_patch_mask(x, 0.5, torch.Generator().manual_seed(0))
    with torch.no_grad():
        whole = model(x, mask)
        for split in range(model.config.num_layers + 1):
            model.encoder.set_split(split)
            torch.testing.assert_close(model(x, mask), whole, rtol=0, atol=1e-6)
        model.encoder.requires_grad_(False)
        model.encoder.vit.encoder.layer[-1].requires_grad_(True)
        model.encoder.set_split(model.encoder.frozen_prefix())
        cache = FeatureCache(cache_masked=True)
        lower = FrozenLower(model.encoder, cache)
        assert model.encoder.split == model.config.num_layers - 1
        names = (["a", "b"], ["m0", "m0"])
        first = model(x, mask, lower_states=lower(x, names[0], mask, names[1]))
        again = model(x, mask, lower_states=lower(x, names[0], mask, names[1]))
    torch.testing.assert_close(first, whole, rtol=0, atol=1e-6)
    torch.testing.assert_close(again, whole, rtol=0, atol=1e-6)
    assert (cache.masked_misses, cache.masked_hits) == (2, 2)


def test_mask_token_modes(world: dict[str, Path]) -> None:
    torch.manual_seed(0)
    model = Segmenter(model_config_for("tiny", input_size=SIZE))
    images = [torch.randn(2, 3, *SIZE), torch.randn(1, 3, *SIZE)]
    # No init file: no stored token, so auto means the mean patch embedding.
    assert resolve_mask_token_mode("auto", model) == "mean"
    with pytest.raises(UserError, match="mask-token mean"):
        resolve_mask_token_mode("weights", model)
    assert set_mask_token(model, "auto", images) == "mean"
    embed = model.encoder.vit.embeddings.patch_embeddings
    with torch.no_grad():
        tokens = torch.cat([embed(x) for x in images], dim=0)
    expected = tokens.reshape(-1, tokens.shape[-1])
    torch.testing.assert_close(model.encoder.mask_token.detach().reshape(-1),
                               expected.mean(dim=0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(mean_patch_embedding(model, images), expected.mean(dim=0),
                               rtol=1e-5, atol=1e-6)
    assert not model.encoder.mask_token.requires_grad
    set_mask_token(model, "zero", None)
    assert float(model.encoder.mask_token.abs().sum()) == 0.0
    set_mask_token(model, "learned", images)
    assert model.encoder.mask_token.requires_grad
    # A stored token (a DINOv2 .pth or HF folder) is kept by `weights` and chosen by `auto`.
    model.config.provenance["encoder_init"] = {"format": "pth", "missing": []}
    model.encoder.mask_token.data.fill_(0.25)
    assert set_mask_token(model, "auto", None) == "weights"
    assert float(model.encoder.mask_token.mean()) == pytest.approx(0.25)
    with pytest.raises(UserError, match="mask_token"):
        resolve_mask_token_mode("random", model)
    # A learned token trains with f_phi (and its masked rows are never cached).
    _phi(world, "phi_learned.pt", freeze_encoder=True, mask_token="learned",
         cache_features=True, mask_bank_size=2, steps=2)
    _phi(world, "phi_mean.pt", freeze_encoder=True, mask_token="mean", cache_features=True,
         mask_bank_size=2, steps=2)
    learned = load_checkpoint(world["root"] / "phi_learned.pt").model
    mean = load_checkpoint(world["root"] / "phi_mean.pt").model
    assert learned.config.provenance["mask_token"] == "learned"
    assert mean.config.provenance["mask_token"] == "mean"
    # Both start from the same mean patch embedding; only the learned one moved.
    assert not torch.equal(learned.encoder.mask_token, mean.encoder.mask_token)
    frozen = load_checkpoint(world["teacher"]).model.encoder.vit.embeddings.patch_embeddings
    assert torch.equal(mean.encoder.vit.embeddings.patch_embeddings.projection.weight,
                       frozen.projection.weight)


def test_certainty_forward_is_in_eval_mode(world: dict[str, Path]) -> None:
    """With decoder dropout, two runs differing only in the dropout seed pick the same pixels."""
    common = {"freeze_encoder": True, "dropout": 0.5, "steps": 1, "mask_token": "zero"}
    rows = [_phi(world, f"phi_drop{s}.pt", **common)[0] for s in (0, 0)]
    assert rows[0]["gamma"] == rows[1]["gamma"]
    torch.manual_seed(0)
    model = Segmenter(model_config_for("tiny", input_size=SIZE, dropout=0.5)).train()
    x = torch.randn(2, 3, *SIZE)
    stepper = UncertaintyStepper.__new__(UncertaintyStepper)
    stepper.autocast = contextlib.nullcontext
    got = stepper._eval_forward(model, x, None)
    assert model.training  # restored
    with torch.no_grad():
        expected = model.eval()(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_lc_warm_up_and_ramp(world: dict[str, Path]) -> None:
    config = TrainConfig(loss_weight=0.5, lc_start_step=2, lc_ramp_steps=4)
    assert [config.lc_weight(s) for s in range(7)] == [0.0, 0.0, 0.125, 0.25, 0.375, 0.5, 0.5]
    assert TrainConfig(loss_weight=0.3).lc_weight(0) == 0.3
    rows = _phi(world, "phi_warm.pt", freeze_encoder=True, lc_start_step=2, lc_ramp_steps=2,
                mask_token="zero")
    assert [row["lc_weight"] for row in rows] == [0.0, 0.0, 0.5, 1.0]
    assert "loss_c" not in rows[0] and "loss_c" in rows[2]
    with pytest.raises(UserError, match="lc_start_step"):
        TrainConfig(data="d", out="o", lc_start_step=-1).validate()
    with pytest.raises(UserError, match="train-blocks"):
        TrainConfig(data="d", out="o", freeze_encoder=True, train_blocks=2).validate()
