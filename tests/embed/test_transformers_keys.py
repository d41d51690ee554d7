"""transformers ViT / DINOv2 checkpoints -> timm: the converted timm model computes the same tokens.

Tiny random transformers models are saved with ``save_pretrained`` (the layout hub
repositories hold: legacy ``encoder.layer.N.attention.attention.query`` names,
config.json beside model.safetensors), exported through ``export_hub_weights`` with a
registry entry of the matching timm architecture, and compared token by token with
transformers' ``last_hidden_state`` (after the final norm).
"""

import dataclasses
import functools
import importlib
import logging

import pytest
import torch
import torch.nn as nn
from safetensors.torch import save_file

from pathfm.embed.hub_weights import check_against, export_hub_weights
from pathfm.embed.transformers_keys import convert_transformers_state
from pathfm.models.contract import EmbeddingContract
from pathfm.models.registry import ModelEntry, WeightsSpec, get_entry, load_weights
from tests.ci_expect import expected

# The dev extra installs transformers; without it (a bare install) these tests skip, unless
# PATHFM_CI_EXPECT names transformers, where a missing import must fail the run.
transformers = (importlib.import_module("transformers") if expected("transformers")
                else pytest.importorskip("transformers"))

IMG, PATCH, DIM, DEPTH, HEADS = 32, 8, 64, 2, 4
TOL = 1e-5
# The DINOv2 SwiGLU hidden size, (int(64·4·2/3) + 7) // 8 · 8 = 176, as a timm mlp_ratio.
SWIGLU_HIDDEN = 176


def _entry(arch, prefix_tokens, **kwargs):
    kwargs = {"img_size": IMG, "patch_size": PATCH, "embed_dim": DIM, "depth": DEPTH,
              "num_heads": HEADS, "dynamic_img_size": True, **kwargs}
    contract = EmbeddingContract(input_size=IMG, mean=(0.5,) * 3, std=(0.5,) * 3, patch_size=PATCH,
                                 prefix_tokens=prefix_tokens, pooling="cls", embed_dim=DIM)
    return ModelEntry(name=f"tiny-{arch}", arch=arch, kwargs=kwargs, contract=contract,
                      weights=WeightsSpec(source="hub", hub_id="x/y", hub_format="transformers", path="p"))


def _common():
    return {"hidden_size": DIM, "num_hidden_layers": DEPTH, "num_attention_heads": HEADS,
            "image_size": IMG, "patch_size": PATCH}


def _randomize(model):
    # Every tensor off its init value (LayerScale 1, LN weight 1, zero biases, zero
    # registers), so a swapped or dropped tensor shows in the outputs.
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


CASES = {
    "vit": (lambda: transformers.ViTModel(transformers.ViTConfig(**_common(), intermediate_size=4 * DIM)),
            _entry("vit_small_patch16_224", 1, mlp_ratio=4.0)),
    "dinov2": (lambda: transformers.Dinov2Model(transformers.Dinov2Config(**_common(), layerscale_value=1e-5)),
               _entry("vit_small_patch14_dinov2", 1, init_values=1e-5)),
    "dinov2-swiglu-packed": (
        lambda: transformers.Dinov2Model(transformers.Dinov2Config(**_common(), use_swiglu_ffn=True)),
        _entry("vit_small_patch14_dinov2", 1, init_values=1e-5, mlp_ratio=2 * SWIGLU_HIDDEN / DIM,
               mlp_layer="SwiGLUPacked", act_layer="SiLU")),
    "dinov2-swiglu": (
        lambda: transformers.Dinov2Model(transformers.Dinov2Config(**_common(), use_swiglu_ffn=True)),
        _entry("vit_small_patch14_dinov2", 1, init_values=1e-5, mlp_ratio=SWIGLU_HIDDEN / DIM,
               mlp_layer="SwiGLU", act_layer="SiLU")),
    # timm's reg4 DINOv2 architectures: no_embed_class, the CLS position folded into cls_token.
    "dinov2-registers": (
        lambda: transformers.Dinov2WithRegistersModel(
            transformers.Dinov2WithRegistersConfig(**_common(), num_register_tokens=4)),
        _entry("vit_small_patch14_reg4_dinov2", 5, init_values=1e-5)),
    # Registers on a class-embedding pos_embed: the registers' rows are zero.
    "dinov2-registers-embed-class": (
        lambda: transformers.Dinov2WithRegistersModel(
            transformers.Dinov2WithRegistersConfig(**_common(), num_register_tokens=4)),
        _entry("vit_small_patch16_224", 5, init_values=1e-5, reg_tokens=4)),
    # Hibou's layout: registers + SwiGLU.
    "dinov2-registers-swiglu": (
        lambda: transformers.Dinov2WithRegistersModel(transformers.Dinov2WithRegistersConfig(
            **_common(), num_register_tokens=4, use_swiglu_ffn=True, layerscale_value=1e-5)),
        _entry("vit_small_patch14_reg4_dinov2", 5, init_values=1e-5,
               mlp_ratio=2 * SWIGLU_HIDDEN / DIM, mlp_layer="SwiGLUPacked", act_layer="SiLU")),
}


def _export(case, tmp_path):
    make, entry = CASES[case]
    hf = _randomize(make())
    snap = tmp_path / "snap"
    hf.save_pretrained(snap)
    out = export_hub_weights(entry, snap, tmp_path / "weights.safetensors")
    return hf, entry, out


def _max_diff(hf, timm_model, x):
    with torch.no_grad():
        want = hf(pixel_values=x).last_hidden_state
        got = timm_model.eval().forward_features(x)
    assert got.shape == want.shape
    return (got - want).abs().max().item()


@pytest.mark.parametrize("case", sorted(CASES))
def test_converted_timm_model_matches_transformers(case, tmp_path):
    hf, entry, out = _export(case, tmp_path)
    # ViTModel's LayerNorm eps is 1e-12; building timm with it isolates the key conversion.
    eps = hf.config.layer_norm_eps
    timm_model = load_weights(entry.build(norm_layer=functools.partial(nn.LayerNorm, eps=eps)), out)
    x = torch.randn(2, 3, IMG, IMG)
    diff = _max_diff(hf, timm_model, x)
    assert diff < TOL, f"{case}: max |timm - transformers| = {diff:.2e}"


def test_vit_layer_norm_eps_difference_is_warned_and_small(tmp_path, caplog):
    # The registry builds Phikon with timm's eps 1e-6 (YAML cannot name a 1e-12 norm): the
    # export warns, and the tokens differ by more than the fp32 tolerance but little
    # (about 5e-5 here, 1.2e-3 for a random-init ViT-B/16 whose CLS row has a tiny variance).
    with caplog.at_level(logging.WARNING, logger="pathfm.embed.hub_weights"):
        hf, entry, out = _export("vit", tmp_path)
    assert "eps 1e-12" in caplog.text and "1e-06" in caplog.text
    diff = _max_diff(hf, load_weights(entry.build(), out), torch.randn(2, 3, IMG, IMG))
    assert diff < 1e-3, f"eps 1e-12 vs 1e-6: max |timm - transformers| = {diff:.2e}"


def test_transformers5_in_memory_names_convert_too():
    # A transformers 5 model's own state_dict() (q_proj / o_proj, layers.N for ViT,
    # gate_proj / up_proj / down_proj for SwiGLU) rather than the hub layout.
    for case in ("vit", "dinov2-swiglu-packed", "dinov2-registers"):
        make, entry = CASES[case]
        hf = _randomize(make())
        state = hf.state_dict()
        assert any("q_proj" in k for k in state)
        timm_model = entry.build(norm_layer=functools.partial(nn.LayerNorm, eps=hf.config.layer_norm_eps))
        timm_model.load_state_dict(convert_transformers_state(state, timm_model))
        assert _max_diff(hf, timm_model, torch.randn(1, 3, IMG, IMG)) < TOL, case


# The published configs (config.json of each hub repository; Hibou-L's as HistAI's
# build_model sets it up), built on the meta device: names and shapes only.
PUBLISHED = {
    "phikon": lambda: transformers.ViTModel(transformers.ViTConfig()),
    "phikon-v2": lambda: transformers.Dinov2Model(transformers.Dinov2Config(
        hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, image_size=224,
        patch_size=16, layerscale_value=1e-5)),
    "hibou-l": lambda: transformers.Dinov2WithRegistersModel(transformers.Dinov2WithRegistersConfig(
        hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, image_size=224,
        patch_size=14, num_register_tokens=4, use_swiglu_ffn=True, layerscale_value=1e-5)),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_registry_entries_take_the_published_checkpoints(name):
    entry = get_entry(name)
    assert entry.weights.hub_format == "transformers"
    with torch.device("meta"):
        hf = PUBLISHED[name]()
    check_against(entry, convert_transformers_state(hf.state_dict(), entry.build(device="meta")))


def test_task_head_checkpoint_exports_its_backbone(tmp_path):
    config = transformers.ViTConfig(**_common(), intermediate_size=4 * DIM, num_labels=3)
    hf = _randomize(transformers.ViTForImageClassification(config))
    hf.save_pretrained(tmp_path / "snap")
    entry = CASES["vit"][1]
    out = export_hub_weights(entry, tmp_path / "snap", tmp_path / "w.safetensors")
    timm_model = load_weights(entry.build(norm_layer=functools.partial(nn.LayerNorm, eps=1e-12)), out)
    assert _max_diff(hf.vit, timm_model, torch.randn(1, 3, IMG, IMG)) < TOL


def test_unknown_format_and_layout_are_refused(tmp_path):
    _, entry = CASES["vit"]
    with pytest.raises(NotImplementedError, match=r"'tiny-vit_small_patch16_224'.*hub_format 'onnx'"):
        export_hub_weights(dataclasses.replace(entry, weights=dataclasses.replace(
            entry.weights, hub_format="onnx")), tmp_path, tmp_path / "o.safetensors")
    # A transformers repository of another architecture (here: timm keys) is not guessed at.
    save_file({k: v.contiguous() for k, v in entry.build().state_dict().items()},
              str(tmp_path / "model.safetensors"))
    with pytest.raises(NotImplementedError, match="ViTModel / Dinov2Model / Dinov2WithRegistersModel"):
        export_hub_weights(entry, tmp_path, tmp_path / "o.safetensors")
    assert not (tmp_path / "o.safetensors").exists()


def test_other_grid_and_activation_are_refused(tmp_path):
    hf, entry, _ = _export("dinov2", tmp_path)
    bigger = dataclasses.replace(entry, kwargs={**entry.kwargs, "img_size": 2 * IMG})
    with pytest.raises(ValueError, match="4x4 patch grid, the registry model a 8x8"):
        export_hub_weights(bigger, tmp_path / "snap", tmp_path / "o.safetensors")
    quick = transformers.Dinov2Model(transformers.Dinov2Config(
        **_common(), layerscale_value=1e-5, hidden_act="quick_gelu"))
    quick.save_pretrained(tmp_path / "quick")
    with pytest.raises(ValueError, match="hidden_act 'quick_gelu'"):
        export_hub_weights(entry, tmp_path / "quick", tmp_path / "o.safetensors")
