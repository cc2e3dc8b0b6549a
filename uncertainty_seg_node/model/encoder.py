"""E: a DINOv2-architecture ViT (Hugging Face `Dinov2Model`) with patch-token masking.

`patch_mask` replaces masked patch tokens by the mask token right after the patch embedding,
which is exactly the paper's masking policy m(I) = M . [E]_{0:1}(I).

The forward pass is split in two at `split` (the number of lower blocks that do not train):
`lower` = patch embedding + blocks[:split], `upper` = blocks[split:] + the final LayerNorm that
turns the tapped blocks into feature maps. With a frozen lower part, `lower`'s output is a pure
function of (weights, pixels, mask), which is what the feature cache and the mask bank keep
(train/feature_cache.py). `split = num_layers` is the frozen encoder E*; `split = 0` trains all.

A training step that keeps `lower`'s output (train/feature_cache.py) hands it to `forward` as
`lower_states`. Evaluation, which has no names for its frames, can instead set `lower_source`:
`forward` then asks it for `lower`'s output, handing it `lower` to call for what it lacks.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from transformers import Dinov2Config, Dinov2Model

from uncertainty_seg_node.config import ModelConfig

Lower = Callable[[Tensor, Tensor | None], Tensor]
# (lower, pixel_values, patch_mask) -> lower's output, from a store or by calling `lower`.
LowerSource = Callable[[Lower, Tensor, Tensor | None], Tensor]


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
        self.num_layers = config.num_layers
        self.num_outputs = min(config.decoder_layers, config.num_layers)
        self.vit = Dinov2Model(dinov2_config(config))
        # Hidden states are numbered 0 (embeddings) .. num_layers (last block); these feed D.
        self.taps = tuple(range(self.num_layers + 1 - self.num_outputs, self.num_layers + 1))
        self.split = 0
        self.lower_source: LowerSource | None = None

    @property
    def out_channels(self) -> int:
        return int(self.vit.config.hidden_size) * self.num_outputs

    @property
    def mask_token(self) -> nn.Parameter:
        """The (1, C) token that replaces masked patch embeddings (model/mask_token.py)."""
        token = self.vit.embeddings.mask_token
        assert isinstance(token, nn.Parameter)
        return token

    def frozen_prefix(self) -> int:
        """How many leading blocks (with the embeddings) have no trainable parameter.

        The mask token does not count: unmasked forwards never read it. -1 when the embeddings
        themselves train.
        """
        if any(p.requires_grad for n, p in self.vit.embeddings.named_parameters()
               if n != "mask_token"):
            return -1
        count = 0
        for layer in self.vit.encoder.layer:
            if any(p.requires_grad for p in layer.parameters()):
                break
            count += 1
        return count

    def set_split(self, split: int) -> None:
        """Blocks [0, split) form the lower part (`lower`); the rest is `upper`."""
        if not 0 <= split <= self.num_layers:
            raise ValueError(f"split must be in [0, {self.num_layers}], got {split}")
        self.split = split

    def saved_states(self) -> tuple[int, ...]:
        """Hidden-state indices `lower` returns: the taps below the split, then the split."""
        below = tuple(i for i in self.taps if i < self.split)
        return below + (self.split,)

    def lower_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """(name, parameter) of everything `lower` reads: embeddings and blocks[:split]."""
        named = [(f"vit.embeddings.{n}", p) for n, p in self.vit.embeddings.named_parameters()]
        for i in range(self.split):
            named += [(f"vit.encoder.layer.{i}.{n}", p)
                      for n, p in self.vit.encoder.layer[i].named_parameters()]
        return named

    def lower(self, pixel_values: Tensor, patch_mask: Tensor | None = None) -> Tensor:
        """(B, 3, H, W) -> (B, S, 1 + h*w, C): the hidden states of `saved_states()`."""
        keep = self.saved_states()
        hidden = self.vit.embeddings(pixel_values, bool_masked_pos=patch_mask)
        saved = [hidden] if 0 in keep else []
        for i in range(self.split):
            hidden = self.vit.encoder.layer[i](hidden)
            if i + 1 in keep:
                saved.append(hidden)
        return torch.stack(saved, dim=1)

    def upper(self, states: Tensor, grid: tuple[int, int]) -> Tensor:
        """`lower`'s output -> (B, C * num_outputs, h, w) feature maps."""
        indices = self.saved_states()
        hidden = states[:, -1]
        taps = [states[:, j] for j, i in enumerate(indices) if i in self.taps]
        for i in range(self.split, self.num_layers):
            hidden = self.vit.encoder.layer[i](hidden)
            if i + 1 in self.taps:
                taps.append(hidden)
        batch = states.shape[0]
        # Normalise every tapped block with the final LayerNorm, as DINOv2's
        # get_intermediate_layers(norm=True) does, and drop the class token.
        maps = [
            self.vit.layernorm(h)[:, 1:, :].transpose(1, 2).reshape(batch, -1, *grid)
            for h in taps
        ]
        return torch.cat(maps, dim=1)

    def forward(self, pixel_values: Tensor, patch_mask: Tensor | None = None,
                lower_states: Tensor | None = None) -> Tensor:
        """(B, 3, H, W) -> (B, C * num_outputs, H / 14, W / 14).

        `patch_mask` is (B, H/14 * W/14) bool, True where a patch token is masked.
        `lower_states`: `lower(pixel_values, patch_mask)` already computed (a training step's
        feature cache hands it in), so only `upper` runs.
        """
        height, width = pixel_values.shape[-2:]
        grid = (height // self.patch_size, width // self.patch_size)
        if lower_states is not None:
            states = lower_states
        elif self.lower_source is None:
            states = self.lower(pixel_values, patch_mask)
        else:
            states = self.lower_source(self.lower, pixel_values, patch_mask)
        return self.upper(states, grid)
