"""The deployed network: uint8 camera pixels in, class ids and confidence out.

`DeployModel` wraps a Segmenter with the pre- and post-processing that belong inside the graph:
uint8 NHWC RGB -> normalised NCHW float -> logits -> argmax + confidence (the score chosen at
export). The CPU side of inference is then only a resize and a channel order. The same module
runs in eager PyTorch (the torch backend) and is what gets exported, so both compute the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from uncertainty_seg_node.config import SCORE_METHODS, ModelConfig
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model.segmenter import Segmenter
from uncertainty_seg_node.scores import confidence_from_logits

IDS_DTYPES = {"uint8": torch.uint8, "int32": torch.int32}
CONFIDENCE_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def confidence(
    logits: Tensor, method: str, *, temperature: float | Tensor = 1.0, energy_sigma: float = 0.0
) -> Tensor:
    """(B, K, H, W) logits -> (B, H, W) confidence in [0, 1] (`scores.confidence_from_logits`).

    `temperature` may be a 0-d tensor: in an exported graph it is then the initializer
    `temperature`, which `uncertainty-seg calibrate` rewrites in place.
    """
    return confidence_from_logits(
        logits, method, temperature=temperature, energy_smoothing_sigma=energy_sigma
    )


def max_softmax(logits: Tensor, top: Tensor, temperature: Tensor | None = None) -> Tensor:
    """max_k softmax(z / T)_k = 1 / sum_k exp((z_k - max z) / T), from the max already taken.

    Equal to `scores.confidence_from_logits(z, "msp" | "temperature")` up to float rounding,
    without materialising the K x H x W probabilities: ONNX Runtime's Softmax over the channel
    axis alone took half of a tiny model's CPU time.
    """
    shifted = logits - top.unsqueeze(1)
    if temperature is not None:
        shifted = shifted / temperature
    return 1.0 / torch.exp(shifted).sum(dim=1)


@dataclass(frozen=True)
class PostProcessing:
    """What the exported graph computes after the network's logits (all inside the graph)."""

    score_method: str | None = None  # None: the model's own (ModelConfig.score_method)
    temperature: float | None = None  # None: the model's own (ModelConfig.temperature)
    energy_sigma: float = 0.0
    with_logits: bool = False  # also output the logits (B, K, H, W)
    ids_dtype: str = "uint8"
    confidence_dtype: str = "float32"


AS_CONFIGURED = PostProcessing()  # the model's own score method and temperature, ids + confidence


class DeployModel(nn.Module):
    """uint8 (B, H, W, 3) RGB at network size -> class ids, confidence [, logits].

    Outputs: class_ids (B, H, W), confidence (B, H, W), and logits (B, K, H, W) if asked for.
    """

    scale: Tensor
    shift: Tensor
    temperature: Tensor

    def __init__(self, segmenter: Segmenter, post: PostProcessing = AS_CONFIGURED) -> None:
        super().__init__()
        config: ModelConfig = segmenter.config
        self.segmenter = segmenter
        self.score_method = post.score_method or config.score_method
        ids_dtype, confidence_dtype = post.ids_dtype, post.confidence_dtype
        if self.score_method not in SCORE_METHODS:
            raise UserError(
                f"unknown score method {self.score_method!r}; choose one of {SCORE_METHODS}"
            )
        if ids_dtype not in IDS_DTYPES:
            raise UserError(f"class id dtype {ids_dtype!r} must be one of {sorted(IDS_DTYPES)}")
        if confidence_dtype not in CONFIDENCE_DTYPES:
            raise UserError(
                f"confidence dtype {confidence_dtype!r} must be one of {sorted(CONFIDENCE_DTYPES)}"
            )
        if ids_dtype == "uint8" and config.num_classes > 255:
            raise UserError(f"{config.num_classes} classes do not fit uint8; use ids dtype int32")
        t = config.temperature if post.temperature is None else post.temperature
        if not t > 0:
            raise UserError(f"temperature must be > 0, got {t}")
        self.energy_sigma = float(post.energy_sigma)
        self.with_logits = post.with_logits
        self.ids_dtype = IDS_DTYPES[ids_dtype]
        self.confidence_dtype = CONFIDENCE_DTYPES[confidence_dtype]
        std = torch.tensor(config.std, dtype=torch.float32).view(1, 3, 1, 1)
        mean = torch.tensor(config.mean, dtype=torch.float32).view(1, 3, 1, 1)
        # (x / 255 - mean) / std == x * scale - shift: one multiply-add in the graph.
        self.register_buffer("scale", 1.0 / (255.0 * std), persistent=False)
        self.register_buffer("shift", mean / std, persistent=False)
        # A persistent 0-d buffer becomes the ONNX initializer `temperature` (rewritable later);
        # non-persistent buffers are folded into anonymous constants by the exporter.
        self.register_buffer("temperature", torch.tensor(float(t)))

    @property
    def config(self) -> ModelConfig:
        return self.segmenter.config

    def normalize(self, image: Tensor) -> Tensor:
        """uint8 (B, H, W, 3) RGB -> float32 (B, 3, H, W) normalised."""
        return image.permute(0, 3, 1, 2).to(torch.float32) * self.scale - self.shift

    def head(self, logits: Tensor) -> tuple[Tensor, ...]:
        """Logits -> (class_ids, confidence[, logits]) as exported."""
        logits = logits.float()
        # max(dim) rather than argmax: same first-index tie rule, ~8x faster on CPU for a
        # reduction over the channel axis, and the max is reused by the softmax confidence.
        top, ids = logits.max(dim=1)
        if self.score_method in ("msp", "temperature"):
            conf = max_softmax(logits, top, self.temperature if self.score_method ==
                               "temperature" else None)
        else:
            conf = confidence(logits, self.score_method, temperature=self.temperature,
                              energy_sigma=self.energy_sigma)
        outputs: tuple[Tensor, ...] = (ids.to(self.ids_dtype), conf.to(self.confidence_dtype))
        if self.with_logits:
            outputs = (*outputs, logits)
        return outputs

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        return self.head(self.segmenter(self.normalize(image)))
