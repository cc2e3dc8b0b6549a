"""The view bank: K fixed augmented views per image, labels warped with them, one view feeding the
teacher and both branches of a step, and every view's frozen features computed once."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _train_fixtures import write_labelled, write_unlabelled

from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.data import EvalTransform, InfiniteLoader, open_labelled, open_unlabelled
from uncertainty_seg_node.data.transforms import TrainTransform, to_tensor_batch
from uncertainty_seg_node.data.view_bank import ViewBank
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model.mask_token import set_mask_token
from uncertainty_seg_node.train import TrainConfig, common, train_task, train_uncertainty
from uncertainty_seg_node.train.distributed import DistEnv
from uncertainty_seg_node.train.feature_cache import (
    FeatureCache,
    frozen_lower,
    training_feature_cache,
)
from uncertainty_seg_node.train.uncertainty import UncertaintyStepper, load_teacher

SIZE = (56, 112)
K = 2
LC_KEYS = ("loss", "loss_sup", "loss_c", "gamma", "consistency_rate")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("view_bank")
    source = write_labelled(root / "src", 4)
    target = write_unlabelled(root / "tgt", 3)
    teacher = root / "theta.pt"
    train_task(TrainConfig(data=str(source), out=str(teacher), size=SIZE, steps=2, batch_size=2,
                           lr=1e-3, warmup_steps=1, freeze_encoder=True, augment=True,
                           photometric=True, view_bank_size=K, cache_features=True,
                           quiet=True))
    return {"source": source, "target": target, "teacher": teacher, "root": root}


def _config(world: dict[str, Path], out: str, **overrides: Any) -> TrainConfig:
    values: dict[str, Any] = {
        "mode": "uncertainty", "data": str(world["source"]),
        "unlabelled": str(world["target"]), "teacher": str(world["teacher"]),
        "out": str(world["root"] / out), "steps": 4, "batch_size": 2,
        "unlabelled_batch_size": 2, "lr": 1e-3, "warmup_steps": 1, "augment": True,
        "photometric": True, "view_bank_size": K, "freeze_encoder": True,
        "mask_bank_size": 1, "mask_token": "mean", "fresh_mask_every": 2, "quiet": True,
    }
    values.update(overrides)
    return TrainConfig(**values)


def test_a_view_is_a_pure_function_of_seed_stream_image_and_view() -> None:
    config = model_config_for("tiny", input_size=SIZE)
    transform = common.sample_transform(config, TrainConfig(augment=True, photometric=True))
    assert isinstance(transform, TrainTransform) and transform.photometric is not None
    image = np.random.default_rng(0).integers(0, 256, (60, 120, 3), dtype=np.uint8)
    bank = ViewBank(4, seed=3)

    def view(b: ViewBank, index: int, k: int) -> np.ndarray:
        return transform.image(image, b.generator(index, k))

    assert np.array_equal(view(bank, 1, 2), view(bank, 1, 2))
    others = [view(bank, 1, 3), view(bank, 2, 2), view(ViewBank(4, seed=4), 1, 2),
              view(ViewBank(4, seed=3, stream=1), 1, 2)]
    assert all(not np.array_equal(view(bank, 1, 2), other) for other in others)
    assert list(bank.all_views(2)) == [(i, k) for i in range(2) for k in range(4)]
    with pytest.raises(ValueError, match="outside"):
        bank.generator(0, 4)
    with pytest.raises(ValueError, match="at least one"):
        ViewBank(0)


def test_the_loader_draws_only_bank_views_with_their_labels(world: dict[str, Path]) -> None:
    config = model_config_for("tiny", input_size=SIZE)
    dataset = open_labelled(str(world["source"]))
    transform = TrainTransform(config)
    bank = ViewBank(K, seed=0)
    loader = InfiniteLoader(dataset, 2, transform, config, seed=5, rank=0, world_size=1,
                            views=bank)
    expected = {(i, k): transform(dataset[i], bank.generator(i, k))
                for i, k in bank.all_views(len(dataset))}
    drawn: set[tuple[int, int]] = set()
    for _ in range(12):
        batch = next(loader)
        assert batch.labels is not None
        for row, (i, k) in enumerate(zip(batch.indices, batch.views, strict=True)):
            image, labels = expected[(i, k)]
            # The image of view k and its labels, warped with the same geometry.
            assert torch.equal(batch.images[row], to_tensor_batch([image], config)[0])
            assert torch.equal(batch.labels[row], torch.from_numpy(labels.astype(np.int64)))
            drawn.add((i, k))
    assert len(drawn) == len(dataset) * K  # 24 draws reached all 8 views
    plain = InfiniteLoader(dataset, 2, transform, config, seed=5, rank=0, world_size=1)
    assert next(plain).views == [-1, -1]


class _Inputs:
    """Records the tensors a module is called with (the real forward still runs)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.calls: list[tuple[torch.Tensor, torch.Tensor | None]] = []
        module.register_forward_pre_hook(self._record)

    def _record(self, _module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        mask = args[1] if len(args) > 1 else None
        self.calls.append((args[0].detach().clone(), mask))


def test_one_view_feeds_teacher_and_both_branches_and_is_computed_once(
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
    unlabelled = InfiniteLoader(target, 2, common.sample_transform(model_config, config),
                                model_config, seed=1, rank=0, world_size=1,
                                views=common.view_bank(config, stream=1))
    labelled = common.labelled_loader(dataset, model_config, config, env)
    teacher_in, student_in = _Inputs(teacher), _Inputs(model)
    plain = EvalTransform(model_config)
    steps = 12
    with training_feature_cache(True, None, model, teacher, save=False, quiet=True,
                                cache_masked=True) as cache:
        assert cache is not None
        stepper = UncertaintyStepper(teacher, labelled, unlabelled, config, env,
                                     contextlib.nullcontext, frozen_lower(model, cache),
                                     frozen_lower(teacher, cache))
        for step in range(steps):
            teacher_in.calls.clear()
            student_in.calls.clear()
            loss, _ = stepper.step(model, model, step)
            loss.backward()
            joint, masks = student_in.calls[0]
            assert masks is not None and bool(masks[2:].any()) and not bool(masks[:2].any())
            x_t = joint[2:]
            # Teacher (when not memoised), masked and unmasked certainty branch: one view.
            assert torch.equal(student_in.calls[1][0], x_t) and student_in.calls[1][1] is None
            for x, _ in teacher_in.calls:
                assert all(any(torch.equal(r, row) for row in x_t) for r in x)
            eval_target = to_tensor_batch([plain.image(image) for image in target][:2],
                                          model_config)
            assert not torch.equal(x_t, eval_target)
        stats = cache.stats()
    # 4 source and 3 target images, K views each: at most that many distinct unmasked inputs,
    # and one mask per view (mask_bank_size 1) at most as many masked ones. 12 steps of 2 + 2
    # draws: the rest were hits.
    assert stats["misses"] <= (4 + 3) * K and stats["masked_misses"] <= 3 * K
    teacher_rows = len(stepper.teacher_memo.entries)  # the teacher ran once per new view
    assert 0 < teacher_rows <= 3 * K
    # (A view drawn twice into one batch is looked up once.)
    lookups = stats["hits"] + stats["misses"]
    assert steps * 4 + teacher_rows - 4 <= lookups <= steps * 4 + teacher_rows
    assert stats["hits"] >= lookups - (4 + 3) * K
    assert steps * 2 - 4 <= stats["masked_hits"] + stats["masked_misses"] <= steps * 2
    assert stats["masked_hits"] >= steps * 2 - 4 - 3 * K
    assert stepper.teacher_memo.enabled and stepper.teacher_memo.hits >= steps * 2 - 3 * K - 2
    assert stepper.bank is not None and len(stepper.bank.uses) <= 3 * K


def test_same_seed_same_run_and_the_bank_file_serves_another_seed(
    world: dict[str, Path]
) -> None:
    files = [world["root"] / f"features_{name}.pt" for name in ("a", "b")]
    first = train_uncertainty(_config(world, "phi_a.pt", feature_cache_file=str(files[0])))
    again = train_uncertainty(_config(world, "phi_b.pt", feature_cache_file=str(files[1])))
    for row_a, row_b in zip(first.history, again.history, strict=True):
        for key in LC_KEYS:
            assert row_a[key] == row_b[key], key  # bit-identical, not just close
    saved = FeatureCache(files[0])
    unmasked = [key for key in saved.entries if len(key) == 2]
    assert 0 < len(unmasked) <= (4 + 3) * K
    # Another run seed draws other views in another order from the same bank and trains
    # differently; the file only grows by the views the first run had not drawn.
    other = FeatureCache(files[0])
    cfg = _config(world, "phi_c.pt", feature_cache_file=str(files[0]), seed=1, steps=8)
    run = train_uncertainty(cfg)
    assert [r["loss_c"] for r in run.history[:4]] != [r["loss_c"] for r in first.history]
    assert len(FeatureCache(files[0])) >= len(other)


def test_the_options_are_checked() -> None:
    with pytest.raises(UserError, match="view bank"):
        TrainConfig(data="d", out="o", augment=True, cache_features=True,
                    freeze_encoder=True).validate()
    with pytest.raises(UserError, match="view_bank_size"):
        TrainConfig(data="d", out="o", view_bank_size=-1).validate()
    TrainConfig(data="d", out="o", augment=True, view_bank_size=4, cache_features=True,
                freeze_encoder=True).validate()
