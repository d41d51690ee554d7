"""kaiko.ai's TCGA TP53 patch task, built from a GDC cohort's own slides and masks.

kaiko.ai (Table V): "we randomly sampled 102,400 patches from TCGA and assigned the
respective TP53 labels derived from their originating WSIs": 224 × 224 px at 20×
(0.5 µm/px), two classes, all TCGA tissues. The labels are the GDC's patient-level
TP53 status (:mod:`pathfm.sources.gdc_labels`, results/labels/tp53.tsv); a patch takes
its patient's label.

"Randomly sampled patches" is read as a draw without replacement from the tissue tile
grid of every labelled slide: the grid of the tiling step (:func:`pathfm.wsi.tiling.tile_grid`,
non-overlapping tiles at ``mpp``, kept when the tissue mask covers ``min_tissue`` of
them), computed from each slide's mask. ``sampling``:

* ``tile_uniform`` (default): every tissue tile of the cohort equally likely, so a
  slide contributes in proportion to its tissue (a multivariate hypergeometric draw of
  the per-slide counts, then the tiles within each slide);
* ``slide_uniform``: each patch picks a slide uniformly among those with tiles left,
  then one of its tiles.

The output is the format of :mod:`pathfm.demo_tasks.tp53_like` (what embedding and the
TP53 probe read): ``patches.h5`` (``img``, ``patch_id``, ``patient``, ``slide_id``,
``label``, ``coords_px``; attributes recording the cohort, the counts and the settings)
and ``labels.tsv`` (the label table's rows of the patients in the set).

102,400 patches of 224² px are 15 GB of pixels, so they are written as they are read,
``chunk_patches`` at a time, into a resizable compressed dataset; the slides are read
one at a time, each opened once, its patches in grid order. The tile grids are kept as
int32 coordinates (8 bytes per tissue tile: ~0.7 GB for the ~80 million tissue tiles of
all TCGA diagnostic slides).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from pathfm.io import atomic_dir
from pathfm.manifest import ManifestError, mpp_override, read_manifest
from pathfm.params import from_dict
from pathfm.version import code_version
from pathfm.wsi.errors import SlideOpenError, SlideReadError, SlideTruncatedError
from pathfm.wsi.qc import read_png
from pathfm.wsi.slide import open_slide
from pathfm.wsi.tiling import TilingParams, tile_grid

log = logging.getLogger(__name__)

SAMPLINGS = ("tile_uniform", "slide_uniform")
ON_UNREADABLE = ("fail", "skip")
COMPRESSIONS = ("lzf", "gzip")
LABEL_COLUMN = "tp53_aberrated"
# Damage to the file itself, which on_unreadable=skip tolerates. A missing mpp or a mask
# made at another mpp is a setup error and fails whatever the setting.
UNREADABLE_ERRORS = (SlideReadError, SlideTruncatedError, SlideOpenError)
_PROGRESS_S = 60.0


@dataclass(frozen=True)
class TP53PatchParams:
    n_patches: int = 102_400
    tile_px: int = 224  # patch edge in pixels at ``mpp``
    mpp: float = 0.5  # µm/px of the patches (20×)
    min_tissue: float = 0.5  # fraction of a grid tile the tissue mask must cover
    sampling: str = "tile_uniform"
    on_unreadable: str = "fail"  # skip: leave out a slide whose pixels do not decode
    chunk_patches: int = 64  # rows per HDF5 chunk, and per write
    compression: str = "lzf"

    @classmethod
    def from_dict(cls, values: dict) -> TP53PatchParams:
        p = from_dict(cls, values, "TP53 patch set")
        if p.n_patches < 1 or p.tile_px < 1 or p.chunk_patches < 1 or p.mpp <= 0:
            raise ValueError(f"n_patches, tile_px, chunk_patches and mpp must be positive: {p}")
        if not 0.0 <= p.min_tissue <= 1.0:
            raise ValueError(f"min_tissue must be in [0, 1], got {p.min_tissue}")
        for name, allowed in (("sampling", SAMPLINGS), ("on_unreadable", ON_UNREADABLE),
                              ("compression", COMPRESSIONS)):
            if getattr(p, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(p, name)!r}")
        return p

    def tiling(self) -> TilingParams:
        return TilingParams(mpp=self.mpp, tile_px=self.tile_px, stride_px=self.tile_px,
                            min_tissue=self.min_tissue, pixels=False)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class LabelledSlide:
    slide_id: str
    path: Path
    patient: str
    label: int
    mpp_override: float | None
    mask_dir: Path
    coords: np.ndarray | None = None  # (N, 2) int32 level-0 top-left of its tissue tiles
    mask_mpp: float | None = None  # level-0 mpp the mask was made with


# Inputs --------------------------------------------------------------------------------


def read_labels(path: str | Path) -> pd.DataFrame:
    """The label table (patient, tp53_aberrated, …); patients without a 0/1 label dropped."""
    df = pd.read_csv(path, sep="\t", dtype={"patient": str})
    missing = [c for c in ("patient", LABEL_COLUMN) if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected the table of "
                         f"pathfm gdc-labels --label tp53")
    df = df[df["patient"].notna() & df[LABEL_COLUMN].notna()].copy()
    bad = sorted(set(df[LABEL_COLUMN].unique()) - {0, 1})
    if bad:
        raise ValueError(f"{path}: {LABEL_COLUMN} must be 0 or 1, found {bad[:5]}")
    dup = df["patient"][df["patient"].duplicated()].unique().tolist()
    if dup:
        raise ValueError(f"{path}: patient(s) listed twice: {dup[:5]}")
    df[LABEL_COLUMN] = df[LABEL_COLUMN].astype(int)
    return df.reset_index(drop=True)


def labelled_slides(manifest: pd.DataFrame, labels: pd.DataFrame, masks_dir: str | Path,
                    source: str | Path = "<manifest>") -> list[LabelledSlide]:
    """The manifest's slides whose patient has a label, in manifest order."""
    if "patient" not in manifest.columns:
        raise ManifestError(f"{source}: no 'patient' column; a TP53 patch set needs each "
                            f"slide's patient to find its label")
    label_of = dict(zip(labels["patient"], labels[LABEL_COLUMN]))
    out = []
    for _, row in manifest.iterrows():
        patient = row["patient"]
        if not isinstance(patient, str) or patient not in label_of:
            continue
        out.append(LabelledSlide(str(row["slide_id"]), Path(row["path"]), patient,
                                 int(label_of[patient]), mpp_override(row),
                                 Path(masks_dir) / str(row["slide_id"])))
    return out


def slide_tiles(mask_dir: str | Path, tiling: TilingParams) -> tuple[np.ndarray, float]:
    """(tissue tile coordinates as int32, the level-0 mpp) of one slide, from its mask."""
    mask_dir = Path(mask_dir)
    meta = json.loads((mask_dir / "mask.json").read_text())
    mask = read_png(mask_dir / "mask.png") > 0
    slide = meta["slide"]
    grid = tile_grid(tuple(slide["dimensions"]), slide["mpp"], mask, meta["mask_mpp"], tiling)
    return grid.coords_px.astype(np.int32), float(slide["mpp"])


# Sampling ------------------------------------------------------------------------------


def allocate(counts: Iterable[int], n: int, sampling: str, rng: np.random.Generator) -> np.ndarray:
    """Patches drawn from each slide, given its tissue tile count (no tile drawn twice)."""
    counts = np.asarray(list(counts), dtype=np.int64)
    total = int(counts.sum())
    if n > total:
        raise ValueError(f"{n} patches requested but the slides hold only {total} tissue "
                         f"tiles; lower n_patches or min_tissue")
    if sampling == "tile_uniform":
        # Uniform without replacement over the union of the tiles = a multivariate
        # hypergeometric split over the slides ('marginals' needs no memory per tile).
        return rng.multivariate_hypergeometric(counts, n, method="marginals")
    if sampling != "slide_uniform":
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    # One uniform slide per patch, redrawn when that slide has no tile left: a multinomial
    # over the open slides, the draws past a slide's tiles spread again over those still open.
    out = np.zeros_like(counts)
    left = n
    while left:
        open_ = np.flatnonzero(out < counts)
        draw = rng.multinomial(left, np.full(len(open_), 1.0 / len(open_)))
        take = np.minimum(draw, counts[open_] - out[open_])
        out[open_] += take
        left -= int(take.sum())
    return out


def choose_tiles(count: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` of a slide's ``count`` tiles, sorted (grid order: reads follow the rows)."""
    if k >= count:
        return np.arange(count)
    return np.sort(rng.choice(count, size=k, replace=False))


# Writing -------------------------------------------------------------------------------


class _PatchWriter:
    """Appends patches to a chunked, resizable ``img`` dataset, one chunk in memory.

    ``begin_slide`` marks where a slide starts, so that a slide failing mid-read
    (on_unreadable=skip) is taken out again with ``drop_slide``.
    """

    def __init__(self, f: h5py.File, params: TP53PatchParams):
        s, self.chunk = params.tile_px, params.chunk_patches
        self.img = f.create_dataset("img", shape=(0, s, s, 3), maxshape=(None, s, s, 3),
                                    dtype=np.uint8, chunks=(self.chunk, s, s, 3),
                                    compression=params.compression)
        self._buf = np.zeros((self.chunk, s, s, 3), np.uint8)
        self._n_buf = 0
        self.written = 0
        self.meta: dict[str, list] = {"patch_id": [], "patient": [], "slide_id": [], "label": [],
                                      "coords_px": []}
        self._mark = 0

    def __len__(self) -> int:
        return self.written + self._n_buf

    def begin_slide(self) -> None:
        self._mark = len(self)

    def add(self, rgb: np.ndarray, slide: LabelledSlide, x: int, y: int) -> None:
        self._buf[self._n_buf] = rgb
        self._n_buf += 1
        for key, value in (("patch_id", f"{slide.slide_id}:{x}_{y}"), ("patient", slide.patient),
                           ("slide_id", slide.slide_id), ("label", slide.label),
                           ("coords_px", (x, y))):
            self.meta[key].append(value)
        if self._n_buf == self.chunk:
            self.flush()

    def flush(self) -> None:
        if not self._n_buf:
            return
        end = self.written + self._n_buf
        self.img.resize(end, axis=0)
        self.img[self.written:end] = self._buf[:self._n_buf]
        self.written, self._n_buf = end, 0

    def drop_slide(self) -> None:
        if self.written > self._mark:
            self.img.resize(self._mark, axis=0)
            self.written, self._n_buf = self._mark, 0
        else:  # the buffer may still hold the end of the slide before
            self._n_buf = self._mark - self.written
        for values in self.meta.values():
            del values[self._mark:]

    def close(self, f: h5py.File) -> None:
        self.flush()
        enc = lambda v: np.array(v, dtype="S")  # noqa: E731
        for key in ("patch_id", "patient", "slide_id"):
            f.create_dataset(key, data=enc(self.meta[key]))
        f.create_dataset("label", data=np.asarray(self.meta["label"], np.int64))
        coords = np.asarray(self.meta["coords_px"], np.int64).reshape(-1, 2)
        f.create_dataset("coords_px", data=coords)


# The build -----------------------------------------------------------------------------


class _Progress:
    def __init__(self, what: str, total: int):
        self.what, self.total, self.t0, self.last = what, total, time.perf_counter(), 0.0

    def __call__(self, done: int) -> None:
        now = time.perf_counter() - self.t0
        if done == self.total or now - self.last >= _PROGRESS_S:
            self.last = now
            log.info("%s: %d/%d slides, %.0f s", self.what, done, self.total, now)


def _grids(slides: list[LabelledSlide], tiling: TilingParams, workers: int) -> None:
    # Checked before hours of grids: a missing file is a setup error, never "unreadable".
    missing = [str(p) for s in slides for p in (s.path, s.mask_dir / "mask.json")
               if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} slide or mask file(s) not found, e.g. "
                                f"{missing[:3]}; download and mask the cohort first")
    progress = _Progress("tile grids", len(slides))
    # Threads: the PNG decode and the integral image release the GIL for most of a slide.
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for i, (s, (coords, mpp)) in enumerate(
                zip(slides, pool.map(lambda s: slide_tiles(s.mask_dir, tiling), slides)), 1):
            s.coords, s.mask_mpp = coords, mpp
            progress(i)


def _read_slide(slide: LabelledSlide, picks: np.ndarray, writer: _PatchWriter,
                params: TP53PatchParams, mpp_policy: str) -> None:
    with open_slide(slide.path, mpp_override=slide.mpp_override, mpp_policy=mpp_policy,
                    slide_id=slide.slide_id) as wsi:
        if abs(wsi.mpp - slide.mask_mpp) > 1e-9:
            raise ValueError(f"{slide.mask_dir}: mask was made with level-0 mpp {slide.mask_mpp} "
                             f"but {slide.path} now resolves to {wsi.mpp}; re-run the mask step")
        for x, y in slide.coords[picks]:
            rgb = wsi.read_region_mpp(int(x), int(y), params.tile_px, params.tile_px, params.mpp)
            writer.add(rgb, slide, int(x), int(y))


def build_tp53_patches(out: str | Path, manifest: str | Path, labels: str | Path,
                       masks_dir: str | Path, params: TP53PatchParams, *, seed: int = 0,
                       cohort: str = "", mpp_policy: str = "fallback", workers: int = 1,
                       on_slide: Callable[[str, int], None] | None = None) -> dict:
    """Draw ``params.n_patches`` labelled patches from a cohort's slides into ``out``.

    ``masks_dir`` holds ``{slide_id}/mask.json`` and ``mask.png`` of each slide (the mask
    step's output); slides are found at the manifest's ``path``. ``workers`` threads
    compute the tile grids (the result does not depend on it). ``on_slide(slide_id, k)``
    is called after each slide's k patches are read (progress and tests). Returns the
    summary also written as ``patches.h5`` attributes.
    """
    manifest_df = read_manifest(manifest)
    label_df = read_labels(labels)
    slides = labelled_slides(manifest_df, label_df, masks_dir, manifest)
    if not slides:
        raise ValueError(f"no slide of {manifest} belongs to a patient labelled in {labels}")
    log.info("%d of %d slides belong to %d labelled patients", len(slides), len(manifest_df),
             len({s.patient for s in slides}))
    _grids(slides, params.tiling(), workers)
    counts = np.array([len(s.coords) for s in slides], np.int64)
    rng = np.random.default_rng(seed)
    per_slide = allocate(counts, params.n_patches, params.sampling, rng)
    picks = [choose_tiles(int(c), int(k), rng) for c, k in zip(counts, per_slide)]
    log.info("%s: %d patches from %d slides (%d tissue tiles)", params.sampling,
             params.n_patches, int((per_slide > 0).sum()), int(counts.sum()))

    unreadable: list[dict] = []
    with atomic_dir(out) as tmp:
        with h5py.File(tmp / "patches.h5", "w") as f:
            writer = _PatchWriter(f, params)
            todo = [i for i, k in enumerate(per_slide) if k]
            progress = _Progress("patches", len(todo))
            for done, i in enumerate(todo, 1):
                slide = slides[i]
                writer.begin_slide()
                try:
                    _read_slide(slide, picks[i], writer, params, mpp_policy)
                except UNREADABLE_ERRORS as exc:
                    if params.on_unreadable == "fail":
                        raise
                    writer.drop_slide()
                    unreadable.append({"slide_id": slide.slide_id, "patches": int(per_slide[i]),
                                       "error": str(exc)})
                    log.warning("skipping %s (%d patches left out): %s", slide.slide_id,
                                per_slide[i], exc)
                if on_slide is not None:
                    on_slide(slide.slide_id, int(per_slide[i]))
                progress(done)
            if not len(writer):
                raise ValueError(f"every slide holding a drawn patch was unreadable: {unreadable}")
            writer.close(f)
            summary = _summary(writer, counts, unreadable, params, seed, cohort, len(slides))
            for key, value in summary.items():
                f.attrs[key] = value
        kept = set(writer.meta["patient"])
        label_df[label_df["patient"].isin(kept)].to_csv(tmp / "labels.tsv", sep="\t", index=False)
    return summary


def _summary(writer: _PatchWriter, counts: np.ndarray, unreadable: list[dict],
             params: TP53PatchParams, seed: int, cohort: str, n_labelled: int) -> dict:
    labels = np.asarray(writer.meta["label"], np.int64)
    patient_label = dict(zip(writer.meta["patient"], writer.meta["label"]))
    per_patient = np.bincount(np.fromiter(patient_label.values(), np.int64), minlength=2)
    return {
        "cohort": cohort,
        "mpp": params.mpp,
        "tile_px": params.tile_px,
        "sampling": params.sampling,
        "seed": seed,
        "settings": json.dumps(params.to_dict(), sort_keys=True),
        "n_patches": len(labels),
        "n_requested": params.n_patches,
        "n_slides": len(set(writer.meta["slide_id"])),
        "n_patients": len(patient_label),
        # index = label (0 wild type, 1 aberrated)
        "n_patches_per_class": np.bincount(labels, minlength=2).astype(np.int64),
        "n_patients_per_class": per_patient.astype(np.int64),
        "n_labelled_slides": n_labelled,
        "n_tissue_slides": int((counts > 0).sum()),
        "n_tissue_tiles": int(counts.sum()),
        "n_unreadable": len(unreadable),
        "unreadable": json.dumps(unreadable),
        "code_version": code_version(),
    }

