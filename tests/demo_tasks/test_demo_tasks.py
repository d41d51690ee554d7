"""Demo task builders write the real formats: the real loaders read them, splits keep patients apart."""

import json

import h5py
import numpy as np
import pandas as pd

from pathfm.demo_tasks import build_bach, build_crc, build_hest, build_mhist, build_pcam, build_tp53
from pathfm.embed.images import open_image_source
from pathfm.sources.datasets import bach, crc, hest, mhist, pcam
from pathfm.wsi.synth.legend import CODES


def test_crc_layout_and_labels(tmp_path):
    build_crc(tmp_path / "crc", per_class=(2, 1), section_um=700.0)
    df = crc.load(tmp_path / "crc")
    assert set(df["split"]) == {"train", "val"}
    assert df["label"].nunique() >= 6
    src = open_image_source("crc", tmp_path / "crc")
    assert src.image(0).shape == (224, 224, 3) and len(src) == len(df)


def test_bach_uses_eva_ranges(tmp_path):
    build_bach(tmp_path / "bach", size=(24, 32), section_um=250.0)
    df = bach.load(tmp_path / "bach")
    assert len(df) == 400 and df.groupby("label").size().eq(100).all()
    assert df["split"].value_counts().to_dict() == {"train": 268, "val": 132}
    assert set(df[df.split == "val"]["label"]) == set(bach.CLASSES)


def test_mhist_partitions_by_patient(tmp_path):
    build_mhist(tmp_path / "mhist", n_patients=4, per_patient=3, section_um=500.0, test_every=2)
    df = mhist.load(tmp_path / "mhist")
    ann = pd.read_csv(tmp_path / "mhist" / "annotations.csv")
    patient = ann["Image Name"].str.slice(6, 9)
    assert (ann.groupby(patient)["Partition"].nunique() == 1).all()
    assert set(df["split"]) == {"train", "test"} and set(df["target"]) == {0, 1}


def test_pcam_h5_and_center_rule(tmp_path):
    build_pcam(tmp_path / "pcam", per_class=(5, 3, 3), section_um=500.0)
    x, y = pcam.load(tmp_path / "pcam", "train")
    assert x.shape[1:] == (96, 96, 3) and set(y) == {0, 1}
    x.file.close()


def test_tp53_patient_labels(tmp_path):
    build_tp53(tmp_path / "tp53", n_patients=4, per_patient=3, section_um=400.0)
    src = open_image_source("tp53", tmp_path / "tp53")
    assert len(src) == 12
    labels = pd.read_csv(tmp_path / "tp53" / "labels.tsv", sep="\t").set_index("patient")["tp53_aberrated"]
    for g, y in zip(src.meta["group"], src.meta["labels"]):
        assert labels[g] == y
    # The label is driven by visible tissue: necrosis / debris only under aberrated patients'
    # patches, normal mucosa / lymphocytes only under the others'.
    with h5py.File(tmp_path / "tp53" / "patches.h5", "r") as f:
        fr, y = f["tissue_fractions"][:], f["label"][:]
    high_grade = fr[:, [CODES["necrosis"], CODES["debris"]]].sum(1)
    normal = fr[:, [CODES["normal_mucosa"], CODES["lymphocytes"]]].sum(1)
    assert high_grade[y == 0].max() == 0 and normal[y == 1].max() == 0
    assert high_grade[y == 1].mean() > 0.15 and normal[y == 0].mean() > 0.15


def test_hest_layout_read_by_loader(tmp_path):
    build_hest(tmp_path / "hest", n_patients=2, n_genes=6, n_noise=2, section_um=500.0)
    task = tmp_path / "hest" / "DEMO"
    genes = hest.genes(task)
    folds = hest.folds(task)
    assert len(genes) == 6 and len(folds) == 2
    row = folds[0]["test"].iloc[0]
    noise = json.loads((task / "noise_genes.json").read_text())["genes"]
    s = hest.load_sample(task, row, genes + noise)
    assert s.targets.shape == (len(s.barcodes), 8) and s.images.shape[1:] == (224, 224, 3)
    assert np.all(s.targets >= 0)
    src = open_image_source("hest", tmp_path / "hest", "DEMO")
    assert set(src.meta["group"]) == {"DEMO0", "DEMO1"}
