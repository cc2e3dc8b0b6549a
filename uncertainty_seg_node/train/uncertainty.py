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

With `augment` x_t is an augmented view of each target image (zoom in, crop, flip and, with
`photometric`, appearance), and all three target forwards see that same tensor. With the view
bank (data/view_bank.py) the views repeat, and the loader names each one (`Batch.keys`); under
that name the teacher's logits (train/teacher_memo.py), the mask bank's masks of the view
(train/mask_bank.py) and the frozen encoder's features of the view and of its masked copies
(`lower`, `teacher_lower`: train/feature_cache.py, handed to the network as `lower_states`) are
each computed once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from uncertainty_seg_node.config import ModelConfig
from uncertainty_seg_node.data import (
    EvalTransform,
    InfiniteLoader,
    LabelledDataset,
    open_unlabelled,
    to_tensor_batch,
)
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.losses.consistency import uncertainty_loss
from uncertainty_seg_node.losses.supervised import supervised_loss
from uncertainty_seg_node.model.mask_token import set_mask_token
from uncertainty_seg_node.model.segmenter import Segmenter
from uncertainty_seg_node.train import common
from uncertainty_seg_node.train.config import TrainConfig
from uncertainty_seg_node.train.distributed import DistEnv, distributed_run
from uncertainty_seg_node.train.feature_cache import (
    FrozenLower,
    frozen_lower,
    training_feature_cache,
)
from uncertainty_seg_node.train.loop import StepOutput, TrainResult, autocast_for, run_training
from uncertainty_seg_node.train.mask_bank import MaskBank
from uncertainty_seg_node.train.teacher_memo import TeacherMemo


@dataclass
class UncertaintyStepper:
    """One Masked gamma-SSL step; keeps the EMA of gamma.

    `lower` and `teacher_lower`: f_phi's and f_theta's frozen encoder parts answered by the
    run's feature cache (None: no cache).
    """

    teacher: Segmenter
    labelled: InfiniteLoader
    unlabelled: InfiniteLoader
    config: TrainConfig
    env: DistEnv
    autocast: common.AutocastFactory
    lower: FrozenLower | None = None
    teacher_lower: FrozenLower | None = None
    gamma_ema: float | None = field(default=None, init=False)
    _ema_sum: float = field(default=0.0, init=False)  # decay-weighted sum (bias-corrected)
    _ema_steps: int = field(default=0, init=False)
    bank: MaskBank | None = field(init=False)
    teacher_memo: TeacherMemo = field(init=False)

    def __post_init__(self) -> None:
        config = self.config
        self.bank = (MaskBank(config.mask_bank_size, config.p_mask, config.seed)
                     if config.mask_bank_size > 0 else None)

        def teacher_forward(images: Tensor, keys: Sequence[str | None]) -> Tensor:
            with self.autocast():
                lower = self.teacher_lower
                states = lower(images, keys) if lower is not None else None
                return self.teacher(images, None, lower_states=states).float()

        # Without augmentation, or with the view bank, a target tensor comes back every epoch:
        # its s_theta too. A fresh random view is new every time, so nothing could be reused.
        self.teacher_memo = TeacherMemo(teacher_forward, enabled=config.inputs_repeat,
                                        memory_mb=config.cache_memory_mb)

    def _masks(
        self, raw_model: Segmenter, x_t: Tensor, keys: Sequence[str | None], step: int
    ) -> tuple[Tensor, list[str] | None]:
        """The step's patch masks of x_t and, for the bank's, their names."""
        gen = common.mask_generator(self.config.seed, self.env.rank, step)
        names = [key for key in keys if key is not None]
        if self.bank is None or len(names) < len(keys):  # no bank, or one-off views
            return raw_model.random_patch_mask(x_t, self.config.p_mask, generator=gen), None
        p = raw_model.config.patch_size
        length = (x_t.shape[-2] // p) * (x_t.shape[-1] // p)
        masks, mask_names = self.bank.draw(names, length, gen)
        return masks.to(x_t.device), mask_names

    def step(self, model: nn.Module, raw_model: Segmenter, step: int) -> StepOutput:
        cfg, device = self.config, self.env.device
        source = next(self.labelled)
        target = next(self.unlabelled)
        assert source.labels is not None
        x_s = source.images.to(device, non_blocking=True)
        y_s = source.labels.to(device, non_blocking=True)
        x_t = target.images.to(device, non_blocking=True)
        weight = cfg.lc_weight(step)
        if weight == 0.0:
            # Before the L_c warm-up ends (and for the w_c = 0 control) the step is supervised.
            loss_sup, metrics = common.supervised_step(model, x_s, y_s, self.autocast,
                                                       self.lower, source.keys)
            return loss_sup, {**metrics, "lc_weight": 0.0}
        return self._lc_step(model, raw_model, (x_s, y_s, source.keys), (x_t, target.keys),
                             step)

    def _lc_step(
        self, model: nn.Module, raw_model: Segmenter,
        source: tuple[Tensor, Tensor, list[str | None]], target: tuple[Tensor, list[str | None]],
        step: int,
    ) -> StepOutput:
        """Supervised + w_c * L_c; teacher, masked and unmasked branches all read the same x_t.

        Every cache is keyed by the loader's sample names (`keys_s`, `keys_t`).
        """
        cfg, device = self.config, self.env.device
        (x_s, y_s, keys_s), (x_t, keys_t) = source, target
        weight = cfg.lc_weight(step)
        s_theta = self.teacher_memo.logits(x_t, keys_t)
        mask_t, mask_names = self._masks(raw_model, x_t, keys_t, step)
        mask_s = torch.zeros(x_s.shape[0], mask_t.shape[1], dtype=torch.bool, device=device)
        with self.autocast():
            states = self._joint_states(x_s, keys_s, x_t, keys_t, mask_t, mask_names)
            logits = model(torch.cat([x_s, x_t]), torch.cat([mask_s, mask_t]),
                           lower_states=states)
        logits_s, s_phi_masked = logits[: x_s.shape[0]], logits[x_s.shape[0]:]
        s_phi = None
        if cfg.certainty_from == "unmasked":
            # The certainty mask is hard, so s_phi only selects pixels: no gradient, and eval
            # mode, so decoder dropout does not decide which pixels count as certain.
            s_phi = self._eval_forward(raw_model, x_t, None, keys_t)

        loss_sup = supervised_loss(logits_s, y_s)
        loss_c, stats = uncertainty_loss(
            s_theta, s_phi_masked, s_phi,
            sharpen_T=cfg.sharpen_T,
            consistency_temperature=cfg.consistency_temperature,
            certainty_from=cfg.certainty_from,  # type: ignore[arg-type]
            guard=cfg.lc_guard,  # type: ignore[arg-type]
        )
        loss = loss_sup + weight * loss_c
        metrics = {
            "loss": float(loss.detach()),
            "loss_sup": float(loss_sup.detach()),
            "loss_c": stats.loss,
            "lc_weight": weight,
            "consistency_rate": stats.consistency_rate,
            "gamma": stats.gamma,
            "certain_fraction": stats.certain_fraction,
            "masked_fraction": float(mask_t.float().mean()),
            "source_miou": common.source_miou(logits_s, y_s),
        }
        if self.bank is not None:
            metrics.update(self.bank.stats())
            if cfg.fresh_mask_every and step % cfg.fresh_mask_every == 0:
                metrics.update(self._fresh_check(raw_model, (x_t, keys_t), s_theta,
                                                 (mask_t, mask_names), step))
        return loss, metrics

    def _joint_states(
        self, x_s: Tensor, keys_s: Sequence[str | None], x_t: Tensor,
        keys_t: Sequence[str | None], mask_t: Tensor, mask_names: Sequence[str | None] | None,
    ) -> Tensor | None:
        """The frozen lower part of [x_s, m(x_t)] from the cache (None: the network runs it)."""
        if self.lower is None:
            return None
        target = self.lower(x_t, keys_t, mask_t, mask_names)
        if target is None:  # a learned mask token: its gradient flows through the network
            return None
        source = self.lower(x_s, keys_s)
        assert source is not None
        return torch.cat([source, target])

    def _eval_forward(
        self, raw_model: Segmenter, x: Tensor, mask: Tensor | None,
        keys: Sequence[str | None] | None = None, mask_names: Sequence[str | None] | None = None,
    ) -> Tensor:
        """f_phi(x, mask) without gradient in eval mode, the frozen part from the cache."""
        was_training = raw_model.training
        raw_model.eval()
        try:
            with torch.no_grad(), self.autocast():
                states = None
                if self.lower is not None and keys is not None:
                    states = self.lower(x, keys, mask, mask_names)
                return raw_model(x, mask, lower_states=states).float()
        finally:
            raw_model.train(was_training)

    def _fresh_check(
        self, raw_model: Segmenter, target: tuple[Tensor, list[str | None]], s_theta: Tensor,
        bank: tuple[Tensor, list[str] | None], step: int,
    ) -> dict[str, float]:
        """Consistency with f_theta on the bank's masks and on never-seen masks (eval mode).

        The never-seen masks have no names, so the cache computes their rows and keeps nothing.
        """
        (x_t, keys_t), (bank_mask, bank_names) = target, bank
        gen = common.mask_generator(self.config.seed + 7919, self.env.rank, step)
        fresh = raw_model.random_patch_mask(x_t, self.config.p_mask, generator=gen)
        teacher_labels = s_theta.argmax(dim=1)
        rates = {}
        bank_labels = self._eval_forward(raw_model, x_t, bank_mask, keys_t,
                                         bank_names).argmax(dim=1)
        rates["consistency_bank"] = float((bank_labels == teacher_labels).float().mean())
        fresh_labels = self._eval_forward(raw_model, x_t, fresh, keys_t).argmax(dim=1)
        rates["consistency_fresh"] = float((fresh_labels == teacher_labels).float().mean())
        return rates

    def after_step(self, metrics: dict[str, float]) -> dict[str, float]:
        if "gamma" not in metrics:
            return {}
        decay = self.config.gamma_ema_decay
        self._ema_sum = decay * self._ema_sum + (1.0 - decay) * metrics["gamma"]
        self._ema_steps += 1
        # Bias-corrected, so a short run gets the mean of its gammas, not its first one.
        self.gamma_ema = self._ema_sum / (1.0 - decay**self._ema_steps)
        return {"gamma_ema": self.gamma_ema}

    def finalize(self, model: Segmenter) -> dict[str, Any]:
        if self.gamma_ema is not None:
            model.config.default_gamma = float(min(max(self.gamma_ema, 0.0), 1.0))
        learned: dict[str, Any] = {"final_gamma_ema": self.gamma_ema,
                                   "certainty_from": self.config.certainty_from,
                                   "teacher_memo_hits": self.teacher_memo.hits}
        if self.bank is not None:
            learned["mask_bank"] = {"size": self.bank.size, **self.bank.stats()}
        return learned

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
    """f_theta from `--teacher` (a checkpoint or a delta file), frozen in eval mode.

    It must match the data's classes.
    """
    assert config.teacher is not None
    teacher = common.load_trained_model(config.teacher, config.backbone)
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
    teacher.encoder.set_split(teacher.encoder.num_layers)  # all frozen: all cacheable
    return teacher.to(env.device)


def train_uncertainty(config: TrainConfig) -> TrainResult:
    """Train f_phi as `config` says; write the checkpoint and logs; return the result."""
    config.validate()
    with distributed_run(config.device) as env:
        dataset = common.open_source_data(config)
        teacher = load_teacher(config, tuple(dataset.class_names), env)
        if config.size is None:
            config.size = tuple(teacher.config.input_size)  # type: ignore[assignment]
        assert config.unlabelled is not None
        target = open_unlabelled(config.unlabelled, topic=config.unlabelled_topic,
                                 start=config.unlabelled_start,
                                 stride=config.unlabelled_stride,
                                 max_frames=config.unlabelled_max_frames)
        if len(target) == 0:
            raise UserError(f"no unlabelled images in {config.unlabelled}")
        model_config = common.student_config(config, dataset)
        model = common.build_student(model_config, config)
        if config.init_from_teacher:
            if teacher.config.arch != model_config.arch:
                raise UserError(
                    f"init_from_teacher needs the teacher's architecture ({teacher.config.arch}); "
                    f"got --model {model_config.arch}"
                )
            model.encoder.load_state_dict(teacher.encoder.state_dict())
        if config.init_decoder_from_teacher:
            model.decoder.load_state_dict(teacher.decoder.state_dict())
        transform = common.sample_transform(model_config, config)
        common.set_trainable_encoder(model, config)
        # After the freezing: the token's own requires_grad follows its mode (learned trains).
        token_mode = set_mask_token(model, config.mask_token,
                                    _mean_token_batches(dataset, model_config))
        unlabelled = InfiniteLoader(target, config.target_batch_size, transform, model_config,
                                    seed=config.seed + 1, rank=env.rank, world_size=env.world,
                                    views=common.view_bank(config, stream=1))
        labelled = common.labelled_loader(dataset, model_config, config, env)
        extra = {
            "labelled_images": len(dataset),
            "unlabelled_images": len(target),
            "teacher_provenance": teacher.config.provenance,
            "frozen_encoder": config.freeze_encoder,
            "init_from_teacher": config.init_from_teacher,
            "init_decoder_from_teacher": config.init_decoder_from_teacher,
            "train_blocks": config.train_blocks,
            "mask_token": token_mode,
            "augment": config.augment,
            "photometric": config.photometric,
            "view_bank_size": config.view_bank_size,
        }
        with training_feature_cache(config.uses_feature_cache, config.feature_cache_file, model,
                                    teacher, save=env.is_main,
                                    quiet=config.quiet or not env.is_main,
                                    cache_masked=config.mask_bank_size > 0,
                                    memory_mb=config.cache_memory_mb) as cache:
            stepper = UncertaintyStepper(teacher, labelled, unlabelled, config, env,
                                         autocast_for(env, config), frozen_lower(model, cache),
                                         frozen_lower(teacher, cache))
            return run_training(model, stepper, config, env, extra)


def _mean_token_batches(
    dataset: LabelledDataset, model_config: ModelConfig, limit: int = 64
) -> Iterator[Tensor]:
    """Normalised source images (the first `limit`, in order) for the mean mask token."""
    transform = EvalTransform(model_config)
    count = min(limit, len(dataset))
    for start in range(0, count, 8):
        images = [transform.image(dataset[i].image) for i in range(start, min(start + 8, count))]
        yield to_tensor_batch(images, model_config)
