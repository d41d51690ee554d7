"""A HEST-like spatial expression task in the HEST-bench layout (pathfm.sources.datasets.hest).

Spots lie on a 100 µm grid over each sample's tissue; each spot's patch is
224 px at 0.5 mpp centred on it. Expression of the 50 benchmark genes is driven
by the tissue types under the spot (the central 55 µm disc, a Visium spot):
counts ~ Poisson(exp(a_g + W_g · fractions)). ``n_noise`` extra genes have
constant rates (pure noise); they are listed in ``noise_genes.json`` so a
benchmark can check that they score near zero. One sample = one patient;
leave-one-patient-out folds.
"""

from __future__ import annotations

import json
from pathlib import Path

import anndata
import h5py
import numpy as np
import pandas as pd

from pathfm.demo_tasks.tissue import render_section
from pathfm.io import atomic_dir
from pathfm.wsi.synth.legend import LEGEND

TASK = "DEMO"


def gene_model(seed: int, n_genes: int, n_noise: int) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Gene names, noise gene names, log-baselines a (G+noise,) and weights W ((G+noise) × types)."""
    rng = np.random.default_rng(seed)
    n_types = len(LEGEND)
    a = rng.uniform(0.5, 2.5, n_genes + n_noise)
    w = rng.normal(0.0, 1.5, (n_genes + n_noise, n_types)) * (rng.random((n_genes + n_noise, n_types)) < 0.4)
    w[:, 0] = 0.0  # background carries no expression signal
    w[n_genes:] = 0.0  # noise genes ignore tissue
    genes = [f"GENE{g:02d}" for g in range(n_genes)]
    noise = [f"NOISE{g:02d}" for g in range(n_noise)]
    return genes, noise, a, w


def build_hest(root: str | Path, seed: int = 0, n_patients: int = 3, n_genes: int = 50, n_noise: int = 10,
               tile_px: int = 224, mpp: float = 0.5, section_um: float = 1100.0, pitch_um: float = 100.0) -> dict:
    genes, noise, a, w = gene_model(seed, n_genes, n_noise)
    rng = np.random.default_rng(seed + 1)
    half, pitch = tile_px // 2, int(round(pitch_um / mpp))
    r_spot = int(round(27.5 / mpp))
    yy, xx = np.mgrid[-r_spot:r_spot + 1, -r_spot:r_spot + 1]
    disc = yy ** 2 + xx ** 2 <= r_spot ** 2
    counts = {}
    with atomic_dir(root) as tmp:
        task = tmp / TASK
        for d in ("patches", "adata", "splits"):
            (task / d).mkdir(parents=True)
        samples = [f"DEMO{p}" for p in range(n_patients)]
        for p, sid in enumerate(samples):
            sec = render_section(seed + 700 + p, mpp, section_um, tissue_fraction=0.7)
            H, W = sec.labels.shape
            imgs, bcs, coords, fracs = [], [], [], []
            for cy in range(half, H - half, pitch):
                for cx in range(half, W - half, pitch):
                    spot = sec.labels[cy - r_spot:cy + r_spot + 1, cx - r_spot:cx + r_spot + 1][disc]
                    if (spot > 0).mean() < 0.5:
                        continue
                    imgs.append(sec.rgb[cy - half:cy + half, cx - half:cx + half])
                    bcs.append(f"{sid}_{cx}x{cy}")
                    coords.append((cx, cy))
                    fracs.append(np.bincount(spot, minlength=len(LEGEND)) / spot.size)
            rate = np.exp(a[None] + np.stack(fracs) @ w.T)  # (spots, genes)
            x = rng.poisson(rate).astype(np.float32)
            with h5py.File(task / "patches" / f"{sid}.h5", "w") as f:
                f.create_dataset("img", data=np.stack(imgs), chunks=(min(64, len(imgs)), tile_px, tile_px, 3),
                                  compression="lzf")
                f.create_dataset("barcode", data=np.array(bcs, dtype="S").reshape(-1, 1))
                f.create_dataset("coords", data=np.asarray(coords, np.int64))
            ad = anndata.AnnData(X=x, obs=pd.DataFrame(index=bcs), var=pd.DataFrame(index=genes + noise))
            ad.write_h5ad(task / "adata" / f"{sid}.h5ad")
            counts[sid] = len(bcs)
        for k, test in enumerate(samples):
            for part, ids in (("train", [s for s in samples if s != test]), ("test", [test])):
                pd.DataFrame({"sample_id": ids, "patches_path": [f"patches/{s}.h5" for s in ids],
                              "expr_path": [f"adata/{s}.h5ad" for s in ids]}).to_csv(
                    task / "splits" / f"{part}_{k}.csv", index=False)
        (task / "var_50genes.json").write_text(json.dumps({"genes": genes}))
        (task / "noise_genes.json").write_text(json.dumps({"genes": noise}))
    return {"dataset": "hest", "task": TASK, "spots": counts, "genes": n_genes, "noise_genes": n_noise}
