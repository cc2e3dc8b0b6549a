"""Step 2, task learning: f_theta trained with labels on the source domain.

Also the supervised baselines: MaxS (this model as it is), E* (`freeze_encoder`), MC dropout
(`dropout > 0`) and ensembles (several `seed`s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from uncertainty_seg_node.data import InfiniteLoader
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


@dataclass
class SupervisedStepper:
    """One step of cross-entropy on a labelled source batch.

    `lower`: the encoder's frozen part answered by the feature cache (None: no cache).
    """

    loader: InfiniteLoader
    env: DistEnv
    autocast: common.AutocastFactory
    lower: FrozenLower | None = None

    def step(self, model: nn.Module, raw_model: Segmenter, step: int) -> StepOutput:
        batch = next(self.loader)
        assert batch.labels is not None
        images = batch.images.to(self.env.device, non_blocking=True)
        labels = batch.labels.to(self.env.device, non_blocking=True)
        return common.supervised_step(model, images, labels, self.autocast, self.lower,
                                      batch.keys)

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
    with distributed_run(config.device) as env:
        dataset = common.open_source_data(config)
        model_config = common.student_config(config, dataset)
        model = common.build_student(model_config, config)
        # f_theta never sees a masked image: keep the mask token as initialised and out of the
        # optimiser (DDP would also stall on a parameter that gets no gradient).
        for name, param in model.encoder.vit.embeddings.named_parameters():
            if name == "mask_token":
                param.requires_grad_(False)
        common.set_trainable_encoder(model, config)
        loader = common.labelled_loader(dataset, model_config, config, env)
        extra = {"labelled_images": len(dataset), "frozen_encoder": config.freeze_encoder,
                 "train_blocks": config.train_blocks, "augment": config.augment,
                 "photometric": config.photometric, "view_bank_size": config.view_bank_size}
        with training_feature_cache(config.uses_feature_cache, config.feature_cache_file, model,
                                    save=env.is_main, quiet=config.quiet or not env.is_main,
                                    memory_mb=config.cache_memory_mb) as cache:
            stepper = SupervisedStepper(loader, env, autocast_for(env, config),
                                        frozen_lower(model, cache))
            return run_training(model, stepper, config, env, extra)
