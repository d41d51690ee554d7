"""BACH-, CRC-, MHIST- and PCam-like sets in their real layouts (read by pathfm.sources.datasets).

Labels come from the rendered tissue: CRC and PCam from each patch's own
tissue-type map, BACH and MHIST from the class-specific tissue mix of the
section a patch was cut from (one section = one patient, never in two splits).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np
import pandas as pd

from pathfm.demo_tasks.tissue import random_patches, render_section, type_fractions, grid_patches
from pathfm.io import atomic_dir
from pathfm.sources.datasets import bach, crc, pcam
from pathfm.sources.datasets._common import ranges_to_indices
from pathfm.wsi.synth.legend import CODES

# CRC class of each legend code: NCT-CRC-HE's "debris" includes necrosis.
CRC_OF_CODE = {0: "BACK", CODES["adipose"]: "ADI", CODES["debris"]: "DEB", CODES["necrosis"]: "DEB",
               CODES["lymphocytes"]: "LYM", CODES["mucus"]: "MUC", CODES["smooth_muscle"]: "MUS",
               CODES["normal_mucosa"]: "NORM", CODES["stroma"]: "STR", CODES["tumour"]: "TUM"}

BACH_MIX = {
    "Normal": {"normal_mucosa": 0.5, "stroma": 0.3, "adipose": 0.2},
    "Benign": {"stroma": 0.4, "smooth_muscle": 0.3, "normal_mucosa": 0.2, "lymphocytes": 0.1},
    "InSitu": {"normal_mucosa": 0.4, "tumour": 0.3, "stroma": 0.3},
    "Invasive": {"tumour": 0.5, "stroma": 0.25, "lymphocytes": 0.1, "necrosis": 0.15},
}
BACH_PREFIX = {"Benign": "b", "InSitu": "is", "Invasive": "iv", "Normal": "n"}
MHIST_MIX = {
    "HP": {"normal_mucosa": 0.55, "stroma": 0.3, "lymphocytes": 0.15},
    "SSA": {"normal_mucosa": 0.35, "mucus": 0.35, "stroma": 0.2, "lymphocytes": 0.1},
}
PCAM_MIX = {"lymphocytes": 0.5, "tumour": 0.2, "stroma": 0.15, "adipose": 0.15}


def _write_tif(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")


def build_crc(root: str | Path, seed: int = 0, per_class: tuple[int, int] = (40, 15), tile_px: int = 224,
              mpp: float = 0.5, section_um: float = 1400.0, min_purity: float = 0.6) -> dict:
    """NCT-CRC-HE-100K/{class}/*.tif (train, 2 sections) and CRC-VAL-HE-7K/ (val, 1 section).

    A patch is kept when one class covers ≥ ``min_purity`` of it (background: ≥ 0.95);
    at most ``per_class`` (train, val) per class.
    """
    counts = {}
    with atomic_dir(root) as tmp:
        for split, seeds, cap in (("train", [seed, seed + 1], per_class[0]), ("val", [seed + 2], per_class[1])):
            folder = tmp / crc.SPLIT_DIRS[split]
            kept = {c: 0 for c in crc.CLASSES}
            for s in seeds:
                sec = render_section(s, mpp, section_um, tissue_fraction=0.6)
                for y, x, rgb, lab in grid_patches(sec, tile_px, tile_px // 2):
                    frac = type_fractions(lab)
                    share = {}
                    for code, f in enumerate(frac):
                        share[CRC_OF_CODE[code]] = share.get(CRC_OF_CODE[code], 0.0) + f
                    cls, f = max(share.items(), key=lambda kv: kv[1])
                    if f < (0.95 if cls == "BACK" else min_purity) or kept[cls] >= cap:
                        continue
                    kept[cls] += 1
                    _write_tif(folder / cls / f"{cls}-S{s}-{y:05d}-{x:05d}.tif", rgb)
            counts[split] = kept
    return {"dataset": "crc", "counts": counts}


def _split_of_bach_index(n: int) -> np.ndarray:
    split = np.full(n, "", dtype=object)
    split[[i for i in ranges_to_indices(bach.TRAIN_RANGES) if i < n]] = "train"
    split[[i for i in ranges_to_indices(bach.VAL_RANGES) if i < n]] = "val"
    return split


def build_bach(root: str | Path, seed: int = 0, per_class: int = 100, size: tuple[int, int] = (384, 512),
               mpp: float = 0.42, section_um: float = 1000.0) -> dict:
    """ICIAR2018_BACH_Challenge/Photos/{class}/*.tif, 4 × ``per_class`` images of (h, w) px at 0.42 mpp.

    The label is the tissue mix of the section, so an image has to span several
    tissue regions (~220 µm each) to carry it: a logistic regression on the exact
    tissue-type fractions of each image reaches balanced accuracy 0.61 at 192×256 px,
    0.76 at 384×512 and 0.87 at 576×768 (seed 11; real BACH photos: 1536×2048 px at
    0.42 mpp). 384×512 is the default: at the demo models' 64 px input, the trained
    models beat their random-init twin there more often than at 576×768, and the set
    is 150 MB instead of 345 MB.

    eva splits BACH by fixed index ranges of the class-sorted file list; the image at
    each index is cut from a train or a val section accordingly, so no section
    (patient) feeds both splits.
    """
    classes = sorted(bach.CLASSES)
    split = _split_of_bach_index(per_class * len(classes))
    rng = np.random.default_rng(seed)
    with atomic_dir(root) as tmp:
        for c, cls in enumerate(classes):
            idx = np.arange(c * per_class, (c + 1) * per_class)
            for k, part in enumerate(("train", "val")):
                mine = [i for i in idx if split[i] == part]
                if not mine:
                    continue
                sec = render_section(seed + 10 * c + k, mpp, section_um, BACH_MIX[cls], tissue_fraction=0.75)
                patches = random_patches(sec, size, len(mine), rng, min_tissue=0.6)
                if len(patches) < len(mine):
                    raise RuntimeError(f"BACH-like {cls}/{part}: only {len(patches)} patches with tissue")
                for i, (_, _, rgb, _) in zip(mine, patches):
                    _write_tif(tmp / bach.PHOTOS / cls / f"{BACH_PREFIX[cls]}{i - c * per_class + 1:03d}.tif", rgb)
    return {"dataset": "bach", "n": int(per_class * len(classes)),
            "splits": pd.Series(split).value_counts().to_dict()}


def build_mhist(root: str | Path, seed: int = 0, n_patients: int = 8, per_patient: int = 30, tile_px: int = 224,
                mpp: float = 2.0, section_um: float = 1300.0, test_every: int = 3) -> dict:
    """annotations.csv + images/*.png; every ``test_every``-th patient goes to Partition 'test'."""
    rng = np.random.default_rng(seed)
    rows = []
    with atomic_dir(root) as tmp:
        for p in range(n_patients):
            cls = ("HP", "SSA")[p % 2]
            part = "test" if p % test_every == test_every - 1 else "train"
            sec = render_section(seed + 100 + p, mpp, section_um, MHIST_MIX[cls], tissue_fraction=0.75)
            for j, (_, _, rgb, _) in enumerate(random_patches(sec, (tile_px, tile_px), per_patient, rng, 0.6)):
                name = f"MHIST_p{p:02d}_{j:03d}.png"
                _write_tif(tmp / "images" / name, rgb)
                rows.append({"Image Name": name, "Majority Vote Label": cls,
                             "Number of Annotators who Selected SSA (Out of 7)": 6 if cls == "SSA" else 1,
                             "Partition": part})
        pd.DataFrame(rows).to_csv(tmp / "annotations.csv", index=False)
    df = pd.DataFrame(rows)
    counts = {f"{part}/{cls}": int(n) for (part, cls), n in df.groupby(["Partition", "Majority Vote Label"]).size().items()}
    return {"dataset": "mhist", "counts": counts}


def build_pcam(root: str | Path, seed: int = 0, per_class: tuple[int, int, int] = (150, 50, 50), tile_px: int = 96,
               mpp: float = 0.972, section_um: float = 1200.0) -> dict:
    """camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5; y = 1 when the central
    32×32 px hold tumour (PCam's rule), classes balanced, one split per set of sections."""
    tumour = CODES["tumour"]
    rng = np.random.default_rng(seed)
    sections = {"train": [seed, seed + 1], "val": [seed + 2], "test": [seed + 3]}
    counts = {}
    with atomic_dir(root) as tmp:
        for (split, seeds), cap in zip(sections.items(), per_class):
            xs, ys = [], []
            by_class: dict[int, list[np.ndarray]] = {0: [], 1: []}
            for s in seeds:
                sec = render_section(seed + 1000 + s, mpp, section_um, PCAM_MIX, tissue_fraction=0.75)
                for _, _, rgb, lab in grid_patches(sec, tile_px, tile_px // 3):
                    if (lab > 0).mean() < 0.5:
                        continue
                    c = tile_px // 2
                    by_class[int((lab[c - 16:c + 16, c - 16:c + 16] == tumour).any())].append(rgb.copy())
            for label, imgs in by_class.items():
                take = rng.permutation(len(imgs))[:cap]
                xs += [imgs[i] for i in take]
                ys += [label] * len(take)
            order = rng.permutation(len(ys))
            x = np.stack([xs[i] for i in order]).astype(np.uint8)
            y = np.asarray(ys, np.uint8)[order].reshape(-1, 1, 1, 1)
            with h5py.File(pcam.h5_path(tmp, split, "x"), "w") as f:
                f.create_dataset("x", data=x, chunks=(min(64, len(x)), tile_px, tile_px, 3))
            with h5py.File(pcam.h5_path(tmp, split, "y"), "w") as f:
                f.create_dataset("y", data=y)
            counts[split] = {"n": int(len(y)), "positive": int(y.sum())}
    return {"dataset": "pcam", "counts": counts}
