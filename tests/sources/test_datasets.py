"""Each dataset loader on a tiny fixture written in the real on-disk format; the fetcher's checksums."""

import gzip
import hashlib
import io
import json
import zipfile
from pathlib import Path

import anndata
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io
from PIL import Image

from pathfm.sources.datasets import (
    bach,
    camelyon16,
    consep,
    crc,
    hest,
    mhist,
    monusac,
    panda,
    pcam,
    plism,
)
from pathfm.sources.datasets._common import stratified_split
from pathfm.sources.datasets.fetch import DatasetError, Resource, fetch_resources
from pathfm.sources.http import RetryPolicy

from .fake_gdc import FakeGDC

FAST = RetryPolicy(max_attempts=2, backoff_base=0.01, timeout=10)


def _tif(path: Path, size=8):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), 128, np.uint8)).save(path, format="TIFF")


def test_bach_eva_split(tmp_path):
    for cls, n in zip(bach.CLASSES, (100, 100, 100, 100)):
        for i in range(n):
            _tif(tmp_path / bach.PHOTOS / cls / f"{cls[0].lower()}{i:03d}.tif", 2)
    df = bach.load(tmp_path)
    assert len(df) == 400 and df["split"].value_counts().to_dict() == {"train": 268, "val": 132}
    assert df.loc[41, "split"] == "val" and df.loc[40, "split"] == "train"
    assert df["target"].tolist()[:1] == [0] and df["label"].iloc[-1] == "Normal"


def test_crc(tmp_path):
    for folder in crc.SPLIT_DIRS.values():
        for cls in ("ADI", "TUM"):
            _tif(tmp_path / folder / cls / f"{cls}-1.tif")
    df = crc.load(tmp_path)
    assert df.groupby("split").size().to_dict() == {"train": 2, "val": 2}
    assert set(df["target"]) == {0, 8}


def test_mhist(tmp_path):
    (tmp_path / "images").mkdir()
    pd.DataFrame({"Image Name": ["a.png", "b.png", "c.png"], "Majority Vote Label": ["HP", "SSA", "HP"],
                  "Number of Annotators who Selected SSA (Out of 7)": [0, 6, 1],
                  "Partition": ["train", "train", "test"]}).to_csv(tmp_path / "annotations.csv", index=False)
    df = mhist.load(tmp_path)
    assert df["target"].tolist() == [1, 0, 1] and df["split"].tolist() == ["train", "train", "test"]


def test_pcam(tmp_path):
    for split, n in (("train", 4), ("valid", 2), ("test", 2)):
        with h5py.File(tmp_path / f"camelyonpatch_level_2_split_{split}_x.h5", "w") as f:
            f["x"] = np.zeros((n, 96, 96, 3), np.uint8)
        with h5py.File(tmp_path / f"camelyonpatch_level_2_split_{split}_y.h5", "w") as f:
            f["y"] = np.arange(n, dtype=np.uint8).reshape(n, 1, 1, 1) % 2
    x, y = pcam.load(tmp_path, "val")
    assert x.shape == (2, 96, 96, 3) and y.tolist() == [0, 1]
    x.file.close()


def test_camelyon16(tmp_path):
    for name in ("normal_010", "normal_001", "tumor_001", "tumor_002"):
        (tmp_path / "training" / name.split("_")[0]).mkdir(parents=True, exist_ok=True)
        (tmp_path / "training" / name.split("_")[0] / f"{name}.tif").write_bytes(b"")
    (tmp_path / "testing/images").mkdir(parents=True)
    (tmp_path / "testing/images/test_001.tif").write_bytes(b"")
    (tmp_path / "testing/reference.csv").write_text("test_001,Tumor,Macro,\n")
    df = camelyon16.load(tmp_path).set_index("slide_id")
    assert df["split"].to_dict() == {"normal_001": "train", "normal_010": "val", "tumor_001": "val",
                                     "tumor_002": "train", "test_001": "test"}
    assert df.loc["test_001", "target"] == 1


def test_panda_and_eva_stratified_split(tmp_path):
    (tmp_path / "train_images").mkdir()
    ids = [f"img{i:03d}" for i in range(60)]
    for i in ids:
        (tmp_path / "train_images" / f"{i}.tiff").write_bytes(b"")
    pd.DataFrame({"image_id": ids, "data_provider": "karolinska", "isup_grade": [i % 6 for i in range(60)],
                  "gleason_score": "0+0", "noise_ratio_10": [0 if i < 6 else 1 for i in range(60)]}
                 ).to_csv(tmp_path / "train_with_noisy_labels.csv", index=False)
    df = panda.load(tmp_path)
    assert len(df) == 54 and df["split"].value_counts().to_dict() == {"train": 36, "val": 6, "test": 12}
    # The same draw as eva's (np.random.seed + np.random.shuffle per class).
    np.random.seed(42)
    targets = df["target"].tolist()
    tr = []
    for c in range(6):
        idx = np.where(np.array(targets) == c)[0]
        np.random.shuffle(idx)
        tr.extend(idx[: int(np.floor(0.7 * len(idx)))])
    assert stratified_split(targets, 0.7, 0.15, 0.15, 42)[0] == [int(i) for i in tr]


def test_consep(tmp_path):
    for folder, name in (("Train", "train_1"), ("Test", "test_1")):
        (tmp_path / folder / "Images").mkdir(parents=True)
        (tmp_path / folder / "Labels").mkdir(parents=True)
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / folder / "Images" / f"{name}.png")
        scipy.io.savemat(tmp_path / folder / "Labels" / f"{name}.mat",
                         {"inst_map": np.arange(16).reshape(4, 4), "type_map": np.arange(16).reshape(4, 4) % 8})
    df = consep.load(tmp_path)
    assert df["split"].tolist() == ["train", "val"]
    inst, types = consep.load_masks(df["mask_path"].iloc[0])
    assert inst.shape == (4, 4) and set(np.unique(types)) == {0, 1, 2, 3, 4}


def test_monusac(tmp_path):
    img = tmp_path / monusac.SPLIT_DIRS["train"] / "TCGA-55-1594-01Z-00-DX1" / "TCGA-55-1594-01Z-00-DX1_001.tif"
    _tif(img, 20)
    img.with_suffix(".xml").write_text(
        '<?xml version="1.0"?><Annotations><Annotation Id="1"><Attributes>'
        '<Attribute Name="Lymphocyte" Id="1" Value=""/></Attributes><Regions><Region Id="1"><Attributes/>'
        '<Vertices><Vertex X="2" Y="2"/><Vertex X="10" Y="2"/><Vertex X="10" Y="10"/><Vertex X="2" Y="10"/>'
        '</Vertices></Region></Regions></Annotation></Annotations>')
    df = monusac.load(tmp_path)
    assert df["split"].tolist() == ["train"] and df["patient"].iloc[0] == "TCGA-55-1594-01Z-00-DX1"
    inst, sem = monusac.load_masks(df["path"].iloc[0], df["xml_path"].iloc[0])
    assert sem[5, 5] == 2 and sem[15, 15] == 0 and inst.max() == 1


def test_plism(tmp_path):
    for name in plism.slide_files(["GMH", "GIVH"], ["S60"]):
        with h5py.File(tmp_path / name, "w") as f:
            for i, (x, y) in enumerate([(448, 0), (0, 224), (0, 0)]):
                f[f"tile_{i}_{x}_{y}"] = np.full((224, 224, 3), i, np.uint8)
    slides = plism.list_slides(tmp_path)
    assert set(slides["staining"]) == {"GMH", "GIVH"} and slides["slide_id"].iloc[0].endswith("_to_GMH_S60.tif")
    keys = plism.tile_keys(slides["path"].iloc[0], expected=3)
    assert keys[["x", "y"]].values.tolist() == [[0, 0], [0, 224], [448, 0]]
    tiles = plism.read_tiles(slides["path"].iloc[0], keys["key"].tolist())
    assert tiles.shape == (3, 224, 224, 3) and tiles[0, 0, 0, 0] == 2
    with pytest.raises(ValueError, match="expected 16278"):
        plism.tile_keys(slides["path"].iloc[0], expected=plism.TILES_PER_SLIDE)


def test_hest(tmp_path):
    task = tmp_path / "IDC"
    (task / "splits").mkdir(parents=True)
    (task / "patches").mkdir()
    (task / "adata").mkdir()
    genes = ["GENE1", "GENE2"]
    (task / "var_50genes.json").write_text(json.dumps({"genes": genes}))
    for sid in ("S1", "S2"):
        with h5py.File(task / "patches" / f"{sid}.h5", "w") as f:
            f["img"] = np.zeros((3, 224, 224, 3), np.uint8)
            f["barcode"] = np.array([[b"c"], [b"a"], [b"b"]])
            f["coords"] = np.arange(6).reshape(3, 2)
        ad = anndata.AnnData(X=np.array([[1, 2, 0], [3, 4, 0], [5, 6, 0], [7, 8, 0]], np.float32),
                             obs=pd.DataFrame(index=["a", "b", "c", "d"]),
                             var=pd.DataFrame(index=["GENE1", "GENE2", "OTHER"]))
        ad.write_h5ad(task / "adata" / f"{sid}.h5ad")
    for k, (tr, te) in enumerate((("S1", "S2"), ("S2", "S1"))):
        for split, sid in (("train", tr), ("test", te)):
            pd.DataFrame({"sample_id": [sid], "patches_path": [f"patches/{sid}.h5"],
                          "expr_path": [f"adata/{sid}.h5ad"]}).to_csv(task / "splits" / f"{split}_{k}.csv", index=False)
    assert hest.genes(task) == genes
    f = hest.folds(task)
    assert len(f) == 2 and f[1]["train"]["sample_id"].tolist() == ["S2"]
    s = hest.load_sample(task, f[0]["train"].iloc[0], genes)
    assert s.barcodes.tolist() == ["c", "a", "b"]
    np.testing.assert_allclose(s.targets, np.log1p([[5, 6], [1, 2], [3, 4]]), rtol=1e-6)
    assert s.images.shape == (3, 224, 224, 3)


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_fetch_verifies_checksums(tmp_path):
    good = _zip_bytes({"CRC-VAL-HE-7K/ADI/x.tif": b"tif"})
    h5 = b"h5-bytes" * 100
    with FakeGDC(lifetime=30) as server:
        server.add_file("a.zip", good, {})
        server.add_file("b.h5.gz", gzip.compress(h5), {})
        server.add_file("evil.zip", _zip_bytes({"../escape.txt": b"x"}), {})
        server.add_file("nosum.zip", _zip_bytes({"n/x.txt": b"x"}), {})
        url = f"{server.url}/data"
        res = [Resource("a.zip", f"{url}/a.zip", md5=hashlib.md5(good).hexdigest(), archive="zip"),
               Resource("b.h5.gz", f"{url}/b.h5.gz", md5=hashlib.md5(h5).hexdigest(), archive="gz", md5_of="extracted")]
        fetch_resources(res, tmp_path, policy=FAST)
        assert (tmp_path / "CRC-VAL-HE-7K/ADI/x.tif").read_bytes() == b"tif" and (tmp_path / "b.h5").read_bytes() == h5
        n = len(server.requests)
        fetch_resources(res, tmp_path, policy=FAST)  # already verified: nothing fetched
        assert len(server.requests) == n
        with pytest.raises(Exception, match="gave up"):
            fetch_resources([Resource("a.zip", f"{url}/a.zip", md5="0" * 32, archive="zip")], tmp_path / "bad", policy=FAST)
        assert not (tmp_path / "bad" / "a.zip").exists()
        with pytest.raises(DatasetError, match="does not match"):
            fetch_resources([Resource("b.h5.gz", f"{url}/b.h5.gz", md5="1" * 32, archive="gz", md5_of="extracted")],
                            tmp_path / "bad2", policy=FAST)
        with pytest.raises(DatasetError, match="unsafe member"):
            fetch_resources([Resource("evil.zip", f"{url}/evil.zip", archive="zip")], tmp_path / "evil", policy=FAST)
        assert not (tmp_path / "escape.txt").exists()
        fetch_resources([Resource("nosum.zip", f"{url}/nosum.zip", archive="zip")], tmp_path / "tofu", policy=FAST)
        lock = json.loads((tmp_path / "tofu" / "CHECKSUMS.json").read_text())
        assert len(lock["nosum.zip"]) == 32


def test_fetch_dataset_cli_manual_dataset(tmp_path):
    from pathfm.commands import fetch_dataset as cli

    assert cli.main(["--dataset", "mhist", "--root", str(tmp_path)]) == 2  # layout missing: says where to get it
