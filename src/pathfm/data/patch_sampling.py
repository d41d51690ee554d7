"""Where online patches come from: the slide index and the patch sampler (kaiko IV-B).

A patch is a pure function of ``(seed, j)`` for its global index ``j`` in the
stream: draw a slide (uniformly, or weighted by tissue area), a magnification
(target mpp) from a set, then a top-left position uniformly among all positions
whose square overlaps the tissue polygons by at least ``min_foreground`` of its
area (rejection sampling, vectorised with shapely). Positions are snapped to
the pixel grid of the pyramid level that will be read, so every reader returns
the same pixels. Because no state is carried between draws, any rank or
DataLoader worker can compute any patch, and a resumed run continues the same
stream by index.

"Distinct patches" mode (kaiko Table IV): with ``distinct_patches = N``, draw
``j < N`` is new and every later draw picks one of those first N uniformly.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPolygon

from pathfm.data.patch_readers import level_for_mpp
from pathfm.manifest import mpp_override, read_manifest
from pathfm.wsi.polygons import geojson_to_polygons
from pathfm.wsi.slide import open_slide

SLIDE_SAMPLING = ("uniform", "tissue_area")
_CANDIDATES = 64  # positions tested per vectorised round
_ROUNDS = 16  # rounds before the slide and magnification are drawn again
_REDRAWS = 50  # slide redraws before giving up with an error


@dataclass
class SlideEntry:
    """One slide of the index. Coordinates are level-0 pixels."""

    slide_id: str
    path: str
    mpp: float  # level-0 µm/px
    width: int
    height: int
    downsamples: tuple[float, ...]
    tissue: MultiPolygon
    tissue_area_um2: float

    @property
    def level_mpps(self) -> list[float]:
        return [self.mpp * d for d in self.downsamples]


@dataclass(frozen=True)
class PatchSpec:
    """A patch to read: slide (index into the slide list), level-0 top-left, mpp, size."""

    slide: int
    x0: int
    y0: int
    mpp: float
    size_px: int
    foreground: float  # fraction of the square inside the tissue polygons

    def key(self) -> tuple:
        return (self.slide, self.x0, self.y0, self.mpp, self.size_px)


def build_slide_index(manifests: list[str | Path], mask_dirs: list[str | Path],
                      mpp_policy: str = "fallback") -> list[SlideEntry]:
    """Slides of every manifest with the tissue polygons of ``mask_dir/{slide_id}/tissue.geojson``.

    Each slide is opened once here to resolve its mpp and pyramid; slides with no
    tissue polygon are left out (they cannot give a foreground patch).
    """
    if len(manifests) != len(mask_dirs):
        raise ValueError(f"{len(manifests)} manifests but {len(mask_dirs)} mask folders; "
                         f"give one mask folder per manifest")
    index: list[SlideEntry] = []
    for manifest, mask_dir in zip(manifests, mask_dirs):
        for _, row in read_manifest(manifest).iterrows():
            geo_path = Path(mask_dir) / row["slide_id"] / "tissue.geojson"
            if not geo_path.is_file():
                raise FileNotFoundError(f"{geo_path}: tissue polygons of slide {row['slide_id']} "
                                        f"(manifest {manifest}) are missing; run the mask rule")
            tissue = geojson_to_polygons(json.loads(geo_path.read_text()))
            if tissue.is_empty:
                continue
            with open_slide(row["path"], mpp_override=mpp_override(row), mpp_policy=mpp_policy,
                            slide_id=row["slide_id"]) as slide:
                entry = SlideEntry(row["slide_id"], str(row["path"]), slide.mpp,
                                   slide.dimensions[0], slide.dimensions[1],
                                   tuple(lv.downsample for lv in slide.levels), tissue,
                                   float(tissue.area) * slide.mpp**2)
            index.append(entry)
    if not index:
        raise ValueError(f"no slide with tissue in {list(map(str, manifests))}; check the masks")
    return index


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


class PatchSampler:
    """``spec(j) -> PatchSpec``, deterministic from (seed, j); see the module docstring."""

    def __init__(self, slides: list[SlideEntry], size_px: int, mpps: list[float],
                 min_foreground: float = 0.4, slide_sampling: str = "uniform",
                 mpp_weights: list[float] | None = None, distinct_patches: int | None = None,
                 seed: int = 0):
        if slide_sampling not in SLIDE_SAMPLING:
            raise ValueError(f"slide_sampling {slide_sampling!r} is not one of {SLIDE_SAMPLING}")
        if not 0 <= min_foreground <= 1:
            raise ValueError(f"min_foreground must lie in [0, 1], got {min_foreground}")
        if mpp_weights is not None and len(mpp_weights) != len(mpps):
            raise ValueError(f"mpp_weights has {len(mpp_weights)} entries for {len(mpps)} mpps")
        if distinct_patches is not None and distinct_patches < 1:
            raise ValueError(f"distinct_patches must be ≥ 1 or null, got {distinct_patches}")
        self.slides, self.size_px, self.mpps = slides, int(size_px), [float(m) for m in mpps]
        self.min_foreground, self.seed = float(min_foreground), int(seed)
        self.distinct_patches = distinct_patches
        w = (np.ones(len(slides)) if slide_sampling == "uniform"
             else np.array([s.tissue_area_um2 for s in slides], float))
        self.slide_p = w / w.sum()
        mw = np.ones(len(mpps)) if mpp_weights is None else np.asarray(mpp_weights, float)
        self.mpp_p = mw / mw.sum()
        for s in slides:  # prepared geometries make the overlap tests fast
            shapely.prepare(s.tissue)

    def source_index(self, j: int) -> int:
        """The draw whose patch draw ``j`` shows: ``j`` itself unless distinct mode recycles."""
        n = self.distinct_patches
        if n is None or j < n:
            return j
        return int(_rng(self.seed, 1, j).integers(n))

    def spec(self, j: int) -> PatchSpec:
        return self._fresh_spec(self.source_index(j))

    def _fresh_spec(self, j: int) -> PatchSpec:
        rng = _rng(self.seed, 0, j)
        for _ in range(_REDRAWS):
            s = int(rng.choice(len(self.slides), p=self.slide_p))
            mpp = float(rng.choice(self.mpps, p=self.mpp_p))
            found = self._position(self.slides[s], mpp, rng)
            if found is not None:
                x0, y0, fg = found
                return PatchSpec(s, x0, y0, mpp, self.size_px, fg)
        raise RuntimeError(
            f"no patch of {self.size_px} px at any of {self.mpps} µm/px overlaps the tissue by "
            f"{self.min_foreground:.0%} after {_REDRAWS} slide draws; lower min_foreground or "
            f"the patch size, or check the masks")

    def _position(self, slide: SlideEntry, mpp: float, rng) -> tuple[int, int, float] | None:
        """Top-left (level-0 px, snapped to the read level's grid) and foreground fraction."""
        side = self.size_px * mpp / slide.mpp  # level-0 px
        if side > slide.width or side > slide.height:
            return None
        ds = slide.downsamples[level_for_mpp(slide.level_mpps, mpp)]
        minx, miny, maxx, maxy = slide.tissue.bounds
        # Every top-left whose square can touch the tissue, kept inside the slide.
        lo_x, hi_x = max(0.0, minx - side), min(slide.width - side, maxx)
        lo_y, hi_y = max(0.0, miny - side), min(slide.height - side, maxy)
        if lo_x > hi_x or lo_y > hi_y:
            return None
        for _ in range(_ROUNDS):
            xs = np.floor(rng.uniform(lo_x, hi_x, _CANDIDATES) / ds) * ds
            ys = np.floor(rng.uniform(lo_y, hi_y, _CANDIDATES) / ds) * ds
            boxes = shapely.box(xs, ys, xs + side, ys + side)
            touching = shapely.intersects(slide.tissue, boxes)
            if not touching.any():
                continue
            idx = np.flatnonzero(touching)
            fg = shapely.area(shapely.intersection(boxes[idx], slide.tissue)) / side**2
            ok = np.flatnonzero(fg >= self.min_foreground)
            if ok.size:
                k = ok[0]  # the first accepted candidate: uniform over accepted positions
                return int(xs[idx[k]]), int(ys[idx[k]]), float(fg[k])
        return None


def steps_for_epochs(epochs: float, epoch_patches: int, global_batch: int) -> int:
    """Optimizer steps in ``epochs`` epochs of ``epoch_patches`` patches (ImageNet epoch
    = 1,280,000) at ``global_batch`` patches per step."""
    return max(1, math.ceil(epochs * epoch_patches / global_batch))
