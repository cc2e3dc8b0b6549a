"""Set-up shared by both training stages: labelled data, the student network, its init."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from uncertainty_seg_node.config import ModelConfig, model_config_for
from uncertainty_seg_node.data import (
    EvalTransform,
    InfiniteLoader,
    LabelledDataset,
    TrainTransform,
    open_labelled,
)
from uncertainty_seg_node.data.photometric import PhotometricStrength
from uncertainty_seg_node.data.view_bank import ViewBank
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.losses.supervised import (
    batch_confusion,
    miou_from_confusion,
    supervised_loss,
)
from uncertainty_seg_node.model.segmenter import Segmenter
from uncertainty_seg_node.train.config import TrainConfig
from uncertainty_seg_node.train.distributed import DistEnv
from uncertainty_seg_node.train.feature_cache import FrozenLower

# A fresh autocast context per forward (a no-op context in fp32).
AutocastFactory = Callable[[], contextlib.AbstractContextManager[Any]]

DEFAULT_SIZE = (224, 448)



def open_source_data(config: TrainConfig) -> LabelledDataset:
    """The labelled source-domain dataset (a UserError when missing or empty)."""
    dataset = open_labelled(config.data, classes_yaml=config.classes, split=config.split)
    if len(dataset) == 0:
        raise UserError(f"dataset {config.data} is empty; it needs at least one labelled image")
    return dataset


def student_config(config: TrainConfig, dataset: LabelledDataset) -> ModelConfig:
    """The ModelConfig of the network to train: size, classes and palette from the data."""
    return model_config_for(
        config.model,
        input_size=tuple(config.size or DEFAULT_SIZE),
        class_names=tuple(dataset.class_names),
        palette=tuple(tuple(int(c) for c in color) for color in dataset.palette),
        dropout=float(config.dropout),
    )


def build_student(model_config: ModelConfig, config: TrainConfig) -> Segmenter:
    """A fresh network, seeded by the run's seed, its encoder loaded from `--init` if given.

    `--init` is pretrained encoder weights (model/weights.py) or a trained model's delta file,
    whose encoder (its backbone with the delta's changes, mask token included) is taken.
    """
    torch.manual_seed(config.seed)
    model = Segmenter(model_config)
    if config.init:
        from uncertainty_seg_node.export.delta_header import holds_delta
        from uncertainty_seg_node.model.weights import load_encoder_weights

        if holds_delta(config.init):
            _load_encoder_from_delta(model, config.init, config.backbone)
        else:
            load_encoder_weights(model, config.init)
    return model


def load_trained_model(path: str, backbone: str | None = None) -> Segmenter:
    """A trained model file as a Segmenter: a checkpoint, or a delta file over its backbone.

    `backbone`: the backbone file of a delta file (None: the installed one it names).
    """
    from uncertainty_seg_node.export.delta_header import is_delta_file

    if is_delta_file(path):
        from uncertainty_seg_node.export.assemble import build_segmenter_from_delta

        return build_segmenter_from_delta(path, backbone)
    from uncertainty_seg_node.model.checkpoint import load_checkpoint

    return load_checkpoint(path).model


def _load_encoder_from_delta(model: Segmenter, path: str, backbone: str | None) -> None:
    from uncertainty_seg_node.model.weights import load_hf_state_dict

    source = load_trained_model(path, backbone)
    state = source.encoder.vit.state_dict()
    report = load_hf_state_dict(model, state, what=f"the encoder of {Path(path).name}")
    model.config.provenance["encoder_init"] = {
        "format": "delta", "source": str(path), "loaded": report["loaded"],
        "missing": report["missing"],
    }


def freeze_encoder(model: Segmenter) -> None:
    """E*: the encoder (mask token included) keeps its weights; only the decoder trains."""
    for param in model.encoder.parameters():
        param.requires_grad_(False)


def set_trainable_encoder(model: Segmenter, config: TrainConfig) -> None:
    """Which encoder weights train: all, none (E*), or the top `train_blocks` blocks.

    With `train_blocks` N the patch embedding and the blocks below the top N keep their weights
    (the feature cache then keeps their output); the top N blocks and the final LayerNorm train.
    The mask token is left as it is (the caller decides whether it trains). The encoder is
    split after its frozen blocks (model/encoder.py), the part a feature cache can keep.
    """
    if config.freeze_encoder or config.train_blocks == 0:
        freeze_encoder(model)
    elif config.train_blocks is not None:
        _train_top_blocks(model, config.train_blocks)
    model.encoder.set_split(max(model.encoder.frozen_prefix(), 0))


def _train_top_blocks(model: Segmenter, blocks: int) -> None:
    layers = model.encoder.vit.encoder.layer
    if blocks > len(layers):
        raise UserError(f"--train-blocks {blocks} exceeds the encoder's {len(layers)} blocks")
    token = model.encoder.mask_token
    keep = token.requires_grad
    for param in model.encoder.vit.embeddings.parameters():
        param.requires_grad_(False)
    token.requires_grad_(keep)
    for layer in layers[: len(layers) - blocks]:
        for param in layer.parameters():
            param.requires_grad_(False)


def labelled_loader(
    dataset: LabelledDataset, model_config: ModelConfig, config: TrainConfig, env: DistEnv
) -> InfiniteLoader:
    """Endless seeded batches of the source data for this rank."""
    return InfiniteLoader(dataset, config.batch_size, sample_transform(model_config, config),
                          model_config, seed=config.seed, rank=env.rank, world_size=env.world,
                          views=view_bank(config, stream=0))


def sample_transform(model_config: ModelConfig, config: TrainConfig) -> Any:
    """Random zoom/crop/flip (and appearance) when `config.augment`, else the plain resize.

    The same transform serves the unlabelled target images, which it only zooms into.
    """
    if not config.augment:
        return EvalTransform(model_config)
    return TrainTransform(model_config,
                          photometric=PhotometricStrength() if config.photometric else None)


def view_bank(config: TrainConfig, *, stream: int) -> ViewBank | None:
    """The view bank of one data set (0: source, 1: targets); None: fresh views / no augment."""
    if not config.augment or config.view_bank_size == 0:
        return None
    return ViewBank(config.view_bank_size, config.view_bank_seed, stream)


def mask_generator(seed: int, rank: int, step: int) -> torch.Generator:
    """The patch-mask generator of one step: a pure function of (seed, rank, step)."""
    state = np.random.SeedSequence([seed, rank, step, 0x6D61736B]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


def supervised_step(
    model: nn.Module, images: Tensor, labels: Tensor, autocast: AutocastFactory,
    lower: FrozenLower | None = None, keys: Sequence[str | None] = (),
) -> tuple[Tensor, dict[str, float]]:
    """Cross-entropy on one labelled batch (already on the device): the loss and its metrics.

    `lower`: the encoder's frozen part from the feature cache, for the samples named `keys`.
    """
    with autocast():
        states = lower(images, keys) if lower is not None else None
        logits = model(images, None, lower_states=states)
    loss = supervised_loss(logits, labels)
    value = float(loss.detach())
    return loss, {"loss": value, "loss_sup": value, "source_miou": source_miou(logits, labels)}


def source_miou(logits: Tensor, labels: Tensor) -> float:
    """The mIoU of one training batch (classes present in labels or predictions)."""
    return miou_from_confusion(batch_confusion(logits, labels, logits.shape[1]))
