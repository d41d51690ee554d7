"""Build the demo slide-task cohort: small synthetic sections, tiles, labels, nuclei masks, ROIs.

Layout under ``out_dir``:
  labels.tsv                 slide_id, patient, mix, tumour/necrosis/lymphocytes shares,
                             metastasis, grade, time, event
  tiles/{slide_id}.zarr      a pathfm tile store (pixels, coords_px (x, y), tissue_fraction,
                             ``tissue`` dominant code; attributes slide_id, mpp, tile size),
                             what ``scripts/embed.py --kind tiles`` reads
  segmentation/{slide_id}.npz  rgb (H, W, 3) uint8, nuclei (H, W) uint8 classes (NUCLEUS_CLASSES)
  retrieval.tsv              slide_id, tile index, x, y (coords_px), ROI class (dominant tissue
                             type of the tile), split (train / query, whole slides: every third
                             slide is a query slide, so no query has a neighbouring tile in train)
  cohort.json                parameters and code version
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pathfm.demo_slide_tasks.labels import (
    SlideTruth, grade_label, metastasis_label, sample_mix, survival_times,
)
from pathfm.demo_slide_tasks.nuclei import nuclei_mask
from pathfm.io import atomic_dir, write_json_atomic
from pathfm.version import code_version
from pathfm.wsi.tile_store import write_tile_store
from pathfm.wsi.synth import SynthParams, render, synthesize_tissue
from pathfm.wsi.synth.legend import LEGEND


def tile_section(rgb: np.ndarray, labels: np.ndarray, tile_px: int, min_tissue: float = 0.5):
    """Grid tiles with ≥ ``min_tissue`` tissue -> (pixels (N, s, s, 3), coords_px (N, 2) as
    (x, y) top-left, the tile store convention, tissue fraction (N,), dominant tissue code (N,))."""
    pix, coords, frac, dom = [], [], [], []
    H, W = labels.shape
    for y in range(0, H - tile_px + 1, tile_px):
        for x in range(0, W - tile_px + 1, tile_px):
            lab = labels[y:y + tile_px, x:x + tile_px]
            if (lab > 0).mean() < min_tissue:
                continue
            pix.append(rgb[y:y + tile_px, x:x + tile_px])
            coords.append((x, y))
            frac.append(float((lab > 0).mean()))
            dom.append(int(np.bincount(lab[lab > 0].ravel()).argmax()))
    if not pix:
        return (np.zeros((0, tile_px, tile_px, 3), np.uint8), np.zeros((0, 2), np.int64),
                np.zeros(0, np.float32), np.zeros(0, int))
    return np.stack(pix), np.array(coords, np.int64), np.array(frac, np.float32), np.array(dom)


def build_cohort(out_dir: str | Path, n_slides: int = 36, seed: int = 0, mpp: float = 1.0,
                 size_um: float = 600.0, tile_px: int = 32, slides_per_patient: int = 1) -> pd.DataFrame:
    """Render ``n_slides`` sections and write the task files atomically; -> labels table."""
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    rows, retrieval = [], []
    with atomic_dir(out_dir) as tmp:
        (tmp / "tiles").mkdir()
        (tmp / "segmentation").mkdir()
        for i in range(n_slides):
            slide_id = f"demo-slide-{i:03d}"
            mix_name, mix = sample_mix(rng)
            params = SynthParams(width_um=size_um, height_um=size_um, mpp=mpp, artefacts=(),
                                 n_pieces=1, tissue_fraction=0.75, tissue_mix=mix)
            tissue = synthesize_tissue(seed * 10_000 + i, params)
            rgb, labels = render(tissue), tissue.layout.labels
            truth = SlideTruth.from_labels(labels)
            pix, coords, frac, dom = tile_section(rgb, labels, tile_px)
            write_tile_store(tmp / "tiles" / f"{slide_id}.zarr", coords, mpp, frac,
                             {"slide_id": slide_id, "target_mpp": mpp, "tile_px": tile_px,
                              "level": 0, "downsample": 1.0, "min_tissue": 0.5,
                              "source": "pathfm.demo_slide_tasks", "code_version": code_version()},
                             pixel_batches=[pix], tile_px=tile_px, extra_arrays={"tissue": dom})
            np.savez_compressed(tmp / "segmentation" / f"{slide_id}.npz", rgb=rgb,
                                nuclei=nuclei_mask(tissue.h, labels))
            split = "query" if i % 3 == 2 else "train"
            retrieval += [{"slide_id": slide_id, "tile": j, "x": int(xy[0]), "y": int(xy[1]),
                           "roi_class": LEGEND[int(c)], "split": split}
                          for j, (xy, c) in enumerate(zip(coords, dom))]
            rows.append({"slide_id": slide_id, "patient": f"demo-patient-{i // slides_per_patient:03d}",
                         "mix": mix_name, "tumour": truth.tumour, "necrosis": truth.necrosis,
                         "lymphocytes": truth.lymphocytes, "metastasis": metastasis_label(truth),
                         "grade": grade_label(truth), "n_tiles": len(pix)})
        table = pd.DataFrame(rows)
        truths = [SlideTruth(r.tumour, r.necrosis, r.lymphocytes) for r in table.itertuples()]
        table["time"], table["event"] = survival_times(truths, seed)
        table.to_csv(tmp / "labels.tsv", sep="\t", index=False)
        pd.DataFrame(retrieval).to_csv(tmp / "retrieval.tsv", sep="\t", index=False)
        write_json_atomic(tmp / "cohort.json", {"n_slides": n_slides, "seed": seed, "mpp": mpp,
                                                "size_um": size_um, "tile_px": tile_px,
                                                "code_version": code_version()})
    return table
