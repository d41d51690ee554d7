"""Registry entries build (paper-size ones on the meta device), contracts pool right."""

import pytest
import torch
from safetensors.torch import save_file

from pathfm.models import Backbone, DINOHead, load_model, load_registry, pool_tokens

REGISTRY = load_registry()
SMALL = [n for n, e in REGISTRY.items() if (e.params_m or 0) < 5]
LARGE = [n for n, e in REGISTRY.items() if (e.params_m or 0) >= 5]


def test_registry_has_demo_and_paper_models():
    for name in ("demo-vit-s8", "kaiko-vits16", "kaiko-vitl14", "h-optimus-0", "h0-mini", "uni",
                 "phikon", "gpfm"):
        assert name in REGISTRY
    assert REGISTRY["h0-mini"].kwargs["mlp_layer"] == "SwiGLUPacked"
    for name in ("kaiko-vits16", "kaiko-vits8", "kaiko-vitb16", "kaiko-vitb8", "kaiko-vitl14"):
        assert REGISTRY[name].contract.mean == (0.5, 0.5, 0.5) == REGISTRY[name].contract.std


@pytest.mark.parametrize("name", LARGE)
def test_paper_model_config_on_meta_device(name):
    entry = REGISTRY[name]
    model = entry.build(device="meta")  # shapes only: no memory, no download
    n = sum(p.numel() for p in model.parameters()) / 1e6
    assert abs(n - entry.params_m) / entry.params_m < 0.01
    assert model.num_prefix_tokens == entry.contract.prefix_tokens
    assert model.embed_dim == entry.contract.embed_dim
    assert model.patch_embed.patch_size[0] == entry.contract.patch_size


@pytest.mark.parametrize("name", SMALL)
def test_demo_model_builds_and_pools(name):
    entry = REGISTRY[name]
    c = entry.contract
    model = entry.build().eval()
    x = c.normalize(torch.rand(2, 3, c.input_size, c.input_size))
    with torch.no_grad():
        tokens = model.forward_features(x)
    n_patches = (c.input_size // c.patch_size) ** 2
    assert tokens.shape == (2, c.prefix_tokens + n_patches, c.embed_dim)
    assert c.pool(tokens).shape == (2, c.output_dim)


def test_cls_mean_skips_cls_and_registers():
    tokens = torch.zeros(1, 5 + 4, 2)
    tokens[:, 0] = 1.0       # CLS
    tokens[:, 1:5] = 100.0   # registers: must not leak into the mean
    tokens[:, 5:] = torch.tensor([2.0, 4.0])
    out = pool_tokens(tokens, "cls+mean", prefix_tokens=5)
    assert out.shape == (1, 4)
    assert torch.equal(out, torch.tensor([[1.0, 1.0, 2.0, 4.0]]))
    assert pool_tokens(tokens, "cls", 5).shape == (1, 2)
    quirk = pool_tokens(tokens, "cls+mean_incl_registers", 5)  # eva's H0-mini option
    assert torch.allclose(quirk[0, 2:], torch.tensor([51.0, 52.0]))


def test_load_weights_from_local_safetensors(tmp_path):
    entry = REGISTRY["demo-h0-mini"]
    source = entry.build()
    path = tmp_path / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    loaded = load_model(entry, weights=path)
    for k, v in source.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    with pytest.raises(FileNotFoundError, match="training rule"):
        load_model(entry, root=tmp_path)  # source: train, file not there yet


def test_backbone_masking_and_dynamic_size():
    torch.manual_seed(0)
    bb = Backbone(REGISTRY["demo-vit-s8"].build()).eval()
    with torch.no_grad():
        bb.mask_token.fill_(3.0)
        x = torch.randn(2, 3, 64, 64)
        masks = torch.zeros(2, 64, dtype=torch.bool)
        masks[0, :10] = True
        plain, masked = bb(x), bb(x, masks)
        assert torch.allclose(plain["patch"][1], masked["patch"][1], atol=1e-5)
        assert not torch.allclose(plain["patch"][0], masked["patch"][0])
        assert bb(torch.randn(2, 3, 32, 32))["patch"].shape == (2, 16, 96)  # local crops


def test_dino_head_prototypes_have_unit_norm():
    head = DINOHead(16, 32, hidden_dim=24, bottleneck_dim=8, nlayers=3)
    with torch.no_grad():
        head.prototypes.mul_(5.0)  # the norm is not a free parameter
        logits = head(torch.randn(4, 16))
    assert logits.shape == (4, 32)
    assert logits.abs().max() <= 1.0 + 1e-5  # cosines


def test_random_init_baseline_is_the_same_network_in_every_job():
    import torch

    from pathfm.models.registry import load_model

    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = load_model("demo-vit-s8-random")
    assert torch.equal(torch.rand(3), before), "building the baseline moved the global RNG"
    torch.manual_seed(999)
    b = load_model("demo-vit-s8-random")
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name
