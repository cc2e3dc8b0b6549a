"""Augmented target views (`augment_target`): one seeded view per target image and step, seen
alike by the teacher, the masked and the unmasked branch; the un-augmented source stays cached."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _train_fixtures import write_labelled, write_unlabelled

from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.data import EvalTransform, InfiniteLoader, open_unlabelled
from uncertainty_seg_node.data.transforms import TrainTransform, to_tensor_batch
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model.mask_token import set_mask_token
from uncertainty_seg_node.train import TrainConfig, common, train_task, train_uncertainty
from uncertainty_seg_node.train.distributed import DistEnv
from uncertainty_seg_node.train.feature_cache import FeatureCache, training_feature_cache
from uncertainty_seg_node.train.uncertainty import UncertaintyStepper, load_teacher

SIZE = (56, 112)
LC_KEYS = ("loss", "loss_sup", "loss_c", "gamma", "consistency_rate")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("augment_target")
    source = write_labelled(root / "src", 4)
    target = write_unlabelled(root / "tgt", 3)
    teacher = root / "theta.pt"
    train_task(TrainConfig(data=str(source), out=str(teacher), size=SIZE, steps=2, batch_size=2,
                           lr=1e-3, warmup_steps=1, freeze_encoder=True, augment=False,
                           quiet=True))
    return {"source": source, "target": target, "teacher": teacher, "root": root}


def _config(world: dict[str, Path], out: str, **overrides: Any) -> TrainConfig:
    values: dict[str, Any] = {
        "mode": "uncertainty", "data": str(world["source"]),
        "unlabelled": str(world["target"]), "teacher": str(world["teacher"]),
        "out": str(world["root"] / out), "steps": 4, "batch_size": 2,
        "unlabelled_batch_size": 2, "lr": 1e-3, "warmup_steps": 1, "augment": False,
        "augment_target": True, "freeze_encoder": True, "mask_bank_size": 2,
        "mask_token": "mean", "fresh_mask_every": 2, "quiet": True,
    }
    values.update(overrides)
    return TrainConfig(**values)


def test_target_transform_draws_seeded_views_with_jitter() -> None:
    config = model_config_for("tiny", input_size=SIZE)
    image = np.random.default_rng(0).integers(0, 256, (60, 120, 3), dtype=np.uint8)
    views = common.target_transform(config, TrainConfig(augment=False, augment_target=True))
    assert isinstance(views, TrainTransform) and views.saturation > 0
    assert views.brightness_contrast > 0 and views.scale_range[0] >= 1.0

    def view(seed: int) -> np.ndarray:
        return views.image(image, np.random.default_rng(seed))

    assert np.array_equal(view(3), view(3))
    assert not np.array_equal(view(3), view(4))
    assert view(3).shape == (*SIZE, 3)
    # Off: the targets get the source's transform, as before the option existed.
    plain = common.target_transform(config, TrainConfig(augment=False))
    assert isinstance(plain, EvalTransform)
    assert isinstance(common.target_transform(config, TrainConfig(augment=True)), TrainTransform)
    # Saturation alone turns a colour image greyer or more colourful, never changes a grey one.
    only_sat = TrainTransform(config, saturation=0.5)
    grey = np.full((8, 8, 3), 90, np.uint8)
    assert np.array_equal(only_sat._photometric(grey, np.random.default_rng(1)), grey)
    assert not np.array_equal(only_sat._photometric(image, np.random.default_rng(1)), image)
    with pytest.raises(UserError, match="saturation"):
        TrainTransform(config, saturation=1.0)
    with pytest.raises(UserError, match="augment_target"):
        TrainConfig(data="d", out="o", augment_target=True).validate()  # a `train task` run


def test_same_seed_same_views_and_losses_other_seed_differs(world: dict[str, Path]) -> None:
    files = [world["root"] / f"features_{name}.pt" for name in ("a", "b", "c")]
    runs = [train_uncertainty(_config(world, f"phi_{i}.pt", feature_cache_file=str(file),
                                      seed=seed)).history
            for i, (file, seed) in enumerate(zip(files, (0, 0, 1), strict=True))]
    first, again, other = runs
    assert len(first) == len(again) == 4
    for row_a, row_b in zip(first, again, strict=True):
        for key in LC_KEYS:
            assert row_a[key] == row_b[key], key  # bit-identical, not just close
    assert [row["loss_c"] for row in first] != [row["loss_c"] for row in other]
    # The cache file holds the source batch only: 4 labelled images, no target view, no
    # masked row (a view is new every step, so keeping it would only grow the file).
    saved = FeatureCache(files[0])
    assert len(saved) == 4 and all(len(key) == 2 for key in saved.entries)
    # Without augment_target the same run keeps the 3 target images' features as well.
    plain = world["root"] / "features_plain.pt"
    train_uncertainty(_config(world, "phi_plain.pt", feature_cache_file=str(plain),
                              augment_target=False))
    assert len(FeatureCache(plain)) > len(saved)


def _upcoming(loader: InfiniteLoader, count: int = 2) -> list[int]:
    """The dataset indices the loader's next batch of `count` will hold."""
    epoch, position, out = loader.epoch, loader.position, []
    while len(out) < count:
        shard = loader.shard_indices(epoch)
        if position >= len(shard):
            epoch, position = epoch + 1, 0
            continue
        out.append(shard[position])
        position += 1
    return out


class _Inputs:
    """Records the tensors a module is called with (the real forward still runs)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.calls: list[tuple[torch.Tensor, torch.Tensor | None]] = []
        module.register_forward_pre_hook(self._record)

    def _record(self, _module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        mask = args[1] if len(args) > 1 else None
        self.calls.append((args[0].detach().clone(), mask))


def test_one_view_feeds_all_three_branches_and_the_source_stays_cached(
    world: dict[str, Path]
) -> None:
    config = _config(world, "phi_unit.pt", certainty_from="unmasked", fresh_mask_every=0,
                     size=SIZE)
    env = DistEnv(rank=0, world=1, local_rank=0, device=torch.device("cpu"))
    dataset = common.open_source_data(config)
    teacher = load_teacher(config, tuple(dataset.class_names), env)
    model_config = common.student_config(config, dataset)
    model = common.build_student(model_config, config)
    common.set_trainable_encoder(model, config)
    set_mask_token(model, "zero", None)
    target = open_unlabelled(str(world["target"]))
    unlabelled = InfiniteLoader(target, 2, common.target_transform(model_config, config),
                                model_config, seed=config.seed + 1, rank=0, world_size=1)
    labelled = common.labelled_loader(dataset, model_config, config, env)
    stepper = UncertaintyStepper(teacher, labelled, unlabelled, config, env,
                                 contextlib.nullcontext)
    teacher_in, student_in = _Inputs(teacher), _Inputs(model)
    plain = EvalTransform(model_config)
    seen: dict[int, list[torch.Tensor]] = {}
    with training_feature_cache(True, None, model, teacher, save=False, quiet=True,
                                cache_masked=True) as cache:
        assert cache is not None
        stepper.feature_cache = cache
        for step in range(4):  # two epochs of the 4 source images
            source_indices, target_indices = _upcoming(labelled), _upcoming(unlabelled)
            teacher_in.calls.clear()
            student_in.calls.clear()
            loss, _ = stepper.step(model, model, step)
            loss.backward()
            (x_t,) = [x for x, _ in teacher_in.calls]
            (joint, masks), (certainty, no_mask) = student_in.calls
            assert masks is not None and no_mask is None
            # Teacher, masked branch and unmasked certainty branch: one and the same view.
            assert torch.equal(joint[2:], x_t) and torch.equal(certainty, x_t)
            assert bool(masks[2:].any()) and not bool(masks[:2].any())
            # The source rows are the plain resize of the source images (augment is off).
            expected_source = to_tensor_batch(
                [plain.image(dataset[i].image) for i in source_indices], model_config)
            assert torch.equal(joint[:2], expected_source)
            # ... and the target rows are not: they are random views.
            eval_target = to_tensor_batch([plain.image(target[i]) for i in target_indices],
                                          model_config)
            assert not torch.equal(x_t, eval_target)
            for i, view in zip(target_indices, x_t, strict=True):
                seen.setdefault(i, []).append(view)
        stats = cache.stats()
    # Source: 4 misses in the first epoch, 4 hits in the second; only they are kept.
    assert (stats["misses"], stats["hits"], stats["entries"]) == (4, 4, 4)
    assert stats["masked_hits"] == stats["masked_misses"] == 0
    # Targets: the teacher's view (a miss) served f_phi's certainty forward (a hit): same
    # frozen encoder, same pixels. The masked rows are one-off misses.
    assert stats["transient_hits"] == 4 * 2
    assert stats["transient_misses"] == 4 * 2 * 2
    # An image drawn twice was a different view each time; nothing was memoised for it.
    repeated = [views for views in seen.values() if len(views) > 1]
    assert repeated and all(not torch.equal(v[0], v[1]) for v in repeated)
    assert stepper.teacher_memo.hits == 0 and not stepper.teacher_memo.entries
    assert stepper.bank is not None
    assert all(key.startswith("target-") for key, _ in stepper.bank.uses)
    assert len(stepper.bank.uses) <= 3 * 2  # 3 images x 2 masks, whatever the views
