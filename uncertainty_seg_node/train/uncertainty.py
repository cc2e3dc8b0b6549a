"""Step 3, uncertainty training: f_phi = supervised source loss + w_c * L_c on target images.

f_theta (the `--teacher`) is frozen in eval mode. f_phi has the same classes and input size; its
encoder starts from `--init` (or random with the run's seed, or f_theta's encoder with
`init_from_teacher`), its decoder is random. Each step:

    source batch (x_s, y_s), target batch x_t, patch mask M ~ Bernoulli(p_mask) per patch
    s_theta = f_theta(x_t)                          no grad
    [logits_s, s_phi^m] = f_phi([x_s, x_t], [no mask, M])   one forward, so DDP sees one graph
    s_phi = f_phi(x_t)                              no grad (certainty_from = unmasked)
    loss = CE(logits_s, y_s) + w_c * L_c(s_theta, s_phi^m, s_phi)

The per-batch gamma goes into an EMA that becomes the checkpoint's `default_gamma`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from uncertainty_seg_node.data import InfiniteLoader, open_unlabelled
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.losses.consistency import uncertainty_loss
from uncertainty_seg_node.losses.supervised import supervised_loss
from uncertainty_seg_node.model.checkpoint import load_checkpoint
from uncertainty_seg_node.model.segmenter import Segmenter
from uncertainty_seg_node.train.common import (
    build_student,
    freeze_encoder,
    labelled_loader,
    mask_generator,
    open_source_data,
    sample_transform,
    source_miou,
    student_config,
)
from uncertainty_seg_node.train.config import TrainConfig
from uncertainty_seg_node.train.distributed import DistEnv, init_distributed, shutdown_distributed
from uncertainty_seg_node.train.feature_cache import training_feature_cache
from uncertainty_seg_node.train.loop import (
    AutocastFactory,
    StepOutput,
    TrainResult,
    autocast_for,
    run_training,
)


class UncertaintyStepper:
    """One Masked gamma-SSL step; keeps the EMA of gamma."""

    def __init__(
        self, teacher: Segmenter, labelled: InfiniteLoader, unlabelled: InfiniteLoader,
        config: TrainConfig, env: DistEnv,
        autocast: AutocastFactory,
    ) -> None:
        self.teacher = teacher
        self.labelled = labelled
        self.unlabelled = unlabelled
        self.config = config
        self.env = env
        self.autocast = autocast
        self.gamma_ema: float | None = None
        self._ema_sum = 0.0  # decay-weighted sum of gammas (Adam-style bias correction)
        self._ema_steps = 0

    def step(self, model: nn.Module, raw_model: Segmenter, step: int) -> StepOutput:
        cfg, device = self.config, self.env.device
        source = next(self.labelled)
        target = next(self.unlabelled)
        assert source.labels is not None
        x_s = source.images.to(device, non_blocking=True)
        y_s = source.labels.to(device, non_blocking=True)
        x_t = target.images.to(device, non_blocking=True)

        with torch.no_grad(), self.autocast():
            s_theta = self.teacher(x_t)
        gen = mask_generator(cfg.seed, self.env.rank, step)
        mask_t = raw_model.random_patch_mask(x_t, cfg.p_mask, generator=gen)
        mask_s = torch.zeros(x_s.shape[0], mask_t.shape[1], dtype=torch.bool, device=device)
        with self.autocast():
            logits = model(torch.cat([x_s, x_t]), torch.cat([mask_s, mask_t]))
        logits_s, s_phi_masked = logits[: x_s.shape[0]], logits[x_s.shape[0]:]
        s_phi = None
        if cfg.certainty_from == "unmasked":
            # No gradient: the certainty mask is hard, so s_phi only selects pixels.
            with torch.no_grad(), self.autocast():
                s_phi = raw_model(x_t)

        loss_sup = supervised_loss(logits_s, y_s)
        loss_c, stats = uncertainty_loss(
            s_theta, s_phi_masked, s_phi,
            sharpen_T=cfg.sharpen_T,
            consistency_temperature=cfg.consistency_temperature,
            certainty_from=cfg.certainty_from,  # type: ignore[arg-type]
        )
        loss = loss_sup + cfg.loss_weight * loss_c
        metrics = {
            "loss": float(loss.detach()),
            "loss_sup": float(loss_sup.detach()),
            "loss_c": stats.loss,
            "consistency_rate": stats.consistency_rate,
            "gamma": stats.gamma,
            "certain_fraction": stats.certain_fraction,
            "masked_fraction": float(mask_t.float().mean()),
            "source_miou": source_miou(logits_s, y_s),
        }
        return loss, metrics

    def after_step(self, metrics: dict[str, float]) -> dict[str, float]:
        decay = self.config.gamma_ema_decay
        self._ema_sum = decay * self._ema_sum + (1.0 - decay) * metrics["gamma"]
        self._ema_steps += 1
        # Bias-corrected, so a short run gets the mean of its gammas, not its first one.
        self.gamma_ema = self._ema_sum / (1.0 - decay**self._ema_steps)
        return {"gamma_ema": self.gamma_ema}

    def finalize(self, model: Segmenter) -> dict[str, Any]:
        if self.gamma_ema is not None:
            model.config.default_gamma = float(min(max(self.gamma_ema, 0.0), 1.0))
        return {"final_gamma_ema": self.gamma_ema, "certainty_from": self.config.certainty_from}

    def state_dict(self) -> dict[str, Any]:
        return {
            "labelled": self.labelled.state_dict(),
            "unlabelled": self.unlabelled.state_dict(),
            "gamma_ema": self.gamma_ema,
            "ema_sum": self._ema_sum,
            "ema_steps": self._ema_steps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "labelled" in state:
            self.labelled.load_state_dict(state["labelled"])
        if "unlabelled" in state:
            self.unlabelled.load_state_dict(state["unlabelled"])
        self.gamma_ema = state.get("gamma_ema")
        self._ema_sum = float(state.get("ema_sum", 0.0))
        self._ema_steps = int(state.get("ema_steps", 0))


def load_teacher(config: TrainConfig, class_names: tuple[str, ...], env: DistEnv) -> Segmenter:
    """f_theta from `--teacher`, frozen in eval mode; it must match the data's classes."""
    assert config.teacher is not None
    teacher = load_checkpoint(config.teacher).model
    if tuple(teacher.config.class_names) != tuple(class_names):
        raise UserError(
            f"teacher {config.teacher} predicts {len(teacher.config.class_names)} classes "
            f"({', '.join(teacher.config.class_names[:4])}, ...) but {config.data} has "
            f"{len(class_names)} ({', '.join(class_names[:4])}, ...); train the teacher on the "
            "same labelled data / --classes"
        )
    if config.size is not None and tuple(config.size) != tuple(teacher.config.input_size):
        h, w = teacher.config.input_size
        raise UserError(
            f"--size {config.size[0]}x{config.size[1]} differs from the teacher's input size "
            f"{h}x{w}; use --size {h}x{w} (L_c compares the two networks pixel by pixel)"
        )
    teacher.eval().requires_grad_(False)
    return teacher.to(env.device)


def train_uncertainty(config: TrainConfig) -> TrainResult:
    """Train f_phi as `config` says; write the checkpoint and logs; return the result."""
    config.validate()
    env = init_distributed(config.device)
    try:
        dataset = open_source_data(config)
        teacher = load_teacher(config, tuple(dataset.class_names), env)
        if config.size is None:
            config.size = tuple(teacher.config.input_size)  # type: ignore[assignment]
        assert config.unlabelled is not None
        target = open_unlabelled(config.unlabelled, topic=config.unlabelled_topic)
        if len(target) == 0:
            raise UserError(f"no unlabelled images in {config.unlabelled}")
        model_config = student_config(config, dataset)
        model = build_student(model_config, config)
        if config.init_from_teacher:
            if teacher.config.arch != model_config.arch:
                raise UserError(
                    f"init_from_teacher needs the teacher's architecture ({teacher.config.arch}); "
                    f"got --model {model_config.arch}"
                )
            model.encoder.load_state_dict(teacher.encoder.state_dict())
        if config.freeze_encoder:
            freeze_encoder(model)
        transform = sample_transform(model_config, config)
        unlabelled = InfiniteLoader(target, config.target_batch_size, transform, model_config,
                                    seed=config.seed + 1, rank=env.rank, world_size=env.world)
        stepper = UncertaintyStepper(
            teacher, labelled_loader(dataset, model_config, config, env), unlabelled, config, env,
            autocast_for(env, config),
        )
        extra = {
            "labelled_images": len(dataset),
            "unlabelled_images": len(target),
            "teacher_provenance": teacher.config.provenance,
            "frozen_encoder": config.freeze_encoder,
            "init_from_teacher": config.init_from_teacher,
        }
        with training_feature_cache(config.caches_features, config.feature_cache_file, model,
                                    teacher, save=env.is_main,
                                    quiet=config.quiet or not env.is_main):
            return run_training(model, stepper, config, env, extra)
    finally:
        shutdown_distributed(env)
