"""A step's predicted peak: named byte terms per phase, the largest phase, GPU overheads.

A training step goes through phases whose live bytes differ; its peak is the largest
phase. Every phase holds the *static* bytes (weights, gradients, AdamW state, EMA /
frozen copies, DDP buckets). ``tensor_peak`` is what the tensors of the step need at
once — the number a CPU measurement of allocated bytes is compared with; ``gpu_peak``
adds what a CUDA process needs beyond its tensors:

- ``CUDA_OVERHEAD_GB`` (1.5 GB): CUDA context and kernels (~0.5-0.9 GB on H100/A100 with
  PyTorch's kernels loaded), cuBLAS / cuDNN workspaces, NCCL buffers of a DDP job;
- ``FRAGMENTATION`` (10 % of the non-static bytes): the caching allocator's block
  rounding and fragmentation under the step's alternating large allocations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GB = 1e9
CUDA_OVERHEAD_GB = 1.5
FRAGMENTATION = 0.10


def act_bytes(precision: str) -> int:
    """Bytes of the compute dtype: bf16 / fp16 autocast keeps activations in 2 bytes."""
    return 2 if precision in ("bf16", "fp16", "float16", "bfloat16") else 4


@dataclass
class Estimate:
    """``static``: bytes held throughout; ``phases``: phase -> {term: bytes} on top of it."""

    static: dict[str, int]
    phases: dict[str, dict[str, int]]
    micro_batch: int
    notes: list[str] = field(default_factory=list)

    @property
    def static_bytes(self) -> int:
        return sum(self.static.values())

    @property
    def peak_phase(self) -> str:
        return max(self.phases, key=lambda p: sum(self.phases[p].values()))

    @property
    def dynamic_bytes(self) -> int:
        return sum(self.phases[self.peak_phase].values()) if self.phases else 0

    @property
    def tensor_peak(self) -> int:
        return self.static_bytes + self.dynamic_bytes

    @property
    def gpu_peak(self) -> int:
        return int(self.tensor_peak + FRAGMENTATION * self.dynamic_bytes + CUDA_OVERHEAD_GB * GB)

    def breakdown(self) -> dict[str, float]:
        """GB per term at the peak phase (static terms first)."""
        terms = {**self.static, **self.phases.get(self.peak_phase, {})}
        return {k: round(v / GB, 3) for k, v in terms.items() if v}


def optimiser_static(trainable: int, frozen: int, precision: str, gpus: int,
                     extra: dict[str, int] | None = None) -> dict[str, int]:
    """fp32 weights + grads + AdamW's two moments of the trainable parameters (16 B each);
    their compute-dtype copies the autocast cache keeps from forward to backward; DDP's
    gradient buckets (a second fp32 gradient, ``gradient_as_bucket_view`` off) with more
    than one GPU; fp32 frozen copies (EMA teacher, frozen teacher / experts)."""
    a = act_bytes(precision)
    out = {
        "weights+grads+adamw": 16 * trainable,
        "autocast weight copies": a * trainable if a != 4 else 0,
        "ddp buckets": 4 * trainable if gpus > 1 else 0,
        "frozen/ema weights": 4 * frozen,
    }
    out.update(extra or {})
    return out
