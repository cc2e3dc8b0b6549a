"""Step 2, task learning: f_theta trained with labels on the source domain.

Also the supervised baselines: MaxS (this model as it is), E* (`freeze_encoder`), MC dropout
(`dropout > 0`) and ensembles (several `seed`s).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from uncertainty_seg_node.data import InfiniteLoader
from uncertainty_seg_node.losses.supervised import supervised_loss
from uncertainty_seg_node.model.segmenter import Segmenter
from uncertainty_seg_node.train.common import (
    build_student,
    labelled_loader,
    open_source_data,
    set_trainable_encoder,
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


class SupervisedStepper:
    """One step of cross-entropy on a labelled source batch."""

    def __init__(
        self, loader: InfiniteLoader, env: DistEnv, autocast: AutocastFactory
    ) -> None:
        self.loader = loader
        self.env = env
        self.autocast = autocast

    def step(self, model: nn.Module, raw_model: Segmenter, step: int) -> StepOutput:
        batch = next(self.loader)
        assert batch.labels is not None
        images = batch.images.to(self.env.device, non_blocking=True)
        labels = batch.labels.to(self.env.device, non_blocking=True)
        with self.autocast():
            logits = model(images)
        loss = supervised_loss(logits, labels)
        value = float(loss.detach())
        return loss, {"loss": value, "loss_sup": value, "source_miou": source_miou(logits, labels)}

    def after_step(self, metrics: dict[str, float]) -> dict[str, float]:
        return {}

    def finalize(self, model: Segmenter) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"labelled": self.loader.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "labelled" in state:
            self.loader.load_state_dict(state["labelled"])


def train_task(config: TrainConfig) -> TrainResult:
    """Train f_theta as `config` says; write the checkpoint and logs; return the result."""
    config.validate()
    env = init_distributed(config.device)
    try:
        dataset = open_source_data(config)
        model_config = student_config(config, dataset)
        model = build_student(model_config, config)
        # f_theta never sees a masked image: keep the mask token as initialised and out of the
        # optimiser (DDP would also stall on a parameter that gets no gradient).
        for name, param in model.encoder.vit.embeddings.named_parameters():
            if name == "mask_token":
                param.requires_grad_(False)
        set_trainable_encoder(model, config)
        loader = labelled_loader(dataset, model_config, config, env)
        stepper = SupervisedStepper(loader, env, autocast_for(env, config))
        extra = {"labelled_images": len(dataset), "frozen_encoder": config.freeze_encoder,
                 "train_blocks": config.train_blocks}
        with training_feature_cache(config.caches_features, config.feature_cache_file, model,
                                    save=env.is_main, quiet=config.quiet or not env.is_main):
            return run_training(model, stepper, config, env, extra)
    finally:
        shutdown_distributed(env)
