"""A TP53-like task: patient-level labels, patches drawn uniformly over each patient's tissue.

Format (also what a TCGA build would write): ``patches.h5`` with ``img``
(N, s, s, 3) uint8, ``patch_id``, ``patient``, ``slide_id`` (N bytes), ``label``
(N int, the patient's TP53 status), ``coords_px`` (N×2 level-0 top-left),
``tissue_fractions`` (N × legend codes, the rendered truth under each patch; a
synthetic-only check of what drives the label, no loader needs it) and
``labels.tsv`` (patient, tp53_aberrated) in the layout of results/labels/tp53.tsv.

In the synthetic cohort an aberrated patient's tumour is higher grade: more
tumour and necrosis, some debris, no normal mucosa or lymphocyte aggregates —
visible in most patches but not all (tumour and stroma occur in both classes).
Regions of ~110 µm (half a 224-px patch at 0.5 mpp) make a patch show a sample of
its patient's mix rather than one region, and 40 patients give 8 per fold: the
first version (20 patients, 220 µm regions) left 4 patients per fold and patches
mostly of one region, and its probes sat at chance.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from pathfm.demo_tasks.tissue import random_patches, render_section, type_fractions
from pathfm.io import atomic_dir

MIX = {
    0: {"tumour": 0.3, "stroma": 0.3, "normal_mucosa": 0.25, "lymphocytes": 0.15},
    1: {"tumour": 0.5, "necrosis": 0.3, "debris": 0.1, "stroma": 0.1},
}


def build_tp53(root: str | Path, seed: int = 0, n_patients: int = 40, per_patient: int = 24, tile_px: int = 224,
               mpp: float = 0.5, section_um: float = 450.0, region_scale_um: float = 110.0,
               min_tissue: float = 0.5) -> dict:
    """``n_patients`` patients (alternating labels, shuffled), ``per_patient`` patches each."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n_patients) % 2)
    imgs, pids, patients, slides, ys, coords, fracs = [], [], [], [], [], [], []
    for p, y in enumerate(labels):
        patient = f"DEMO-{p:04d}"
        slide = f"{patient}-01Z-00-DX1"
        sec = render_section(seed + 500 + p, mpp, section_um, MIX[int(y)], tissue_fraction=0.7,
                             region_scale_um=region_scale_um)
        got = random_patches(sec, (tile_px, tile_px), per_patient, rng, min_tissue=min_tissue)
        for yy, xx, rgb, lab in got:
            imgs.append(rgb)
            fracs.append(type_fractions(lab))
            pids.append(f"{slide}:{xx}_{yy}")
            patients.append(patient)
            slides.append(slide)
            ys.append(int(y))
            coords.append((xx, yy))
    enc = lambda v: np.array(v, dtype="S")  # noqa: E731
    with atomic_dir(root) as tmp:
        with h5py.File(tmp / "patches.h5", "w") as f:
            f.create_dataset("img", data=np.stack(imgs), chunks=(min(64, len(imgs)), tile_px, tile_px, 3),
                             compression="lzf")
            f.create_dataset("patch_id", data=enc(pids))
            f.create_dataset("patient", data=enc(patients))
            f.create_dataset("slide_id", data=enc(slides))
            f.create_dataset("label", data=np.asarray(ys, np.int64))
            f.create_dataset("coords_px", data=np.asarray(coords, np.int64))
            f.create_dataset("tissue_fractions", data=np.asarray(fracs, np.float32))
            f.attrs["mpp"] = mpp
        pd.DataFrame({"patient": [f"DEMO-{p:04d}" for p in range(n_patients)],
                      "tp53_aberrated": labels}).to_csv(tmp / "labels.tsv", sep="\t", index=False)
    return {"dataset": "tp53", "n_patches": len(ys), "n_patients": n_patients, "positive_patients": int(labels.sum())}
