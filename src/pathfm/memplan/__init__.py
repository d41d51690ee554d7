"""GPU memory plan: the predicted peak memory per GPU of every GPU job of a config.

    from pathfm.memplan import check_gpu_memory, memory_report, format_report
    check_gpu_memory(config)          # GpuMemoryError when a job does not fit
    rows = memory_report(config)      # one MemoryRow per GPU job kind
    print(format_report(rows))
    fitting_settings(rows)            # {config key: value} that makes every job fit

The model (no model is built or run; shapes come from a committed table,
``arch_table.json``, or a meta-device build):

- static: fp32 weights + grads + AdamW moments of trainable parameters (16 B each),
  their autocast copies (2 B, bf16), DDP gradient buckets (4 B, more than one GPU), fp32
  EMA / frozen teacher / expert weights (4 B) (``estimate``);
- activations saved for backward, per token per block of a timm ViT with fused SDPA
  (no N² attention matrix), per row of each projection head, per call a normalised copy
  of the prototypes (``arch``), scaled by the micro-batch (``micro_batch_size`` images
  per forward) and the crops (2 global + n_local local per image);
- prototype losses: (rows × K) score matrices, ∝ rows × K unchunked and ∝
  ``loss.chunk_rows`` × K chunked (``losses``);
- no-grad passes (frozen teacher, EMA teacher, experts, embedding): one block's working
  set for the pass's tokens and the outputs kept; a block's backward working set;
- per step, the largest of its phases (``training``); CUDA context / library workspaces
  1.5 GB and 10 % allocator fragmentation over the non-static bytes (``estimate``).

``benchmarks/bench_memory_plan.py`` compares predictions with allocator-measured peaks of
real steps on CPU; ``tests/planning/test_gpu_memory.py`` checks the per-token and per-row
coefficients against the tensors autograd saves.
"""

from pathfm.memplan.report import (
    DEFAULT_GPU_MEMORY_GB,
    GpuMemoryError,
    MemoryRow,
    available_gb,
    check_gpu_memory,
    fitting_settings,
    format_report,
    memory_report,
)

__all__ = ["DEFAULT_GPU_MEMORY_GB", "GpuMemoryError", "MemoryRow", "available_gb",
           "check_gpu_memory", "fitting_settings", "format_report", "memory_report"]
