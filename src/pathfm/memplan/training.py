"""Predicted peak memory per GPU of one micro-batch step of the training tasks:
H0-mini distillation (``pathfm.train.distill``), DINO / DINOv2 (``pathfm.train.ssl``) and
GPFM (``pathfm.train.gpfm``), from their resolved run configs.

Phases, in the order the tasks run them (``b`` images per micro-batch):

- ``teacher targets``: the frozen teacher / EMA teacher forward under no_grad on the
  2b global crops (one block's working set at a time, its output tokens kept) and the
  prototype targets made from it;
- ``student losses``: every activation of the student's forward saved for backward
  (backbone on 2b global + n_local·b local crops, heads), the teacher's outputs, and the
  losses run in order (``pathfm.memplan.losses``);
- ``frozen passes``: what the task runs under no_grad after the student's forward
  (H0-mini's learned teacher heads: the teacher on local and masked crops; GPFM: each
  expert) on top of the saved activations and the losses' held bytes;
- ``backward``: saved activations + the losses' kept bytes + the larger of the losses'
  backward transients and one block's backward working set.
"""

from __future__ import annotations

from pathfm.memplan.arch import HeadDims, ViTDims, mlp_params, vit_dims
from pathfm.memplan.estimate import Estimate, act_bytes, optimiser_static
from pathfm.memplan.losses import LossTerm, backward_peak, forward_peak, held_after_forward

FP32 = 4
INDEX_BYTES = 16  # int64 (row, col) of each row a boolean mask selects, kept for backward


def masked_rows(n_images: int, patches: int, masking: dict, keys=("min_ratio", "max_ratio",
                                                                  "probability")) -> int:
    """Masked tokens of ``pathfm.train.masking.sample_masks``: round(n·p) crops masked,
    their ratios spread evenly over [min, max]."""
    lo, hi, p = (masking[k] for k in keys)
    return int(round(n_images * p) * patches * (lo + hi) / 2)


def _crops(crops: dict) -> tuple[int, int, int]:
    return crops["global_size"], crops["local_size"], crops["n_local"]


def _student_acts(v: ViTDims, a: int, b: int, g: int, l_px: int, n_local: int,
                  n_global: int = 2) -> int:
    tokens = n_global * b * v.tokens(g) + n_local * b * v.tokens(l_px)
    patches = n_global * b * v.patches(g) + n_local * b * v.patches(l_px)
    return tokens * v.saved_per_token(a) + patches * v.patch_embed_saved(a)


def _inputs(b: int, g: int, l_px: int, n_local: int, n_global: int = 2) -> int:
    return FP32 * 3 * b * (n_global * g * g + n_local * l_px * l_px)


def _nograd(v: ViTDims, a: int, tokens: int) -> int:
    return tokens * v.nograd_working_set(a)


def _bwd_ws(v: ViTDims, a: int, b: int, g: int, l_px: int, n_local: int, n_global: int = 2) -> int:
    # One block of one backbone call (global or local crops) runs backward at a time.
    tokens = max(n_global * b * v.tokens(g), n_local * b * v.tokens(l_px))
    return tokens * v.backward_working_set(a)


def _head_acts(head: HeadDims, rows: int, calls: int, a: int, fused: bool,
               indexed: bool = False) -> int:
    """Saved bytes of a head over ``rows`` rows in ``calls`` calls; on the plain path each
    call keeps its normalised prototype copy (the fused losses hold theirs)."""
    per_row = head.saved_per_row(a, fused) + (INDEX_BYTES if indexed else 0)
    return rows * per_row + (0 if fused else calls * head.prototype_copy(a))


def h0mini(cfg: dict, registry: dict, gpus: int, micro: int, chunk_rows: int | None) -> Estimate:
    """H0-mini: frozen teacher, student + its heads, learned teacher heads, spare EMA."""
    s, t = vit_dims(registry[cfg["student"]]), vit_dims(registry[cfg["teacher"]])
    a, h, b = act_bytes(cfg["precision"]), cfg["heads"], micro
    K = h["out_dim"]
    g, l_px, n_local = _crops(cfg["crops"])
    learned = cfg["teacher_heads"] == "learned"

    def heads(in_dim):
        return (HeadDims(in_dim, K, h["hidden_dim"], h["dino_bottleneck_dim"], h["nlayers"]),
                HeadDims(in_dim, K, h["hidden_dim"], h["ibot_bottleneck_dim"], h["nlayers"]))

    s_dino, s_ibot = heads(s.embed_dim)
    t_dino, t_ibot = heads(t.embed_dim)
    t_heads = t_dino.params + t_ibot.params
    trainable = s.params + s_dino.params + s_ibot.params + (t_heads if learned else 0)
    frozen = s.params + t.params + t_heads  # EMA student, teacher, target heads
    static = optimiser_static(trainable, frozen, cfg["precision"], gpus)

    crops = (2 + n_local) * b
    n_patch = 2 * b * s.patches(g)
    lh = cfg["learned_heads"]
    m = masked_rows(2 * b, s.patches(g), lh, ("mask_min_ratio", "mask_max_ratio",
                                              "mask_probability")) if learned else 0
    acts = _student_acts(s, a, b, g, l_px, n_local)
    fused = bool(chunk_rows)
    head_acts = (_head_acts(s_dino, crops, 2, a, fused)
                 + _head_acts(s_ibot, n_patch, 1, a, fused, indexed=True))
    if learned:
        head_acts += (_head_acts(t_dino, crops, 1, a, fused)
                      + _head_acts(t_ibot, m, 1, a, fused, indexed=True))
    # The teacher's final tokens of the global crops stay for the whole forward, with the
    # standardised copies the learned heads read.
    t_tokens = 2 * b * t.tokens(g)
    t_out = t_tokens * FP32 * t.embed_dim * (2 if learned else 1)
    d_bn, i_bn = h["dino_bottleneck_dim"], h["ibot_bottleneck_dim"]
    losses = [LossTerm("student dino", crops, K, a, chunk_rows, "dino", 2 * b, d_bn),
              LossTerm("student ibot", n_patch, K, a, chunk_rows, bottleneck=i_bn)]
    if learned:
        losses += [LossTerm("head dino", crops, K, a, chunk_rows, "dino", 2 * b, d_bn),
                   LossTerm("head ibot", m, K, a, chunk_rows, "ibot_indexed", bottleneck=i_bn)]
    inputs = _inputs(b, g, l_px, n_local)
    targets = max(x.teacher_targets_peak() for x in losses[:2])
    frozen_ws = max(_nograd(t, a, 2 * b * t.tokens(g)), _nograd(t, a, n_local * b * t.tokens(l_px)))
    phases = {
        "teacher targets": {"inputs": inputs, "teacher no-grad forward": frozen_ws,
                            "teacher tokens": t_out, "prototype targets": targets},
        "student losses": {"inputs": inputs, "student activations": acts, "head activations":
                           head_acts, "teacher tokens": t_out, "prototype losses": forward_peak(losses)},
        "backward": {"student activations": acts, "head activations": head_acts,
                     "prototype losses": backward_peak(losses),
                     "block backward": _bwd_ws(s, a, b, g, l_px, n_local)},
    }
    if learned:
        phases["frozen passes"] = {
            "inputs": inputs, "student activations": acts, "head activations": head_acts,
            "teacher tokens": t_out, "prototype losses": held_after_forward(losses, False),
            "teacher no-grad forward": frozen_ws}
    return Estimate(static, phases, micro)


def ssl(cfg: dict, registry: dict, gpus: int, micro: int, chunk_rows: int | None,
        crops: dict, experts: list[dict] | None = None, projector: dict | None = None
        ) -> Estimate:
    """DINO / DINOv2 (``cfg``: a resolved ``pathfm.train.ssl`` config), plus GPFM's
    frozen experts and their projectors when ``experts`` is given."""
    v = vit_dims(registry[cfg["model"]])
    a, h, b = act_bytes(cfg["precision"]), cfg["heads"], micro
    v2 = cfg["objective"] == "dinov2"
    g, l_px, n_local = _crops(crops)
    n_g = cfg.get("n_global_crops", 2)
    dino = HeadDims(v.embed_dim, h["out_dim"], h["hidden_dim"], h["bottleneck_dim"], h["nlayers"])
    separate = v2 and h["ibot_separate_head"]
    ibot = (HeadDims(v.embed_dim, h["ibot_out_dim"], h["ibot_hidden_dim"], h["ibot_bottleneck_dim"],
                     h["nlayers"]) if separate else dino)
    heads_params = dino.params + (ibot.params if separate else 0)
    experts = experts or []
    e_dims = [vit_dims(registry[e["model"]]) for e in experts]
    proj = projector or {"hidden_dim": 0, "nlayers": 1}
    proj_params = sum(mlp_params(v.embed_dim, e.embed_dim, proj["hidden_dim"], proj["nlayers"])
                      for e in e_dims)
    trainable = v.params + heads_params + proj_params + (v.embed_dim if v2 else 0)
    frozen = v.params + heads_params + sum(e.params for e in e_dims)  # EMA teacher, experts
    static = optimiser_static(trainable, frozen, cfg["precision"], gpus)

    crops_n = (n_g + n_local) * b
    m = masked_rows(n_g * b, v.patches(g), cfg["masking"]) if v2 else 0
    acts = _student_acts(v, a, b, g, l_px, n_local, n_g)
    fused = bool(chunk_rows)
    head_acts = _head_acts(dino, crops_n, 2, a, fused)
    if v2:
        head_acts += _head_acts(ibot, m, 1, a, fused, indexed=True)
    n_patch = n_g * b * v.patches(g)
    hid_rows = 2 * max(proj["nlayers"] - 1, 0) * proj["hidden_dim"]
    for e in e_dims:  # projector on CLS + patch tokens; the expert loss's fp32 copies
        head_acts += (n_g * b + n_patch) * (a * (v.embed_dim + hid_rows) + (a + 3 * FP32) * e.embed_dim)
    losses = [LossTerm("dino", crops_n, h["out_dim"], a, chunk_rows, "dino", n_g * b, dino.bottleneck)]
    if v2:
        losses.append(LossTerm("ibot", m, ibot.out_dim, a, chunk_rows, bottleneck=ibot.bottleneck))
    inputs = _inputs(b, g, l_px, n_local, n_g)
    teacher_tokens = n_g * b * v.tokens(g)
    t_out = teacher_tokens * FP32 * v.embed_dim
    phases = {
        "teacher targets": {"inputs": inputs, "teacher no-grad forward": _nograd(v, a, teacher_tokens),
                            "teacher tokens": t_out,
                            "prototype targets": max(x.teacher_targets_peak() for x in losses)},
        "student losses": {"inputs": inputs, "student activations": acts, "head activations": head_acts,
                           "prototype losses": forward_peak(losses)},
        "backward": {"student activations": acts, "head activations": head_acts,
                     "prototype losses": backward_peak(losses),
                     "block backward": _bwd_ws(v, a, b, g, l_px, n_local, n_g)},
    }
    if e_dims:
        e_ws = max(_nograd(e, a, n_g * b * e.tokens(g)) + n_g * b * e.tokens(g) * FP32 * e.embed_dim * 2
                   for e in e_dims)
        phases["frozen passes"] = {"inputs": inputs, "student activations": acts,
                                   "head activations": head_acts,
                                   "prototype losses": held_after_forward(losses, True),
                                   "expert no-grad forward": e_ws}
    return Estimate(static, phases, micro)
