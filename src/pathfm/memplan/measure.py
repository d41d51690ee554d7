"""Measuring memory on CPU, to check the plan against what PyTorch actually allocates.

``peak_allocated(fn)``: the peak of bytes allocated by PyTorch's CPU allocator while ``fn``
runs, above what was allocated when it started, from the profiler's memory events (exact
tensor bytes: no malloc caching, no page rounding, no Python objects).
``saved_tensor_bytes(fn)``: bytes of the distinct storages autograd saves for backward
while ``fn`` runs (views of one storage count once).
``live_bytes(tensors)``: bytes of the distinct storages of some tensors (parameters,
gradients, optimiser state held before a step).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch


def peak_allocated(fn: Callable[[], object]) -> tuple[object, int]:
    """(fn's result, peak bytes allocated during fn above the start)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn()
    # Only the CPU allocator reports here (no CUDA activity is profiled).
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    current = peak = 0
    for e in events:
        current += e.nbytes()
        peak = max(peak, current)
    return result, peak


def saved_tensor_bytes(fn: Callable[[], object]) -> tuple[object, int]:
    """(fn's result, bytes of the distinct storages saved for backward during fn)."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = fn()
    return result, sum(seen.values())


def live_bytes(tensors: Iterable[torch.Tensor | None]) -> int:
    seen: dict[int, int] = {}
    for t in tensors:
        if t is not None:
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(seen.values())


def module_state_bytes(*modules: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None
                       ) -> int:
    """Parameters, their gradients, buffers and the optimiser's state tensors."""
    tensors: list[torch.Tensor | None] = []
    for m in modules:
        for p in m.parameters():
            tensors += [p, p.grad]
        tensors += list(m.buffers())
    if optimizer is not None:
        for state in optimizer.state.values():
            tensors += [v for v in state.values() if torch.is_tensor(v)]
    return live_bytes(tensors)
