"""Online patching (kaiko.ai, Section IV-B): multi-crop batches read from WSIs during training.

Build it from manifests and mask folders, then hand the loader to
``pathfm.train.ssl.run``::

    slides = build_slide_index(["results/manifests/demo.tsv"], ["results/masks/demo"])
    loader = OnlinePatchLoader(slides, OnlinePatchingConfig(patch_px=96, mpps=[2, 1, 0.5]),
                               MultiCrop(MultiCropConfig(global_size=64, local_size=32)),
                               batch_size=32, seed=0, rank=0, world_size=1)
    for batch in loader:   # {"global": (2·B, 3, G, G), "local": (M·B, 3, L, L)}
        ...

The stream: patch ``j`` (a global index over all ranks) comes from
``PatchSampler.spec(j)`` and its crops from a generator seeded with (seed, j).
Batch ``b`` of rank ``r`` holds patches ``(b·world + r)·B … + B − 1``, so ranks
see disjoint patches and the stream does not depend on the number of
DataLoader workers: worker ``w`` of ``W`` builds batches ``start + w + k·W``
and the DataLoader returns them in order. Every worker opens its own slide
handles (lazily, a bounded LRU per process).

An epoch is ``epoch_patches`` patches over all ranks (ImageNet epoch =
1,280,000); iterating the loader ends at an epoch boundary, and iterating again
continues with the next epoch. ``state_dict()`` is the number of batches
handed out, so a resumed run continues the same stream.
"""

from __future__ import annotations

import os
import signal
from collections import OrderedDict
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from pathfm.data.multicrop import MultiCrop, collate_multicrop
from pathfm.data.patch_readers import READERS, PatchReader, open_reader
from pathfm.data.patch_sampling import PatchSampler, PatchSpec, SlideEntry
from pathfm.params import from_dict

IMAGENET_EPOCH = 1_280_000


@dataclass(frozen=True)
class OnlinePatchingConfig:
    """Settings of online patching; kaiko's values are the defaults (Section IV-C)."""

    patch_px: int = 256  # edge of the patch read, before multi-crop
    mpps: list[float] = field(default_factory=lambda: [2.0, 1.0, 0.5, 0.25])  # 5/10/20/40×
    mpp_weights: list[float] | None = None  # None: magnifications equally likely
    min_foreground: float = 0.4  # minimum tissue overlap of a patch
    slide_sampling: str = "uniform"  # uniform | tissue_area
    epoch_patches: int = IMAGENET_EPOCH
    distinct_patches: int | None = None  # Table IV: N distinct patches, then reuse them
    reader: str = "openslide"  # openslide | zarr
    chunk_cache_mb: float = 64.0  # zarr reader: decoded-chunk cache per open slide
    patch_cache_mb: float = 256.0  # distinct mode: decoded patches kept per worker
    max_open_slides: int = 64  # open handles per process (file descriptors are finite)
    num_workers: int = 2
    prefetch_factor: int = 2

    @classmethod
    def from_dict(cls, values: dict) -> OnlinePatchingConfig:
        cfg = from_dict(cls, dict(values or {}), "online patching")
        if cfg.reader not in READERS:
            raise ValueError(f"online patching reader {cfg.reader!r} is not one of {READERS}")
        return cfg

    def to_dict(self) -> dict:
        return asdict(self)


def _seed_of(*key: int) -> int:
    return int(np.random.SeedSequence([int(k) for k in key]).generate_state(1, np.uint64)[0]
               & 0x7FFF_FFFF_FFFF_FFFF)


class _ReaderPool:
    """Per-process LRU of open readers; reset after fork so no handle crosses processes."""

    def __init__(self, slides: list[SlideEntry], cfg: OnlinePatchingConfig):
        self.slides, self.cfg = slides, cfg
        self._pid, self._open = None, OrderedDict()

    def get(self, i: int) -> PatchReader:
        if self._pid != os.getpid():
            self._pid, self._open = os.getpid(), OrderedDict()
        if i in self._open:
            self._open.move_to_end(i)
            return self._open[i]
        s = self.slides[i]
        reader = open_reader(self.cfg.reader, s.path, s.mpp, self.cfg.chunk_cache_mb)
        self._open[i] = reader
        while len(self._open) > self.cfg.max_open_slides:
            self._open.popitem(last=False)[1].close()
        return reader

    def __getstate__(self):  # workers get the index, never the handles
        return {"slides": self.slides, "cfg": self.cfg, "_pid": None, "_open": OrderedDict()}


class OnlinePatchDataset(IterableDataset):
    """Yields collated multi-crop batches ``start_batch … end_batch − 1`` of one rank."""

    def __init__(self, slides: list[SlideEntry], cfg: OnlinePatchingConfig, transform: MultiCrop,
                 batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        self.cfg, self.transform = cfg, transform
        self.batch_size, self.seed, self.rank, self.world_size = batch_size, seed, rank, world_size
        self.sampler = PatchSampler(slides, cfg.patch_px, cfg.mpps, cfg.min_foreground,
                                    cfg.slide_sampling, cfg.mpp_weights, cfg.distinct_patches,
                                    seed)
        self.readers = _ReaderPool(slides, cfg)
        self.start_batch, self.end_batch = 0, None
        self._patch_cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._patch_cache_bytes = 0

    @property
    def batches_per_epoch(self) -> int:
        return max(1, self.cfg.epoch_patches // (self.batch_size * self.world_size))

    def patch_indices(self, b: int) -> range:
        """Global patch indices of batch ``b`` of this rank."""
        first = (b * self.world_size + self.rank) * self.batch_size
        return range(first, first + self.batch_size)

    def read(self, spec: PatchSpec) -> np.ndarray:
        """(size_px, size_px, 3) uint8 pixels of a patch."""
        reader = self.readers.get(spec.slide)
        return reader.read_patch(spec.x0, spec.y0, spec.size_px, spec.mpp)

    def patch(self, j: int) -> np.ndarray:
        """Pixels of draw ``j``; in distinct mode recycled draws come from a per-worker cache
        (a miss re-reads the same pixels: reads are deterministic)."""
        src = self.sampler.source_index(j)
        if self.cfg.distinct_patches is None:
            return self.read(self.sampler.spec(j))
        if src in self._patch_cache:
            self._patch_cache.move_to_end(src)
            return self._patch_cache[src]
        pixels = self.read(self.sampler.spec(src))
        self._patch_cache[src] = pixels
        self._patch_cache_bytes += pixels.nbytes
        while self._patch_cache_bytes > self.cfg.patch_cache_mb * 2**20 and self._patch_cache:
            self._patch_cache_bytes -= self._patch_cache.popitem(last=False)[1].nbytes
        return pixels

    def sample(self, j: int) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(_seed_of(self.seed, 2, j))
        return self.transform(self.patch(j), g)

    def batch(self, b: int) -> dict:
        return collate_multicrop([self.sample(j) for j in self.patch_indices(b)])

    def __iter__(self):
        info = get_worker_info()
        w, n_workers = (0, 1) if info is None else (info.id, info.num_workers)
        end = self.end_batch
        b = self.start_batch + w
        while end is None or b < end:
            yield self.batch(b)
            b += n_workers


def _worker_init(_worker_id: int) -> None:
    # The main process alone handles stop signals (checkpoint, exit 75); a worker killed
    # by the same SIGTERM would make the DataLoader raise before the checkpoint is written.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    torch.set_num_threads(1)  # workers crop in parallel; one thread each avoids oversubscription


class OnlinePatchLoader:
    """Resumable iterable of batches for ``pathfm.train.loop.fit`` (one epoch per ``iter``)."""

    def __init__(self, slides: list[SlideEntry], cfg: OnlinePatchingConfig, transform: MultiCrop,
                 batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        self.dataset = OnlinePatchDataset(slides, cfg, transform, batch_size, seed, rank,
                                          world_size)
        self.cfg = cfg
        self.next_batch = 0

    def __iter__(self):
        ds = self.dataset
        ds.start_batch = self.next_batch
        ds.end_batch = (self.next_batch // ds.batches_per_epoch + 1) * ds.batches_per_epoch
        if self.cfg.num_workers > 0:
            source = DataLoader(ds, batch_size=None, num_workers=self.cfg.num_workers,
                                prefetch_factor=self.cfg.prefetch_factor,
                                worker_init_fn=_worker_init, persistent_workers=False)
        else:
            source = ds
        for batch in source:
            self.next_batch += 1
            yield batch

    def __len__(self) -> int:
        return self.dataset.batches_per_epoch

    def state_dict(self) -> dict:
        d = self.dataset
        return {"next_batch": self.next_batch, "seed": d.seed, "batch_size": d.batch_size,
                "world_size": d.world_size}

    def load_state_dict(self, state: dict) -> None:
        d = self.dataset
        for key in ("seed", "batch_size", "world_size"):
            if state.get(key, getattr(d, key)) != getattr(d, key):
                raise ValueError(
                    f"cannot resume the online patch stream: checkpoint {key}={state[key]} but "
                    f"this run has {getattr(d, key)}; the patch order depends on it")
        self.next_batch = int(state["next_batch"])
