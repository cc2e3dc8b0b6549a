"""D: a light dense decoder: ViT patch features, refined and fused with a shallow image stem.

Real-time and exportable (convolutions, GroupNorm, bilinear resizes only). The stem restores the
edge detail a 14-pixel patch grid loses; it sees the same patch mask as the encoder, so a masked
image is masked for the whole network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_STEM_CHANNELS = 32


def _conv_block(
    in_channels: int, out_channels: int, *, kernel: int = 3, stride: int = 1
) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(
            in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False
        ),
        nn.GroupNorm(_groups(out_channels), out_channels),
        nn.GELU(),
    )


def _groups(channels: int) -> int:
    for groups in (8, 4, 2):
        if channels % groups == 0:
            return groups
    return 1


class DenseDecoder(nn.Module):
    """Patch features (B, Cin, h, w) + image (B, 3, H, W) -> class logits (B, K, H, W)."""

    def __init__(self, in_channels: int, channels: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.project = _conv_block(in_channels, channels, kernel=1)
        self.refine = _conv_block(channels, channels)
        self.stem = nn.Sequential(
            _conv_block(3, _STEM_CHANNELS // 2, stride=2),
            _conv_block(_STEM_CHANNELS // 2, _STEM_CHANNELS, stride=2),
        )
        self.fuse = _conv_block(channels + _STEM_CHANNELS, channels)
        # Dropout before the classifier: off at inference, on for MC dropout.
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, features: Tensor, image: Tensor) -> Tensor:
        height, width = image.shape[-2:]
        x = self.refine(self.project(features))
        stem = self.stem(image)
        x = F.interpolate(x, size=stem.shape[-2:], mode="bilinear", align_corners=False)
        x = self.fuse(torch.cat([x, stem], dim=1))
        logits = self.classifier(self.dropout(x))
        return F.interpolate(logits, size=(height, width), mode="bilinear", align_corners=False)
