"""The extraction loop: batched, prefetching DataLoader -> model -> shards of an embedding store.

One shard (``shard_size`` images) is the unit of resumption: its features are
written, then it is marked done. Progress (tqdm) and images/s go to the log.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from pathfm.embed.images import ImageSource
from pathfm.embed.store import ShardWriter, pooling_array_name
from pathfm.embed.transform import ContractTransform, embed_batch
from pathfm.models.contract import POOLINGS, EmbeddingContract
from pathfm.version import code_version

log = logging.getLogger(__name__)
DTYPES = ("float16", "float32")


@dataclass(frozen=True)
class ExtractSettings:
    """How to run extraction; none of these changes the numbers beyond float rounding."""

    batch_size: int = 64
    num_workers: int = 2
    prefetch_factor: int = 4
    dtype: str = "float16"  # of the stored features
    shard_size: int = 4096  # images per resumable shard
    autocast: str = "auto"  # auto: bf16 on CUDA, off on CPU; or off | bf16 | fp16
    device: str = "auto"
    extra_poolings: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype {self.dtype!r} is not one of {DTYPES}")
        if self.autocast not in ("auto", "off", "bf16", "fp16"):
            raise ValueError(f"autocast {self.autocast!r} is not auto | off | bf16 | fp16")
        for p in self.extra_poolings:
            if p not in POOLINGS:
                raise ValueError(f"extra pooling {p!r} is not one of {POOLINGS}")

    def resolve_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def autocast_dtype(self, device: torch.device) -> torch.dtype | None:
        mode = self.autocast
        if mode == "auto":  # CPU autocast is slower than fp32 for small ViTs; GPUs gain ~2×
            mode = "bf16" if device.type == "cuda" else "off"
        return {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[mode]


class _Batches(Dataset):
    """Item k = the transformed batch ``ranges[k]``: one slice read and one resize per batch in a worker."""

    def __init__(self, source: ImageSource, transform: ContractTransform, ranges: list[tuple[int, int]]):
        self.source, self.transform, self.ranges = source, transform, ranges

    def __len__(self) -> int:
        return len(self.ranges)

    def __getitem__(self, k: int) -> torch.Tensor:
        return self.transform.batch(self.source.images(*self.ranges[k]))


def batch_ranges(shards: list[tuple[int, int]], batch_size: int) -> list[tuple[int, int]]:
    """Batches of at most ``batch_size`` that never cross a shard boundary, in shard order."""
    return [(i, min(i + batch_size, b)) for a, b in shards for i in range(a, b, batch_size)]


def make_loader(source: ImageSource, contract: EmbeddingContract, ranges: list[tuple[int, int]],
                settings: ExtractSettings, pin: bool) -> DataLoader:
    """One loader for the whole run (workers start once); batches come already collated."""
    workers = settings.num_workers
    return DataLoader(_Batches(source, ContractTransform(contract), ranges), batch_size=None, shuffle=False,
                      num_workers=workers, prefetch_factor=settings.prefetch_factor if workers else None,
                      persistent_workers=False, pin_memory=pin)


def _to_numpy(x: torch.Tensor, dtype: str) -> np.ndarray:
    """Cast on the device (half the bytes to copy back for float16), then to numpy."""
    return x.to(getattr(torch, dtype)).cpu().numpy()


def extract_embeddings(model: nn.Module, contract: EmbeddingContract, source: ImageSource,
                       out: str | Path, settings: ExtractSettings, provenance: dict) -> dict:
    """Embed every image of ``source`` into the store ``out``; return run statistics.

    ``provenance`` (model name, weights sha256, dataset) goes into the attributes
    with the contract and code version; it is also the key that lets a re-run
    resume a partial store.
    """
    device = settings.resolve_device()
    model = model.to(device).eval()
    amp = settings.autocast_dtype(device)
    n = len(source)
    with torch.inference_mode():
        probe = embed_batch(model, contract, torch.zeros(1, 3, contract.input_size, contract.input_size,
                                                         dtype=torch.uint8, device=device),
                            settings.extra_poolings, amp)
    dims = {"features": probe["features"].shape[1]}
    dims.update({pooling_array_name(p): probe[p].shape[1] for p in settings.extra_poolings})
    attrs = {**provenance, "contract": contract.to_dict(), "code_version": code_version(),
             "dataset": {**source.description, **provenance.get("dataset", {})},
             "n": n, "dtype": settings.dtype, "extra_poolings": list(settings.extra_poolings)}
    writer = ShardWriter(out, n, dims, settings.dtype, settings.shard_size, source.meta, attrs)
    todo = [k for k in range(writer.n_shards) if k not in writer.done]
    if len(todo) < writer.n_shards:
        log.info("resuming: %d of %d shards already written", writer.n_shards - len(todo), writer.n_shards)
    t0, n_done = time.perf_counter(), 0
    shards = [writer.shard_range(k) for k in todo]
    bar = tqdm(total=sum(b - a for a, b in shards), unit="img", mininterval=5.0, desc="embed")
    # Shard k is written by one background thread while shard k+1 is embedded; at most one write
    # is in flight, so memory stays at two shards of features.
    ranges = batch_ranges(shards, settings.batch_size)
    shard_ending_at = {b: k for k, (a, b) in zip(todo, shards)}
    with ThreadPoolExecutor(max_workers=1) as io:
        pending: list[Future] = []

        def flush(k: int, chunks: dict[str, list[np.ndarray]]) -> None:
            if pending:
                pending.pop().result()
            arrays = {name: np.concatenate(v) if v else np.zeros((0, dims[name]), settings.dtype)
                      for name, v in chunks.items()}
            pending.append(io.submit(writer.write_shard, k, arrays))

        for k, (a, b) in zip(todo, shards):
            if a == b:  # an empty dataset: one empty shard
                flush(k, {name: [] for name in dims})
        chunks: dict[str, list[np.ndarray]] = {name: [] for name in dims}
        loader = make_loader(source, contract, ranges, settings, device.type == "cuda")
        for (a, b), images in zip(ranges, loader):
            if len(images) != b - a:
                raise RuntimeError(f"images {a}:{b}: the source returned {len(images)} images")
            res = embed_batch(model, contract, images.to(device, non_blocking=True), settings.extra_poolings, amp)
            chunks["features"].append(_to_numpy(res["features"], settings.dtype))
            for p in settings.extra_poolings:
                chunks[pooling_array_name(p)].append(_to_numpy(res[p], settings.dtype))
            n_done += b - a
            bar.update(b - a)
            if b in shard_ending_at:
                flush(shard_ending_at[b], chunks)
                chunks = {name: [] for name in dims}
                log.info("shard %d/%d embedded: %d images, %.1f images/s", shard_ending_at[b] + 1,
                         writer.n_shards, n_done, n_done / max(time.perf_counter() - t0, 1e-9))
        if pending:
            pending.pop().result()
    bar.close()
    elapsed = time.perf_counter() - t0
    stats = {"n_images": n, "n_embedded_now": n_done, "seconds": elapsed,
             "images_per_s": n_done / elapsed if n_done and elapsed > 0 else None,
             "device": str(device), "autocast": str(amp) if amp else "off"}
    # The store keeps what it holds, not how long it took: a rerun writes the same bytes.
    writer.finish({"extraction": {k: stats[k] for k in ("n_images", "device", "autocast")}})
    log.info("wrote %s: %d × %d (%s), %s images/s", out, n, dims["features"], settings.dtype,
             f"{stats['images_per_s']:.1f}" if stats["images_per_s"] else "n/a")
    return stats
