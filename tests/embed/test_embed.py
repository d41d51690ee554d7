"""Extraction: contract applied, features equal a direct forward, stores resume at shard level."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from pathfm.embed import ContractTransform, ExtractSettings, embed_batch, extract_embeddings, open_embedding_store
from pathfm.embed.images import ImageSource, open_image_source
from pathfm.embed.store import partial_path
from pathfm.models.registry import get_entry
from pathfm.wsi.tile_store import write_tile_store



@pytest.fixture(scope="module")
def h0():
    torch.manual_seed(0)
    entry = get_entry("demo-h0-mini")
    return entry, entry.build().eval()


def test_transform_resizes_uint8():
    entry = get_entry("demo-vit-s8-random")
    t = ContractTransform(entry.contract)
    img = np.random.default_rng(0).integers(0, 255, (100, 80, 3), dtype=np.uint8)
    out = t(img)
    assert out.shape == (3, 64, 64) and out.dtype == torch.uint8
    same = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    assert torch.equal(t(same), torch.from_numpy(same).permute(2, 0, 1))


def test_pooling_skips_registers(h0):
    entry, model = h0
    x = torch.randint(0, 255, (3, 3, 64, 64), dtype=torch.uint8)
    res = embed_batch(model, entry.contract, x, ("cls", "cls+mean_incl_registers"))
    with torch.no_grad():
        tokens = model.forward_features(entry.contract.normalize(x.float() / 255))
    d = entry.contract.embed_dim
    assert res["features"].shape == (3, 2 * d)
    torch.testing.assert_close(res["features"][:, :d], tokens[:, 0])
    torch.testing.assert_close(res["features"][:, d:], tokens[:, 5:].mean(1))  # 1 CLS + 4 registers skipped
    torch.testing.assert_close(res["cls+mean_incl_registers"][:, d:], tokens[:, 1:].mean(1))
    torch.testing.assert_close(res["cls"], tokens[:, 0])


def _tile_store(path, n=10, px=48):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (n, px, px, 3), dtype=np.uint8)
    coords = np.stack([np.arange(n) * px, np.zeros(n, int)], 1)
    write_tile_store(path, coords, 0.25, np.ones(n), {"slide_id": "S1"}, [pixels], tile_px=px)
    return pixels


class Failing(ImageSource):
    """Wraps a source and fails at image ``fail_at`` (a killed job)."""

    def __init__(self, inner, fail_at):
        super().__init__(inner.meta, inner.description)
        self.inner, self.fail_at = inner, fail_at

    def image(self, i):
        if i >= self.fail_at:
            raise RuntimeError("killed")
        return self.inner.image(i)


def test_extract_tile_store_and_resume(tmp_path, h0):
    entry, model = h0
    pixels = _tile_store(tmp_path / "t.zarr")
    src = open_image_source("tiles", stores=[str(tmp_path / "t.zarr")])
    settings = ExtractSettings(batch_size=3, num_workers=0, dtype="float32", shard_size=4,
                               extra_poolings=("cls",))
    prov = {"model": entry.name, "weights_sha256": None}
    fresh = tmp_path / "fresh.zarr"
    extract_embeddings(model, entry.contract, src, fresh, settings, prov)
    store = open_embedding_store(fresh)
    assert store.features.shape == (10, 128) and store.meta["coords_px"].shape == (10, 2)
    assert list(store.meta["ids"][:2]) == ["S1:0_0", "S1:48_0"]
    assert store.attrs["contract"]["pooling"] == "cls+mean" and store.attrs["model"] == "demo-h0-mini"
    direct = embed_batch(model, entry.contract,
                         torch.stack([ContractTransform(entry.contract)(p) for p in pixels]))["features"]
    np.testing.assert_allclose(store.features, direct.numpy(), atol=1e-5)
    np.testing.assert_allclose(store.pooled("cls"), direct.numpy()[:, :64], atol=1e-5)

    out = tmp_path / "resumed.zarr"
    with pytest.raises(RuntimeError, match="killed"):
        extract_embeddings(model, entry.contract, Failing(src, 9), out, settings, prov)
    assert not out.exists() and partial_path(out).exists()
    stats = extract_embeddings(model, entry.contract, src, out, settings, prov)
    assert stats["n_embedded_now"] == 2  # shards 0 and 1 (8 images) were kept
    np.testing.assert_allclose(open_embedding_store(out).features, store.features, atol=1e-6)
    assert not partial_path(out).exists()


def test_tile_store_without_pixels_is_a_clear_error(tmp_path):
    write_tile_store(tmp_path / "n.zarr", np.zeros((2, 2), int), 0.25, np.ones(2), {})
    with pytest.raises(ValueError, match="no pixels"):
        open_image_source("tiles", stores=[str(tmp_path / "n.zarr")])


def test_embed_script_records_weights(tmp_path, h0):
    from pathfm.commands import embed as cli

    entry, model = h0
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    _tile_store(tmp_path / "t.zarr", n=5)
    out = tmp_path / "e.zarr"
    assert cli.main(["--model", "demo-h0-mini", "--weights", str(weights), "--kind", "tiles",
                     "--tiles", str(tmp_path / "t.zarr"), "--out", str(out), "--workers", "0",
                     "--dtype", "float16", "--batch-size", "64", "--shard-size", "4096",
                     "--autocast", "auto"]) == 0
    store = open_embedding_store(out)
    assert store.attrs["weights_sha256"] and len(store.attrs["weights_sha256"]) == 64
    assert store.attrs["dtype"] == "float16" and store.features.shape == (5, 128)
    # What was embedded, not how fast: a rerun writes the same attributes.
    assert store.attrs["extraction"] == {"n_images": 5, "device": "cpu", "autocast": "off"}


def test_slice_reads_match_single_reads_across_parts(tmp_path):
    import h5py

    from pathfm.embed.images import H5Images

    a, b = _tile_store(tmp_path / "a.zarr", n=5), _tile_store(tmp_path / "b.zarr", n=4, px=48)
    src = open_image_source("tiles", stores=[str(tmp_path / "a.zarr"), str(tmp_path / "b.zarr")])
    both = np.concatenate([a, b])
    np.testing.assert_array_equal(src.images(3, 8), both[3:8])  # spans the two stores
    np.testing.assert_array_equal(src.images(5, 9), np.stack([src.image(i) for i in range(5, 9)]))
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_dataset("img", data=both, chunks=(4, 48, 48, 3))
    h5 = H5Images([(str(tmp_path / "x.h5"), "img", 6), (str(tmp_path / "x.h5"), "img", 3)],
                  {"ids": np.arange(9)}, {})
    np.testing.assert_array_equal(h5.images(4, 8), np.concatenate([both[4:6], both[:2]]))


def test_batch_transform_matches_single_images():
    t = ContractTransform(get_entry("demo-vit-s8-random").contract)
    rng = np.random.default_rng(2)
    same = rng.integers(0, 255, (3, 90, 90, 3), dtype=np.uint8)
    assert torch.equal(t.batch(same), torch.stack([t(im) for im in same]))
    mixed = [same[0], rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), same[1][:70]]
    out = t.batch(mixed)
    assert out.shape == (3, 3, 64, 64) and out.is_contiguous()
    assert torch.equal(out[1], torch.from_numpy(mixed[1]).permute(2, 0, 1))
    assert torch.equal(out[2], t(mixed[2]))


def test_extract_with_a_worker_over_two_stores(tmp_path, h0):
    entry, model = h0
    pixels = np.concatenate([_tile_store(tmp_path / "a.zarr", n=7), _tile_store(tmp_path / "b.zarr", n=6)])
    src = open_image_source("tiles", stores=[str(tmp_path / "a.zarr"), str(tmp_path / "b.zarr")])
    settings = ExtractSettings(batch_size=4, num_workers=1, prefetch_factor=2, dtype="float32", shard_size=5)
    extract_embeddings(model, entry.contract, src, tmp_path / "e.zarr", settings, {"model": entry.name})
    direct = embed_batch(model, entry.contract, ContractTransform(entry.contract).batch(pixels))["features"]
    np.testing.assert_allclose(open_embedding_store(tmp_path / "e.zarr").features, direct.numpy(), atol=1e-5)
