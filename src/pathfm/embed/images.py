"""Image sources for extraction: every input kind behind one indexable interface.

An :class:`ImageSource` has ``len``, ``image(i) -> (H, W, 3) uint8``,
``images(a, b)`` (the run ``a:b``, one read per chunked store instead of one per
image: a zarr or h5 chunk holds many tiles, and reading tiles one at a time
decompressed each chunk once per tile, which cost 70× the slice read) and ``meta``:
per-image arrays written beside the features (``ids`` always; ``labels``,
``split``, ``group`` (patient / slide / HEST sample), ``coords_px`` when known).
File handles (h5, zarr) are opened lazily so each DataLoader worker has its own.

Kinds: ``tiles`` (pathfm tile stores with pixels), the EVA datasets ``bach``,
``crc``, ``mhist``, ``pcam`` (read by :mod:`pathfm.sources.datasets` with eva's
splits), ``hest`` (one HEST-bench task folder) and ``tp53`` (a patch set with
patient-level labels, :mod:`pathfm.demo_tasks.tp53_like` format).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import h5py
import numpy as np

from pathfm.sources.datasets import bach, crc, hest, mhist, pcam

DATASET_KINDS = ("tiles", "bach", "crc", "mhist", "pcam", "hest", "tp53")


class ImageSource:
    """Base: subclasses fill ``meta`` and implement ``image``."""

    kind = "base"

    def __init__(self, meta: dict[str, np.ndarray], description: dict):
        self.meta = meta
        self.description = description  # recorded in the store's attributes

    def __len__(self) -> int:
        return len(self.meta["ids"])

    def image(self, i: int) -> np.ndarray:
        raise NotImplementedError

    def images(self, a: int, b: int) -> np.ndarray | list[np.ndarray]:
        """Images ``a`` to ``b - 1``: an (n, H, W, 3) array, or a list when sizes may differ."""
        return [self.image(i) for i in range(a, b)]


class _PartedImages(ImageSource):
    """Images concatenated from parts (stores, h5 datasets) that each read a slice in one call."""

    offsets: np.ndarray

    def _part(self, p: int):
        raise NotImplementedError

    def image(self, i: int) -> np.ndarray:
        p = int(np.searchsorted(self.offsets, i, side="right") - 1)
        return np.asarray(self._part(p)[i - self.offsets[p]])

    def images(self, a: int, b: int) -> np.ndarray:
        out = []
        while a < b:
            p = int(np.searchsorted(self.offsets, a, side="right") - 1)
            stop = min(b, int(self.offsets[p + 1]))
            out.append(np.asarray(self._part(p)[a - self.offsets[p]:stop - self.offsets[p]]))
            a = stop
        return out[0] if len(out) == 1 else np.concatenate(out)


class FileImages(ImageSource):
    """One image file per sample (BACH .tif, CRC .tif, MHIST .png), read with OpenCV."""

    kind = "files"

    def __init__(self, paths: Sequence[str], meta: dict[str, np.ndarray], description: dict):
        super().__init__(meta, description)
        self.paths = list(paths)

    def image(self, i: int) -> np.ndarray:
        img = cv2.imread(self.paths[i], cv2.IMREAD_COLOR)
        if img is None:
            raise OSError(f"cannot read image {self.paths[i]}")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class H5Images(_PartedImages):
    """Images stored in h5 datasets: a list of (file, dataset, n) parts, concatenated."""

    kind = "h5"

    def __init__(self, parts: Sequence[tuple[str, str, int]], meta: dict[str, np.ndarray], description: dict):
        super().__init__(meta, description)
        self.parts = list(parts)
        self.offsets = np.cumsum([0] + [n for _, _, n in self.parts])
        self._handles: dict[int, h5py.Dataset] = {}

    def _part(self, p: int) -> h5py.Dataset:
        if p not in self._handles:  # opened in the process that reads (worker-safe)
            path, name, _ = self.parts[p]
            # A chunk cache that holds a whole chunk: HEST / PCam chunks span many images,
            # and h5py's default 1 MB cache would decompress a chunk once per image.
            self._handles[p] = h5py.File(path, "r", rdcc_nbytes=256 << 20, rdcc_nslots=10007)[name]
        return self._handles[p]

    def __getstate__(self):
        return {**self.__dict__, "_handles": {}}


class TileStoreImages(_PartedImages):
    """Tiles of one or more pathfm tile stores (``pixels`` required)."""

    kind = "tiles"

    def __init__(self, stores: Sequence[str]):
        import zarr

        self.stores = [str(s) for s in stores]
        ids, coords, groups, counts, tile_ids = [], [], [], [], []
        for path in self.stores:
            g = zarr.open_group(path, mode="r")
            if "pixels" not in g:
                raise ValueError(f"{path}: tile store has no pixels; re-tile with pixels: true in the tiling config")
            xy = np.asarray(g["coords_px"][:])
            slide = str(g.attrs.get("slide_id", Path(path).stem))
            ids += [f"{slide}:{x}_{y}" for x, y in xy]
            coords.append(xy)
            groups += [slide] * len(xy)
            counts.append(len(xy))
            if "tile_id" in g:  # PLISM: the id shared by matched tiles across slides
                tile_ids.append(np.asarray(g["tile_id"][:]))
        meta = {"ids": np.array(ids, dtype=object), "group": np.array(groups, dtype=object),
                "coords_px": np.concatenate(coords) if coords else np.zeros((0, 2), np.int64)}
        if tile_ids and len(tile_ids) == len(self.stores):
            meta["tile_id"] = np.concatenate(tile_ids)
        super().__init__(meta, {"kind": "tiles", "stores": self.stores})
        self.offsets = np.cumsum([0] + counts)
        self._arrays: dict[int, object] = {}

    def _part(self, p: int):
        import zarr

        if p not in self._arrays:
            self._arrays[p] = zarr.open_group(self.stores[p], mode="r")["pixels"]
        return self._arrays[p]

    def __getstate__(self):
        return {**self.__dict__, "_arrays": {}}


def _folder_source(kind: str, df, root: Path) -> FileImages:
    meta = {"ids": np.array([str(Path(p).relative_to(root)) for p in df["path"]], dtype=object),
            "labels": df["target"].to_numpy(np.int64),
            "split": df["split"].to_numpy(object)}
    return FileImages(df["path"].tolist(), meta, {"kind": kind, "root": str(root)})


def _pcam_source(root: Path) -> H5Images:
    parts, labels, split = [], [], []
    for name in ("train", "val", "test"):
        x, y = pcam.load(root, name)
        parts.append((str(pcam.h5_path(root, name, "x")), "x", len(y)))
        x.file.close()
        labels.append(y)
        split += [name] * len(y)
    n = sum(p[2] for p in parts)
    meta = {"ids": np.array([f"{s}:{i}" for s, c in zip(("train", "val", "test"), (p[2] for p in parts))
                             for i in range(c)], dtype=object),
            "labels": np.concatenate(labels), "split": np.array(split, dtype=object)}
    assert len(meta["ids"]) == n
    return H5Images(parts, meta, {"kind": "pcam", "root": str(root)})


def _hest_source(task_dir: Path) -> H5Images:
    """Every sample named in the task's splits, in first-appearance order; group = sample id."""
    samples: dict[str, str] = {}
    for fold in hest.folds(task_dir):
        for df in fold.values():
            for sid, rel in zip(df["sample_id"].astype(str), df["patches_path"]):
                samples.setdefault(sid, rel)
    parts, ids, groups, coords = [], [], [], []
    for sid, rel in samples.items():
        with h5py.File(task_dir / rel, "r") as f:
            bc = [b.decode() if isinstance(b, bytes) else str(b) for b in np.asarray(f["barcode"]).reshape(-1)]
            coords.append(np.asarray(f["coords"][:]).reshape(-1, 2).astype(np.int64))
            parts.append((str(task_dir / rel), "img", len(bc)))
        ids += bc
        groups += [sid] * len(bc)
    meta = {"ids": np.array(ids, dtype=object), "group": np.array(groups, dtype=object),
            "coords_px": np.concatenate(coords)}
    return H5Images(parts, meta, {"kind": "hest", "root": str(task_dir)})


def _tp53_source(root: Path) -> H5Images:
    path = root / "patches.h5"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: build the TP53 patch set first (scripts/build_demo_dataset.py)")
    with h5py.File(path, "r") as f:
        dec = lambda a: np.array([v.decode() if isinstance(v, bytes) else str(v) for v in a], dtype=object)  # noqa: E731
        meta = {"ids": dec(f["patch_id"][:]), "group": dec(f["patient"][:]),
                "labels": np.asarray(f["label"][:], dtype=np.int64),
                "coords_px": np.asarray(f["coords_px"][:], dtype=np.int64)}
        n = len(meta["ids"])
    return H5Images([(str(path), "img", n)], meta, {"kind": "tp53", "root": str(root)})


def open_image_source(kind: str, root: str | Path | None = None, task: str | None = None,
                      stores: Sequence[str] = ()) -> ImageSource:
    """The images of a dataset ``kind`` under ``root`` (HEST: ``root/task``), or tile ``stores``."""
    if kind not in DATASET_KINDS:
        raise ValueError(f"dataset kind {kind!r} is not one of {DATASET_KINDS}")
    if kind == "tiles":
        if not stores:
            raise ValueError("kind 'tiles' needs at least one tile store")
        return TileStoreImages(stores)
    if root is None:
        raise ValueError(f"dataset kind {kind!r} needs --root")
    root = Path(root)
    if kind in ("bach", "crc", "mhist"):
        mod = {"bach": bach, "crc": crc, "mhist": mhist}[kind]
        df = mod.load(root)
        df = df[df["split"] != ""].reset_index(drop=True)  # eva leaves unassigned BACH images out
        return _folder_source(kind, df, root)
    if kind == "pcam":
        return _pcam_source(root)
    if kind == "hest":
        if not task:
            raise ValueError("dataset kind 'hest' needs a task (a folder under the HEST root)")
        return _hest_source(root / task)
    return _tp53_source(root)
