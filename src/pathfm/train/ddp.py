"""Distributed setup from torchrun's environment; seeding per rank.

``init_distributed`` reads RANK / WORLD_SIZE / LOCAL_RANK (set by torchrun or
srun wrappers) and starts ``nccl`` on GPU or ``gloo`` on CPU; without them it
returns a single-process DistInfo and never touches torch.distributed, so the
same code runs on one CPU. Only trainable modules are wrapped in DDP: a frozen
teacher (EMA or a distillation teacher) is never wrapped.
"""

from __future__ import annotations

import contextlib
import os
import random
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(backend: str | None = None, device: str | None = None) -> DistInfo:
    """Start the process group when launched by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    dev = torch.device(f"cuda:{local}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if use_cuda else "gloo"))
    return DistInfo(rank=rank, world_size=world, local_rank=local, device=dev)


def seed_everything(seed: int, rank: int = 0) -> int:
    """Seed python, numpy and torch with ``seed + rank`` (ranks draw different crops)."""
    s = seed + rank
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)
    return s


def wrap_ddp(module: nn.Module, info: DistInfo) -> nn.Module:
    """DDP-wrap a trainable module when distributed; frozen modules are returned as is."""
    if not info.distributed or not any(p.requires_grad for p in module.parameters()):
        return module
    ids = [info.device.index] if info.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


# Never searched for wrappers: module trees (wrap_ddp's results are not submodules),
# tensors, classes, functions and Python modules.
_OPAQUE = (nn.Module, torch.Tensor, type, types.ModuleType, types.FunctionType,
           types.MethodType)


def ddp_wrappers(task: object, depth: int = 3) -> list[nn.parallel.DistributedDataParallel]:
    """Every DistributedDataParallel wrapper ``task`` holds outside its module tree.

    Tasks keep their wrappers as plain attributes (``_student_fwd``, ``_head_fwd``),
    possibly inside a small helper object (GPFM's output capture), so that checkpoints
    have the same keys at any world size. Attributes, containers and plain objects
    are searched ``depth`` levels deep; modules other than DDP are not entered, since
    ``wrap_ddp``'s wrappers are never registered as submodules.
    """
    found: list[nn.parallel.DistributedDataParallel] = []
    seen: set[int] = set()

    def visit(value, level: int) -> None:
        if id(value) in seen or level > depth:
            return
        seen.add(id(value))
        if isinstance(value, nn.parallel.DistributedDataParallel):
            found.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                visit(v, level + 1)
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v, level + 1)
        elif (not isinstance(value, _OPAQUE) and hasattr(value, "__dict__")):
            for v in vars(value).values():
                visit(v, level + 1)

    for value in vars(task).values():
        visit(value, 0)
    return found


@contextlib.contextmanager
def no_sync(wrappers: Iterable[nn.parallel.DistributedDataParallel]) -> Iterator[None]:
    """No gradient all-reduce in backward passes of forwards run inside, on all ``wrappers``
    (gradient accumulation: every micro-batch but the last)."""
    with contextlib.ExitStack() as stack:
        for wrapper in wrappers:
            stack.enter_context(wrapper.no_sync())
        yield


def barrier(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.barrier()


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True on every rank when ``flag`` is True on any rank (e.g. a stop signal)."""
    if not info.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
