"""PyTorch backend: a checkpoint run eagerly (optionally compiled, bf16/fp16 on CUDA).

It runs the same `DeployModel` that gets exported, so its class ids and confidence are the
reference the ONNX and TensorRT backends are checked against. It also offers the multi-pass
baselines used for evaluation: MC dropout (N stochastic passes) and deep ensembles (M models),
both combined by averaging softmax probabilities; their "logits" are log(mean probability), so
max softmax of them is the averaged-probability confidence.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from uncertainty_seg_node.config import SCORE_METHODS, ModelConfig
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.deploy import DeployModel, PostProcessing
from uncertainty_seg_node.inference.pipeline import NetworkOutputs, PipelinePredictor
from uncertainty_seg_node.model.checkpoint import load_checkpoint
from uncertainty_seg_node.model.segmenter import Segmenter
from uncertainty_seg_node.runtime import parse_device

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(device: str | torch.device) -> torch.device:
    """'cpu', 'cuda', 'cuda:1' -> torch.device, refusing CUDA where there is none."""
    if not isinstance(device, torch.device):
        parse_device(device)  # UserError for anything but cpu, cuda, cuda:N
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {device!r} requested but this torch build sees no CUDA GPU")
    return dev


class TorchPredictor(PipelinePredictor):
    """One or more Segmenters (ensemble) behind the inference interface.

    The given models are moved to `device` and put in eval mode (MC dropout then re-enables
    their dropout layers only); `from_checkpoint` loads fresh ones.
    """

    backend_name = "torch"

    def __init__(
        self,
        models: Segmenter | Sequence[Segmenter],
        *,
        device: str | torch.device = "cpu",
        score_method: str | None = None,
        temperature: float | None = None,
        energy_sigma: float = 0.0,
        precision: str = "fp32",
        compile: bool = False,
        mc_dropout: int = 0,
        mc_dropout_p: float | None = None,
        input_size: tuple[int, int] | None = None,
    ) -> None:
        members = [models] if isinstance(models, Segmenter) else list(models)
        if not members:
            raise UserError("TorchPredictor needs at least one model")
        base = members[0].config
        for member in members[1:]:
            if member.config.class_names != base.class_names:
                raise UserError("ensemble members must share the same classes")
        if precision not in PRECISIONS:
            raise UserError(f"precision {precision!r} must be one of {sorted(PRECISIONS)}")
        self.device = resolve_device(device)
        if precision == "fp16" and self.device.type != "cuda":
            raise UserError("fp16 needs a CUDA device; use fp32 or bf16 on CPU")
        self.precision = precision
        self.checkpoints: list[Path] = []
        overrides: dict[str, Any] = {}
        if score_method is not None:
            overrides["score_method"] = score_method
        if temperature is not None:
            overrides["temperature"] = float(temperature)
        if input_size is not None:
            overrides["input_size"] = tuple(input_size)
        self.config: ModelConfig = dataclasses.replace(base, **overrides)
        self.config.validate()
        self.members = [m.to(self.device).eval() for m in members]
        self.mc_dropout = int(mc_dropout)
        if self.mc_dropout:
            _enable_mc_dropout(self.members, mc_dropout_p)
        post = PostProcessing(score_method=self.config.score_method,
                              temperature=self.config.temperature, energy_sigma=energy_sigma,
                              with_logits=True)
        self.deploy = DeployModel(self.members[0], post).to(self.device)
        self._compiled: Any = torch.compile(self.deploy) if compile else None
        if len(self.members) > 1 or self.mc_dropout:
            self.backend_name = "torch-ensemble" if len(self.members) > 1 else "torch-mcdropout"
        self.execution_providers = [self.backend_name]
        self.device_in_use = str(self.device)

    @classmethod
    def from_checkpoint(
        cls, path: str | Path | Sequence[str | Path], **options: Any
    ) -> TorchPredictor:
        """Load one checkpoint (or several: a deep ensemble) and wrap it."""
        paths = [path] if isinstance(path, (str, Path)) else list(path)
        models = [load_checkpoint(p).model for p in paths]
        predictor = cls(models, **options)
        predictor.checkpoints = [Path(p) for p in paths]
        predictor.source = ",".join(str(p) for p in paths)
        return predictor

    @property
    def score_method(self) -> str:
        return self.config.score_method

    @score_method.setter
    def score_method(self, method: str) -> None:
        if method not in SCORE_METHODS:
            raise UserError(f"unknown score method {method!r}; choose one of {SCORE_METHODS}")
        self.config = dataclasses.replace(self.config, score_method=method)
        self.deploy.score_method = method

    @property
    def temperature(self) -> float:
        return self.config.temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        if not value > 0:
            raise UserError(f"temperature must be > 0, got {value}")
        self.config = dataclasses.replace(self.config, temperature=float(value))
        self.deploy.temperature.fill_(float(value))

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _as_tensor(self, images: np.ndarray | Tensor) -> Tensor:
        tensor = torch.as_tensor(images)
        if tensor.dtype != torch.uint8 or tensor.ndim != 4 or tensor.shape[-1] != 3:
            raise UserError(
                f"expected uint8 (B, H, W, 3) RGB images, got {tuple(tensor.shape)} {tensor.dtype}"
            )
        return tensor.to(self.device, non_blocking=True)

    @torch.inference_mode()
    def member_logits(self, images: np.ndarray | Tensor) -> Tensor:
        """Logits of every member and MC pass: (M * passes, B, K, H, W) float32."""
        x = self._as_tensor(images)
        passes = max(1, self.mc_dropout)
        with self._autocast():
            pixels = self.deploy.normalize(x)
            if passes > 1:
                pixels = pixels.repeat(passes, 1, 1, 1)  # independent dropout per copy
            outs = [m(pixels).float() for m in self.members]
        batch = x.shape[0]
        return torch.cat([o.reshape(passes, batch, *o.shape[1:]) for o in outs])

    @torch.inference_mode()
    def logits(self, images: np.ndarray | Tensor) -> Tensor:
        """uint8 (B, H, W, 3) RGB at network size -> logits (B, K, H, W) float32 on the device.

        Single model, single pass: the raw logits. Ensembles / MC dropout: log of the mean
        softmax probability over members and passes.
        """
        if len(self.members) == 1 and not self.mc_dropout:
            x = self._as_tensor(images)
            with self._autocast():
                return self.members[0](self.deploy.normalize(x)).float()
        probs = torch.softmax(self.member_logits(images), dim=2).mean(dim=0)
        return torch.log(probs.clamp_min(1e-12))

    @torch.inference_mode()
    def run_network(self, batch: np.ndarray, *, with_logits: bool = False) -> NetworkOutputs:
        if len(self.members) == 1 and not self.mc_dropout:
            forward = self.deploy if self._compiled is None else self._compiled
            with self._autocast():
                ids, conf, logits = forward(self._as_tensor(batch))
        else:
            ids, conf, logits = self.deploy.head(self.logits(batch))
        return NetworkOutputs(
            class_ids=ids.cpu().numpy(),
            confidence=conf.float().cpu().numpy(),
            logits=logits.float().cpu().numpy() if with_logits else None,
        )


def _enable_mc_dropout(models: list[Segmenter], p: float | None) -> None:
    """Put only the dropout layers in training mode (optionally with a new rate)."""
    for model in models:
        dropouts = [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
        for module in dropouts:
            if p is not None:
                module.p = float(p)
            module.train()
        if not any(m.p > 0 for m in dropouts):
            raise UserError(
                "MC dropout needs dropout > 0: this model has config.dropout = "
                f"{model.config.dropout}; pass mc_dropout_p=0.1 or train with dropout"
            )
