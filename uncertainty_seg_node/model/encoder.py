"""E: a DINOv2-architecture ViT (Hugging Face `Dinov2Model`) with patch-token masking.

`bool_masked_pos` replaces masked patch tokens by the learned mask token right after the patch
embedding, which is exactly the paper's masking policy m(I) = M . [E]_{0:1}(I).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from transformers import Dinov2Config, Dinov2Model

from uncertainty_seg_node.config import ModelConfig


def dinov2_config(config: ModelConfig) -> Dinov2Config:
    """The Hugging Face config of the encoder described by `config`."""
    return Dinov2Config(
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        mlp_ratio=4,
        patch_size=config.patch_size,
        image_size=config.num_pos_patches * config.patch_size,
        layerscale_value=1.0,
        layer_norm_eps=1e-6,
        hidden_act="gelu",
    )


class Encoder(nn.Module):
    """ViT encoder returning the patch tokens of its last `num_outputs` blocks as feature maps."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.patch_size = config.patch_size
        self.num_outputs = min(config.decoder_layers, config.num_layers)
        self.vit = Dinov2Model(dinov2_config(config))

    @property
    def out_channels(self) -> int:
        return int(self.vit.config.hidden_size) * self.num_outputs

    def forward(self, pixel_values: Tensor, patch_mask: Tensor | None = None) -> Tensor:
        """(B, 3, H, W) -> (B, C * num_outputs, H / 14, W / 14).

        `patch_mask` is (B, H/14 * W/14) bool, True where a patch token is masked.
        """
        batch, _, height, width = pixel_values.shape
        grid_h, grid_w = height // self.patch_size, width // self.patch_size
        out = self.vit(
            pixel_values=pixel_values, bool_masked_pos=patch_mask, output_hidden_states=True
        )
        hidden_states = out.hidden_states[-self.num_outputs :]
        # Normalise every tapped block with the final LayerNorm, as DINOv2's
        # get_intermediate_layers(norm=True) does, and drop the class token.
        maps = [
            self.vit.layernorm(h)[:, 1:, :].transpose(1, 2).reshape(batch, -1, grid_h, grid_w)
            for h in hidden_states
        ]
        return torch.cat(maps, dim=1)
