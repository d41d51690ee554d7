"""Embedding stores (zarr groups), written shard by shard and resumable.

Layout (DESIGN "An embedding store"): ``features`` (N×D float16/float32), ``ids``
(N str), optional ``labels`` (N int64), ``split``, ``group`` (N str),
``coords_px`` (N×2), extra poolings as ``pooled_<name>``; attributes: model,
weights sha256, contract, dataset, dtype, code version, images/s.

While extraction runs the store lives at ``.{name}.partial`` beside the target
with ``done_shards`` in its attributes; a re-run whose provenance matches skips
those shards, and the finished store is renamed onto the target in one step.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr

STR_ARRAYS = ("ids", "split", "group")


def pooling_array_name(pooling: str) -> str:
    """'cls+mean' -> 'pooled_cls_mean' (zarr names avoid '+')."""
    return "pooled_" + pooling.replace("+", "_")


def partial_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.partial")


def _write_meta(group: zarr.Group, meta: dict[str, np.ndarray]) -> None:
    for name, values in meta.items():
        values = np.asarray(values)
        if name in STR_ARRAYS:
            group.create_array(name, data=values.astype(str).astype(np.dtypes.StringDType()))
        else:
            group.create_array(name, data=values)


class ShardWriter:
    """Create (or reopen, when provenance matches) the partial store and fill it shard by shard."""

    def __init__(self, path: str | Path, n: int, dims: dict[str, int], dtype: str, shard_size: int,
                 meta: dict[str, np.ndarray], attrs: dict):
        self.path, self.tmp = Path(path), partial_path(path)
        self.n, self.shard_size = n, shard_size
        self.n_shards = max(1, -(-n // shard_size))
        key = {"provenance": attrs, "n": n, "dims": dims, "dtype": dtype, "shard_size": shard_size}
        if self.tmp.exists():
            try:
                g = zarr.open_group(str(self.tmp), mode="r+")
                if g.attrs.get("resume_key") != key:
                    raise ValueError("different settings")
                self.group = g
                return
            except Exception:  # a partial store of other settings (or unreadable): start over
                shutil.rmtree(self.tmp)
        self.tmp.parent.mkdir(parents=True, exist_ok=True)
        g = zarr.open_group(str(self.tmp), mode="w")
        for name, d in dims.items():
            g.create_array(name, shape=(n, d), dtype=dtype, chunks=(min(shard_size, max(n, 1)), d))
        _write_meta(g, meta)
        g.attrs.update({**attrs, "resume_key": key, "done_shards": []})
        self.group = g

    @property
    def done(self) -> set[int]:
        return set(self.group.attrs.get("done_shards", []))

    def shard_range(self, k: int) -> tuple[int, int]:
        return k * self.shard_size, min(self.n, (k + 1) * self.shard_size)

    def write_shard(self, k: int, arrays: dict[str, np.ndarray]) -> None:
        a, b = self.shard_range(k)
        for name, values in arrays.items():
            self.group[name][a:b] = values
        # Recorded only after the data are written, so a kill never marks a half shard done.
        self.group.attrs["done_shards"] = sorted(self.done | {k})

    def finish(self, extra_attrs: dict) -> None:
        missing = set(range(self.n_shards)) - self.done
        if missing:
            raise RuntimeError(f"{self.tmp}: shards {sorted(missing)[:5]} were never written")
        attrs = dict(self.group.attrs)
        attrs.pop("resume_key", None)
        attrs.pop("done_shards", None)
        self.group.attrs.clear()
        self.group.attrs.update({**attrs, **extra_attrs})
        if self.path.exists():
            shutil.rmtree(self.path)
        os.replace(self.tmp, self.path)


@dataclass
class EmbeddingStore:
    """An embedding store read into memory: features (N×D float32) and per-sample arrays."""

    path: Path
    features: np.ndarray
    meta: dict[str, np.ndarray]
    attrs: dict

    def pooled(self, pooling: str | None) -> np.ndarray:
        """Features of ``pooling`` (None or the contract's pooling: ``features``)."""
        if pooling is None or pooling == self.attrs.get("contract", {}).get("pooling"):
            return self.features
        name = pooling_array_name(pooling)
        if name not in self.meta:
            raise KeyError(f"{self.path}: no {pooling!r} pooling stored; re-embed with --extra-poolings {pooling}")
        return self.meta[name]


def open_embedding_store(path: str | Path) -> EmbeddingStore:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"embedding store not found: {path}")
    g = zarr.open_group(str(path), mode="r")
    feats = np.asarray(g["features"][:], dtype=np.float32)
    meta = {}
    for name in g.array_keys():
        if name == "features":
            continue
        arr = np.asarray(g[name][:])
        if name in STR_ARRAYS:
            arr = np.array(arr.tolist(), dtype=object)
        elif name.startswith("pooled_"):
            arr = arr.astype(np.float32)
        meta[name] = arr
    return EmbeddingStore(path, feats, meta, dict(g.attrs))
