"""The training loop shared by `train task` and `train uncertainty`.

A `Stepper` knows what one step computes (the loss and its metrics); this module does the rest:
AdamW with a lower encoder learning rate, warmup + cosine/poly schedule, gradient clipping,
bf16 autocast on CUDA, DistributedDataParallel under `torchrun`, rank-0 logging (JSONL + CSV
beside the checkpoint), a progress bar, periodic checkpoints and `--resume`.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model.checkpoint import read_checkpoint_payload, save_checkpoint
from uncertainty_seg_node.model.segmenter import Segmenter
from uncertainty_seg_node.train.common import AutocastFactory
from uncertainty_seg_node.train.config import TrainConfig
from uncertainty_seg_node.train.distributed import DistEnv, barrier, mean_across_ranks
from uncertainty_seg_node.train.provenance import provenance
from uncertainty_seg_node.train.train_log import TrainLog, progress

Metrics = dict[str, float]
StepOutput = tuple[Tensor, Metrics]


class Stepper(Protocol):
    """What one training step computes; state it keeps across steps goes in `state_dict`."""

    def step(self, model: nn.Module, raw_model: Segmenter, step: int) -> StepOutput:
        """Forward passes of `step`: (loss to backpropagate, scalar metrics to log)."""
        ...

    def after_step(self, metrics: dict[str, float]) -> dict[str, float]:
        """Update running state from the rank-averaged metrics; return extra metrics to log."""
        ...

    def finalize(self, model: Segmenter) -> dict[str, Any]:
        """Write what was learned into `model.config`; return provenance entries."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class TrainResult:
    """What a run produced: the trained (unwrapped) model, its checkpoint, the logged rows."""

    model: Segmenter
    checkpoint: Path
    history: list[dict[str, float]] = field(default_factory=list)
    start_step: int = 0


def lr_factor(step: int, config: TrainConfig) -> float:
    """Multiplier of the peak lr at `step`: linear warmup, then cosine / poly / constant."""
    warmup = min(config.warmup_steps, config.steps // 5)
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if config.schedule == "constant":
        return 1.0
    t = (step - warmup) / max(1, config.steps - warmup)
    t = min(max(t, 0.0), 1.0)
    if config.schedule == "cosine":
        shape = 0.5 * (1.0 + math.cos(math.pi * t))
    else:
        shape = (1.0 - t) ** config.poly_power
    return config.min_lr_ratio + (1.0 - config.min_lr_ratio) * shape


def build_optimizer(model: Segmenter, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW: the encoder at `config.encoder_lr()`, the decoder at `config.lr`.

    No weight decay on norms, biases, position embeddings and tokens.
    """
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        is_encoder = name.startswith("encoder.")
        no_decay = param.ndim <= 1 or name.endswith(
            ("position_embeddings", "cls_token", "mask_token", "register_tokens")
        )
        groups.setdefault((is_encoder, no_decay), []).append(param)
    if not groups:
        raise UserError("nothing to train: every parameter is frozen")
    param_groups = [
        {
            "params": params,
            "lr": config.encoder_lr() if is_encoder else config.lr,
            "weight_decay": 0.0 if no_decay else config.weight_decay,
            "name": f"{'encoder' if is_encoder else 'decoder'}{'/no_decay' if no_decay else ''}",
        }
        for (is_encoder, no_decay), params in sorted(groups.items())
    ]
    fused = next(model.parameters()).device.type == "cuda"
    return torch.optim.AdamW(param_groups, betas=(0.9, 0.999), fused=fused or None)


def autocast_for(env: DistEnv, config: TrainConfig) -> AutocastFactory:
    """bf16 autocast on CUDA (or when asked for), plain fp32 otherwise."""
    use = config.amp == "bf16" or (config.amp == "auto" and env.device.type == "cuda")
    if not use:
        return contextlib.nullcontext
    device_type = env.device.type
    return lambda: torch.autocast(device_type=device_type, dtype=torch.bfloat16)


def run_training(
    model: Segmenter, stepper: Stepper, config: TrainConfig, env: DistEnv,
    extra_provenance: dict[str, Any],
) -> TrainResult:
    """Train `model` for `config.steps` steps with `stepper`, save and return the result."""
    model.to(env.device)
    optimizer = build_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    # Entries made while building the model (e.g. `encoder_init` from --init) are kept.
    session = _Session(Path(config.out), model, optimizer, scheduler, stepper, config, env,
                       {**model.config.provenance, **extra_provenance})
    start_step = session.resume() if config.resume else 0
    if start_step >= config.steps:
        return TrainResult(model=model, checkpoint=session.out, start_step=start_step)
    wrapped: nn.Module = model
    if env.distributed:
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [env.device.index] if env.device.type == "cuda" else None
        wrapped = DistributedDataParallel(model, device_ids=device_ids)

    log = TrainLog(session.out, enabled=env.is_main, start_step=start_step)
    params = [p for p in model.parameters() if p.requires_grad]
    model.train()
    with progress(config, env, start_step) as bar:
        for step in range(start_step, config.steps):
            t0 = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss, metrics = stepper.step(wrapped, model, step)
            if not torch.isfinite(loss.detach()):
                raise UserError(
                    f"loss became {float(loss.detach())} at step {step}; lower --lr or check data"
                )
            loss.backward()
            grad_norm = (
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
                if config.grad_clip > 0 else _grad_norm(params)
            )
            optimizer.step()
            scheduler.step()
            metrics["grad_norm"] = float(grad_norm)
            metrics = mean_across_ranks(metrics, env)
            metrics.update(stepper.after_step(metrics))
            metrics["lr"] = optimizer.param_groups[-1]["lr"]
            metrics["step_s"] = time.perf_counter() - t0
            done = step + 1
            if done % config.log_every == 0 or done == config.steps:
                log.write(done, metrics)
            bar.update(done, metrics)
            periodic = config.checkpoint_every and done % config.checkpoint_every == 0
            if periodic and done < config.steps:
                session.save(done, final=False)
            if config.keep_every and done % config.keep_every == 0 and done < config.steps:
                session.save(done, final=False, copy_to=kept_checkpoint(session.out, done))
    session.save(config.steps, final=True)
    log.close()
    return TrainResult(model=model, checkpoint=session.out, history=log.rows,
                       start_step=start_step)


def _grad_norm(params: list[nn.Parameter]) -> Tensor:
    norms = [p.grad.detach().norm() for p in params if p.grad is not None]
    return torch.stack(norms).norm() if norms else torch.zeros(())


def kept_checkpoint(out: Path, step: int) -> Path:
    """Where `keep_every` keeps the checkpoint of `step`: `theta.pt` -> `theta.step200.pt`."""
    return out.with_name(f"{out.stem}.step{step}{out.suffix}")


@dataclass
class _Session:
    """Everything a checkpoint holds, and how to write it and read it back."""

    out: Path
    model: Segmenter
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    stepper: Stepper
    config: TrainConfig
    env: DistEnv
    extra_provenance: dict[str, Any]
    started: float = field(default_factory=time.perf_counter)

    def save(self, step: int, *, final: bool, copy_to: Path | None = None) -> None:
        """Rank 0 writes weights + config + provenance + training state; all ranks wait.

        `copy_to`: write there instead of `out` (a kept intermediate checkpoint).
        """
        if self.env.is_main:
            model, env = self.model, self.env
            learned = self.stepper.finalize(model)
            model.config.provenance = provenance(
                self.config, step=step, world=env.world, device=str(env.device),
                wall_s=time.perf_counter() - self.started,
                extra={**self.extra_provenance, **learned},
            )
            train_state = {
                "step": step,
                "final": final,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "stepper": self.stepper.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state() if env.device.type == "cuda" else None,
                "train_config": self.config.to_dict(),
            }
            save_checkpoint(copy_to or self.out, model, train_state)
        barrier(self.env)

    def resume(self) -> int:
        """Load weights and optimiser/scheduler/stepper state from `out`; the step reached."""
        out, config, env = self.out, self.config, self.env
        if not out.is_file():
            if env.is_main and not config.quiet:
                print(f"note: nothing to resume at {out}; starting from step 0", file=sys.stderr)
            return 0
        payload = read_checkpoint_payload(out)
        state = payload.get("train_state") or {}
        if "optimizer" not in state:
            raise UserError(f"{out} holds no training state to resume from; drop --resume")
        try:
            self.model.load_state_dict(payload["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError):
            raise UserError(
                f"{out} does not match this run's model (--model/--size/classes/frozen "
                "encoder); drop --resume or use the same settings"
            ) from None
        self.scheduler.load_state_dict(state["scheduler"])
        self.stepper.load_state_dict(state.get("stepper") or {})
        if state.get("torch_rng") is not None:
            torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and env.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"])
        step = int(state["step"])
        if env.is_main and not config.quiet:
            print(f"resuming {out} from step {step} of {config.steps}", file=sys.stderr)
        return step
