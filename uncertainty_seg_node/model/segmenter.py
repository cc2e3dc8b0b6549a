"""f = D o E, the network both f_theta and f_phi are instances of."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from uncertainty_seg_node.config import ModelConfig
from uncertainty_seg_node.model.decoder import DenseDecoder
from uncertainty_seg_node.model.encoder import Encoder


class Segmenter(nn.Module):
    """Normalised images (B, 3, H, W) -> class logits (B, K, H, W)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = DenseDecoder(
            self.encoder.out_channels, config.decoder_channels, config.num_classes, config.dropout
        )

    def forward(self, pixel_values: Tensor, patch_mask: Tensor | None = None,
                lower_states: Tensor | None = None) -> Tensor:
        """`lower_states`: the encoder's frozen lower part, already computed (model/encoder.py)."""
        features = self.encoder(pixel_values, patch_mask, lower_states)
        image = pixel_values
        if patch_mask is not None:
            image = pixel_values * (1.0 - self.pixel_mask(patch_mask, pixel_values))
        return self.decoder(features, image)

    def pixel_mask(self, patch_mask: Tensor, pixel_values: Tensor) -> Tensor:
        """(B, h*w) patch mask -> (B, 1, H, W) float pixel mask."""
        batch, _, height, width = pixel_values.shape
        p = self.config.patch_size
        grid = patch_mask.reshape(batch, 1, height // p, width // p).to(pixel_values.dtype)
        return grid.repeat_interleave(p, dim=2).repeat_interleave(p, dim=3)

    def random_patch_mask(
        self, pixel_values: Tensor, p_mask: float, generator: torch.Generator | None = None
    ) -> Tensor:
        """M ~ Bernoulli(p_mask) per patch, independently (the paper's Eq. 4)."""
        batch, _, height, width = pixel_values.shape
        p = self.config.patch_size
        shape = (batch, (height // p) * (width // p))
        device = "cpu" if generator is not None else pixel_values.device
        draws = torch.rand(shape, generator=generator, device=device)
        return (draws < p_mask).to(pixel_values.device)


def build_segmenter(config: ModelConfig) -> Segmenter:
    """A randomly initialised Segmenter (load encoder weights with model.weights)."""
    return Segmenter(config)
