"""Multi-crop training batches from tile stores (H0-mini distils on tiles).

Tiles come from ``results/tiles/{cohort}/{tiling}/{slide_id}.zarr``: the
``pixels`` array when the tiling stored them (chunked by 64 tiles), otherwise
read from the slide at the store's target mpp (``slides_dir/{slide_id}.svs``,
level-0 mpp taken from the store, so it matches the tiling exactly).

Order: a *block shuffle*. The (store, chunk) list is permuted per epoch; groups
of ``shuffle_chunks`` chunks are read whole (one decompression per chunk) and
their tiles shuffled together. Chunk groups are dealt to ranks, then to
DataLoader workers, so no two processes read the same tile in an epoch. Every
rank yields the same number of batches (the minimum over ranks), which DDP needs.
Crops of a tile are a pure function of (seed, epoch, tile), so runs reproduce.

Batches: ``{"global": (2·B, 3, G, G), "local": (M·B, 3, L, L)}``, crop-major
(``pathfm.data.multicrop.collate_multicrop``), normalised with the crops' mean/std.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from pathfm.data.multicrop import MultiCrop, MultiCropConfig, collate_multicrop
from pathfm.wsi.tile_store import PIXEL_CHUNK_TILES, open_tile_store


def _chunks(stores: Sequence[Path]) -> list[tuple[int, int, int]]:
    """(store index, first tile, end tile) of every chunk of every store."""
    out = []
    for i, path in enumerate(stores):
        group = open_tile_store(path)
        n = int(group["coords_px"].shape[0])
        size = int(group["pixels"].chunks[0]) if "pixels" in group else PIXEL_CHUNK_TILES
        out += [(i, lo, min(lo + size, n)) for lo in range(0, n, size)]
    return out


class TileStoreCrops(IterableDataset):
    """Iterable of multi-crop batches of ``batch_size`` tiles for one rank (see module doc)."""

    def __init__(self, stores: Sequence[str | Path], multicrop: MultiCrop, batch_size: int,
                 seed: int = 0, rank: int = 0, world_size: int = 1, shuffle_chunks: int = 4,
                 slides_dir: str | Path | None = None, num_workers: int = 0):
        if not stores:
            raise ValueError("no tile stores given to train on")
        self.stores = [Path(s) for s in stores]
        self.multicrop, self.batch_size, self.seed = multicrop, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.shuffle_chunks = max(1, shuffle_chunks)
        self.slides_dir = Path(slides_dir) if slides_dir else None
        self.num_workers = max(0, num_workers)
        self.chunks = _chunks(self.stores)
        self.epoch = 0
        if self.batches_per_epoch() == 0:
            raise ValueError(f"{sum(c[2] - c[1] for c in self.chunks)} tiles in {len(stores)} "
                             f"stores give no full batch of {batch_size} per rank")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _groups(self, epoch: int) -> list[list[tuple[int, int, int]]]:
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.chunks))
        k = self.shuffle_chunks
        return [[self.chunks[j] for j in order[i:i + k]] for i in range(0, len(order), k)]

    def _share(self, groups, rank: int, worker: int, n_workers: int):
        return groups[rank::self.world_size][worker::n_workers]

    def batches_per_epoch(self, epoch: int | None = None) -> int:
        """Batches every rank yields in ``epoch`` (default: the current one): the minimum
        over ranks, so all ranks stop together."""
        groups = self._groups(self.epoch if epoch is None else epoch)
        workers = max(1, self.num_workers)
        counts = []
        for r in range(self.world_size):
            counts.append(sum(sum(c[2] - c[1] for g in self._share(groups, r, w, workers)
                                  for c in g) // self.batch_size for w in range(workers)))
        return min(counts)

    def _read(self, chunk: tuple[int, int, int]) -> np.ndarray:
        """(n, H, W, 3) uint8 tiles of one chunk, from the store or from the slide."""
        i, lo, hi = chunk
        group = open_tile_store(self.stores[i])
        if "pixels" in group:
            return np.asarray(group["pixels"][lo:hi])
        if self.slides_dir is None:
            raise ValueError(f"{self.stores[i]} holds no pixels; give slides_dir to read tiles "
                             f"from the slides")
        from pathfm.wsi.slide import open_slide

        a = group.attrs
        slide = self.slides_dir / f"{a['slide_id']}.svs"
        coords = np.asarray(group["coords_px"][lo:hi])
        with open_slide(slide, mpp_override=a["level0_mpp"], mpp_policy="force") as s:
            return np.stack([s.read_region_mpp(x, y, a["tile_px"], a["tile_px"], a["target_mpp"])
                             for x, y in coords])

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        worker, n_workers = (info.id, info.num_workers) if info else (0, 1)
        epoch, b = self.epoch, self.batch_size
        rng = np.random.default_rng([self.seed, epoch, self.rank, worker])
        pending: list[list[torch.Tensor]] = []
        for group in self._share(self._groups(epoch), self.rank, worker, n_workers):
            tiles = np.concatenate([self._read(c) for c in group])
            ids = np.concatenate([np.arange(c[1], c[2]) + 1_000_003 * c[0] for c in group])
            for j in rng.permutation(len(tiles)):
                g = torch.Generator().manual_seed(int(self.seed * 7919 + epoch * 1_000_033
                                                      + ids[j]))
                pending.append(self.multicrop(tiles[j], g))
                if len(pending) == b:
                    yield collate_multicrop(pending)
                    pending = []


class TileBatches:
    """The loop's data: a DataLoader over ``TileStoreCrops`` with ``set_epoch`` and a fixed
    number of batches per epoch (equal on every rank)."""

    def __init__(self, dataset: TileStoreCrops):
        self.dataset = dataset

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return self.dataset.batches_per_epoch()

    def __iter__(self) -> Iterator[dict]:
        n_batches, n = len(self), self.dataset.num_workers
        loader = DataLoader(self.dataset, batch_size=None, num_workers=n,
                            persistent_workers=False, prefetch_factor=2 if n else None)
        for i, batch in enumerate(loader):
            if i >= n_batches:
                break
            yield batch


def tile_batches(stores: Sequence[str | Path], crops: dict, mean, std, batch_size: int,
                 seed: int = 0, rank: int = 0, world_size: int = 1, shuffle_chunks: int = 4,
                 num_workers: int = 0, slides_dir: str | Path | None = None) -> TileBatches:
    """Training batches from tile stores with a model's mean/std (its embedding contract).

    ``crops``: global_size, local_size, n_local, global_scale, local_scale (MultiCropConfig).
    """
    cfg = MultiCropConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in crops.items()},
                          mean=tuple(mean), std=tuple(std))
    ds = TileStoreCrops(stores, MultiCrop(cfg), batch_size, seed, rank, world_size,
                        shuffle_chunks, slides_dir, num_workers)
    return TileBatches(ds)
