"""Device choice and `torchrun` DistributedDataParallel set-up (gloo on CPU, nccl on GPU)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

from uncertainty_seg_node.errors import UserError


@dataclass(frozen=True)
class DistEnv:
    """Where this process runs: its rank among `world` processes and its device."""

    rank: int
    world: int
    local_rank: int
    device: torch.device
    owns_group: bool = False  # this module created the process group (and destroys it)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """`auto` -> this process's GPU when there is one, else CPU."""
    if name == "auto":
        name = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    elif name == "cuda":
        name = f"cuda:{local_rank}"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {name} asked for, but this torch build sees no CUDA GPU")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None


def init_distributed(device_name: str, environ: Mapping[str, str] | None = None) -> DistEnv:
    """Join the process group `torchrun` describes in the environment, if any."""
    env = os.environ if environ is None else environ
    world = int(env.get("WORLD_SIZE", "1"))
    rank = int(env.get("RANK", "0"))
    local_rank = int(env.get("LOCAL_RANK", "0"))
    device = pick_device(device_name, local_rank)
    owns = False
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        owns = True
    return DistEnv(rank=rank, world=world, local_rank=local_rank, device=device, owns_group=owns)


def shutdown_distributed(env: DistEnv) -> None:
    """Leave the process group we created, after a barrier so no rank exits while others save.

    A group the caller set up stays for the caller.
    """
    if env.distributed and dist.is_initialized():
        dist.barrier()
        if env.owns_group:
            dist.destroy_process_group()


@contextmanager
def distributed_run(device_name: str) -> Iterator[DistEnv]:
    """The process group (or a single process) of one training run, left when the run ends."""
    env = init_distributed(device_name)
    try:
        yield env
    finally:
        shutdown_distributed(env)


def barrier(env: DistEnv) -> None:
    """Wait for every rank (no-op when running alone)."""
    if env.distributed:
        dist.barrier()


def mean_across_ranks(values: dict[str, float], env: DistEnv) -> dict[str, float]:
    """Average scalar metrics over the ranks (every rank gets the same numbers)."""
    if not env.distributed or not values:
        return values
    keys = sorted(values)
    backend_device = env.device if env.device.type == "cuda" else torch.device("cpu")
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=backend_device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    tensor /= env.world
    return dict(zip(keys, tensor.tolist()))
