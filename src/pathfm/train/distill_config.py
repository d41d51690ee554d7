"""Run configurations of the two distillation methods, with defaults and key checks.

``h0mini`` (H0-mini, Filiot et al. 2025, §3.1 and Table 4): a frozen teacher with
DINO + iBOT heads distils into a student with its own heads; DINO on class tokens,
iBOT on every patch token of the global crops, no masking, no KoLeo, no stochastic
depth, a spare EMA of the student is the result. Defaults not given by the paper
are DINOv2's (``ssl_default_config.yaml``) and are marked so below.

``gpfm`` (GPFM, Ma et al. 2024): DINOv2 self-distillation (the ``ssl`` section is a
``pathfm.train.ssl`` config with ``objective: dinov2``) plus expert distillation
from frozen experts (``experts``), one projector per expert.

Schedules given in DINOv2 "epochs" (``warmup_epochs``…) are converted to steps with
``epoch_length`` iterations per epoch (DINOv2's OFFICIAL_EPOCH_LENGTH is 1,250).
"""

from __future__ import annotations

import copy

from pathfm.config_merge import merge_known
from pathfm.train.loop import (
    accumulation_steps,
    check_accumulation_batch_statistics,
    check_micro_batch_size,
)
from pathfm.train.ssl import DEFAULT_CONFIG as SSL_DEFAULTS
from pathfm.train.ssl import resolve_config as resolve_ssl_config

METHODS = ("h0mini", "gpfm")
TEACHER_HEADS = ("checkpoint", "learned")

# Crops for both methods; mean/std come from the student's embedding contract.
CROPS_DEFAULTS: dict = {
    "global_size": 224, "local_size": 98, "n_local": 8,
    "global_scale": [0.32, 1.0], "local_scale": [0.05, 0.32],
}

DATA_DEFAULTS: dict = {
    "shuffle_chunks": 4,   # tile-store chunks read together and shuffled (block shuffle)
    "num_workers": 0,      # DataLoader worker processes (0: in the training process)
}

# Teacher–student similarity logged over training (pathfm.train.distill_monitor).
MONITOR_DEFAULTS: dict = {
    "reference": None,   # registry name; None: the teacher (h0mini) / first expert (gpfm)
    "weights": None,     # None: the registry's weights path of the reference
    "n_images": 32,      # fixed tiles, evenly spaced over the training stores
    "every": None,       # steps between records; None: log_every; 0: off
}

H0MINI_DEFAULTS: dict = {
    "method": "h0mini",
    "student": "demo-h0-mini",        # registry name of the student architecture
    "teacher": "demo-h-optimus",      # registry name of the frozen teacher
    "teacher_weights": None,          # None: the registry's weights path of the teacher
    # Teacher-side projection heads: "checkpoint" loads them (dino_head.* / ibot_head.*
    # keys, DINOv2 layout accepted) from teacher_heads_path or the teacher weights file;
    # "learned" trains them on the frozen teacher's features (see pathfm.train.distill).
    "teacher_heads": "learned",
    "teacher_heads_path": None,
    "registry": None,
    "student_init": None,             # None (random) | path to student backbone weights
    "seed": 0,
    "deterministic": False,
    "steps": 105_000,
    "global_batch_size": 2048,        # Table 4; split evenly over ranks
    # Images per GPU per forward; the loop accumulates per-rank batch / micro_batch_size
    # micro-batches per step (the loader yields micro-batches). None: no accumulation.
    "micro_batch_size": None,
    # micro_batch (the only value): Sinkhorn targets, the learned heads' masked iBOT mean
    # and FeatureStandardizer statistics are per micro-batch (pathfm.train.loop).
    "accumulation_batch_statistics": "micro_batch",
    "epoch_length": 1250,             # DINOv2 OFFICIAL_EPOCH_LENGTH
    "drop_path_rate": 0.0,            # §3.1: stochastic depth removed
    "precision": "bf16",              # §3.1: mixed precision
    "optim": {
        "lr": 4e-3, "lr_scaling": "sqrt",  # DINOv2 default base lr, sqrt w.r.t. 1,024
        "min_lr": 1e-6, "warmup_epochs": 16.0,  # Table 4
        "weight_decay": 0.04, "weight_decay_end": 0.4,  # Table 4 end value
        "betas": [0.9, 0.999], "clip_grad": 3.0, "layerwise_decay": 0.9,
        "patch_embed_lr_mult": 0.2, "freeze_last_layer_epochs": 1.0,
    },
    "ema": {"momentum": 0.992, "momentum_end": 1.0},  # spare EMA of the student
    "temperature": {"teacher": 0.07, "warmup_teacher": 0.04,
                    "warmup_epochs": 30.0, "student": 0.1},  # Table 4: 30 epochs
    "heads": {"out_dim": 131_072, "hidden_dim": 2048, "nlayers": 3,
              "dino_bottleneck_dim": 384, "ibot_bottleneck_dim": 256},  # Table 4
    "loss": {"centering": "softmax", "center_momentum": 0.9,
             "sinkhorn_iterations": 3, "dino_weight": 1.0, "ibot_weight": 1.0,
             # Rows of (rows, prototypes) scores formed at a time by the DINO / iBOT losses
             # (pathfm.losses.chunked_prototype_ce). iBOT scores every patch token: at
             # 2·B·256 tokens × 131,072 prototypes a rank's full scores are tens of GB per
             # tensor; 4096 rows are 2 GiB each in float32. 0: unchunked, the plain path.
             "chunk_rows": 4096},
    "learned_heads": {
        "weight": 1.0,                # weight of the head-training loss
        "momentum": 0.996, "momentum_end": 1.0,  # EMA of the target heads
        "distill_ramp_epochs": 0.0,   # student loss weight ramps 0 -> 1 (heads settle first)
        "mask_min_ratio": 0.1, "mask_max_ratio": 0.5, "mask_probability": 0.5,
        # standardize | none: teacher tokens standardised per dimension (running stats)
        # before the learned heads; "none" lets the centre wipe the targets (collapse).
        "input_norm": "standardize", "input_norm_momentum": 0.99,
    },
    "crops": CROPS_DEFAULTS,
    "data": DATA_DEFAULTS,
    "monitor": MONITOR_DEFAULTS,
    "checkpoint_every": 1000, "keep_checkpoints": 2, "log_every": 10, "progress": True,
    "export": "ema",                  # ema | student
    "data_manifest": None,
}

EXPERT_DEFAULTS: dict = {
    "model": None,         # registry name (required)
    "weights": None,       # None: the registry's weights path
    "cls_weight": 1.0,
    "patch_weight": 0.25,
    "input_size": None,    # None: experts see the global crops as they are; else resized
}

GPFM_DEFAULTS: dict = {
    "method": "gpfm",
    "ssl": {"objective": "dinov2", "model": "demo-gpfm", "export": "teacher"},
    "global_batch_size": None,  # None: ssl.batch_size per rank; else split over ranks
    "micro_batch_size": None,   # images per rank per forward; None: ssl.micro_batch_size
    "experts": [],
    "projector": {"hidden_dim": 2048, "nlayers": 2},
    "expert_loss": {"cos_weight": 0.9, "smooth_l1_weight": 0.1, "smooth_l1_beta": 1.0,
                    "resample": "bilinear"},
    "crops": CROPS_DEFAULTS,
    "data": DATA_DEFAULTS,
    "monitor": MONITOR_DEFAULTS,
}


def merge(config: dict | None, defaults: dict, where: str) -> dict:
    """Defaults deep-merged with ``config``; an unknown key raises naming its full path."""
    return merge_known(config, defaults, "distill config", where)


def resolve_distill_config(config: dict) -> dict:
    """A full, checked run config for ``config['method']`` (h0mini | gpfm)."""
    method = (config or {}).get("method")
    if method not in METHODS:
        raise ValueError(f"distill config 'method' is {method!r}; use one of {METHODS}")
    if method == "h0mini":
        cfg = merge(config, H0MINI_DEFAULTS, "")
        if cfg["teacher_heads"] not in TEACHER_HEADS:
            raise ValueError(f"teacher_heads {cfg['teacher_heads']!r} is not one of {TEACHER_HEADS}")
        if cfg["loss"]["centering"] not in ("softmax", "sinkhorn"):
            raise ValueError("loss.centering must be softmax or sinkhorn")
        if cfg["learned_heads"]["input_norm"] not in ("standardize", "none"):
            raise ValueError("learned_heads.input_norm must be standardize or none")
        if cfg["export"] not in ("ema", "student"):
            raise ValueError("export must be ema or student")
        check_micro_batch_size(cfg["micro_batch_size"])
        check_accumulation_batch_statistics(cfg["accumulation_batch_statistics"])
        # Known before the world size: a micro-batch that does not divide the global
        # batch divides no per-rank share of it.
        accumulation_steps(cfg["global_batch_size"], cfg["micro_batch_size"],
                           batch="global_batch_size", origin="it must divide every "
                           "per-rank batch, global_batch_size / ranks")
        return cfg
    # The ssl section is a pathfm.train.ssl config, checked by that module.
    ssl = {**GPFM_DEFAULTS["ssl"], **(config.get("ssl") or {})}
    cfg = merge({k: v for k, v in config.items() if k != "ssl"}, GPFM_DEFAULTS, "")
    if ssl["objective"] != "dinov2":
        raise ValueError("gpfm: ssl.objective must be dinov2 (DINO + iBOT + KoLeo)")
    cfg["ssl"] = resolve_ssl_config(ssl, SSL_DEFAULTS)
    check_micro_batch_size(cfg["micro_batch_size"])
    inner = cfg["ssl"]["micro_batch_size"]
    if None not in (cfg["micro_batch_size"], inner) and cfg["micro_batch_size"] != inner:
        raise ValueError(f"gpfm: micro_batch_size {cfg['micro_batch_size']} and "
                         f"ssl.micro_batch_size {inner} differ; set micro_batch_size only")
    # No experts is GPFM's "without expert distillation" ablation (Fig. 8): DINOv2 alone,
    # the from-scratch baseline of the same student on the same data and steps.
    experts = [merge(e, EXPERT_DEFAULTS, f"experts[{i}].") for i, e in enumerate(cfg["experts"])]
    names = [e["model"] for e in experts]
    if None in names or len(set(names)) != len(names):
        raise ValueError(f"gpfm: every expert needs a distinct 'model'; got {names}")
    cfg["experts"] = experts
    if cfg["expert_loss"]["resample"] not in ("bilinear", "bicubic"):
        raise ValueError("expert_loss.resample must be bilinear or bicubic")
    return cfg


def epochs_to_steps(epochs: float, epoch_length: int) -> int:
    return int(round(epochs * epoch_length))


def per_rank_batch(global_batch: int, world_size: int) -> int:
    """Images per rank; the global batch must split evenly."""
    if global_batch % world_size:
        raise ValueError(f"global_batch_size {global_batch} does not split over {world_size} ranks")
    return global_batch // world_size


def rank_batches(cfg: dict, world_size: int) -> tuple[int, int]:
    """(images per rank per step, images per rank per forward) of a resolved h0mini or
    gpfm config on ``world_size`` ranks; the loader yields batches of the second, the
    loop accumulates first / second of them per step.

    The micro-batch must divide the per-rank batch, else a ValueError names the key,
    the per-rank batch and the nearest valid values.
    """
    if cfg["method"] == "h0mini":
        batch, key = cfg["global_batch_size"], "micro_batch_size"
        per_rank, micro = per_rank_batch(batch, world_size), cfg["micro_batch_size"]
        origin = f"global_batch_size {batch} over {world_size} rank(s)"
    else:
        ssl, batch = cfg["ssl"], cfg["global_batch_size"]
        if batch:
            per_rank = per_rank_batch(batch, world_size)
            origin = f"global_batch_size {batch} over {world_size} rank(s)"
        else:
            per_rank, origin = ssl["batch_size"], "ssl.batch_size"
        key = "micro_batch_size" if cfg["micro_batch_size"] is not None else "ssl.micro_batch_size"
        micro = cfg["micro_batch_size"] if cfg["micro_batch_size"] is not None \
            else ssl["micro_batch_size"]
    k = accumulation_steps(per_rank, micro, key=key, origin=origin)
    return per_rank, per_rank // k


def student_name(cfg: dict) -> str:
    """The registry name of the model a resolved run config trains."""
    return cfg["student"] if cfg["method"] == "h0mini" else cfg["ssl"]["model"]


def monitor_reference(cfg: dict) -> tuple[str | None, str | None]:
    """(registry name, weights override) of the model the student is compared with, or
    (None, None) when the monitor is off or a run has neither teacher nor expert."""
    m = cfg["monitor"]
    if m["every"] == 0:
        return None, None
    if m["reference"]:
        return m["reference"], m["weights"]
    if cfg["method"] == "h0mini":
        return cfg["teacher"], cfg["teacher_weights"]
    if cfg["experts"]:
        return cfg["experts"][0]["model"], cfg["experts"][0]["weights"]
    return None, None


def frozen_models(cfg: dict) -> dict[str, str | None]:
    """Frozen models a resolved run config reads: registry name -> weights override (or None)."""
    if cfg["method"] == "h0mini":
        out = {cfg["teacher"]: cfg["teacher_weights"]}
    else:
        out = {e["model"]: e["weights"] for e in cfg["experts"]}
    name, weights = monitor_reference(cfg)
    if name and name not in out:
        out[name] = weights
    return out


def run_config_for(model: str, config: dict) -> dict:
    """Resolve the run config of workflow run ``model``; the student defaults to ``model``
    and must equal it (the rule writes results/models/{model}/)."""
    config = copy.deepcopy(config or {})
    if config.get("method") == "gpfm":
        config.setdefault("ssl", {}).setdefault("model", model)
    else:
        config.setdefault("student", model)
    cfg = resolve_distill_config(config)
    if student_name(cfg) != model:
        raise ValueError(f"distill run {model!r} trains {student_name(cfg)!r}: the run's name "
                         f"must be the student's registry name")
    return cfg


def from_scratch_config(base: dict, model: str) -> dict:
    """Run config (method gpfm, no experts) of ``model`` trained from scratch like ``base``.

    ``base`` is a resolved run config. The result is the GPFM method without expert
    distillation, i.e. DINOv2 alone (GPFM Fig. 8 "without expert distillation"; the
    H0-mini paper's from-scratch comparison): the same student architecture (``model``
    must be a registry entry with the base student's architecture), tile data, crops,
    seed, steps and batch, optimiser and schedules. The monitor keeps comparing with the
    base run's teacher / first expert, so the similarity of both runs is comparable.
    For an h0mini base, the student's EMA becomes the DINOv2 teacher (exported), its
    DINO head sizes the shared DINO/iBOT head, and its DINOv2 "epochs" become steps.
    """
    ref, ref_weights = monitor_reference(base)
    monitor = {**base["monitor"], "reference": ref, "weights": ref_weights}
    if base["method"] == "gpfm":
        ssl = {**copy.deepcopy(base["ssl"]), "model": model, "data_manifest": None}
        return {**copy.deepcopy({k: v for k, v in base.items() if k != "ssl"}),
                "ssl": ssl, "experts": [], "monitor": monitor}
    e, o, t, h = base["epoch_length"], base["optim"], base["temperature"], base["heads"]
    ssl = {
        "objective": "dinov2", "model": model, "registry": base["registry"],
        "init": base["student_init"], "seed": base["seed"],
        "deterministic": base["deterministic"], "steps": base["steps"],
        "drop_path_rate": base["drop_path_rate"], "precision": base["precision"],
        "optim": {"lr": o["lr"], "lr_scaling": o["lr_scaling"], "min_lr": o["min_lr"],
                  "warmup_steps": epochs_to_steps(o["warmup_epochs"], e),
                  "weight_decay": o["weight_decay"], "weight_decay_end": o["weight_decay_end"],
                  "betas": o["betas"], "clip_grad": o["clip_grad"],
                  "layerwise_decay": o["layerwise_decay"],
                  "patch_embed_lr_mult": o["patch_embed_lr_mult"],
                  "freeze_last_layer_steps": epochs_to_steps(o["freeze_last_layer_epochs"], e)},
        "teacher": {"momentum": base["ema"]["momentum"],
                    "momentum_end": base["ema"]["momentum_end"], "temp": t["teacher"],
                    "warmup_temp": t["warmup_teacher"],
                    "temp_warmup_steps": epochs_to_steps(t["warmup_epochs"], e)},
        "heads": {"out_dim": h["out_dim"], "hidden_dim": h["hidden_dim"],
                  "bottleneck_dim": h["dino_bottleneck_dim"], "nlayers": h["nlayers"]},
        "loss": {"student_temp": base["temperature"]["student"],
                 "center_momentum": base["loss"]["center_momentum"]},
        "checkpoint_every": base["checkpoint_every"],
        "keep_checkpoints": base["keep_checkpoints"], "log_every": base["log_every"],
        "progress": base["progress"], "export": "teacher",
        "accumulation_batch_statistics": base["accumulation_batch_statistics"],
    }
    return {"method": "gpfm", "ssl": ssl, "global_batch_size": base["global_batch_size"],
            "micro_batch_size": base["micro_batch_size"], "experts": [],
            "crops": copy.deepcopy(base["crops"]),
            "data": copy.deepcopy(base["data"]), "monitor": monitor}


def workflow_run_configs(runs: dict) -> dict[str, dict]:
    """Resolved run config of every entry of the config's ``distill.runs``: its own
    ``config``, or, with ``scratch_of: <run>``, the from-scratch twin of that run."""
    out = {m: run_config_for(m, r["config"]) for m, r in runs.items() if "scratch_of" not in r}
    for model, run in runs.items():
        if "scratch_of" in run:
            base = run["scratch_of"]
            if run.get("config"):
                raise ValueError(f"distill run {model!r} has both scratch_of and a config; "
                                 f"a from-scratch twin's config is derived from its base run")
            if base not in out:
                raise ValueError(f"distill run {model!r}: scratch_of {base!r} is not a distill "
                                 f"run with its own config; known: {sorted(out)}")
            out[model] = run_config_for(model, from_scratch_config(out[base], model))
    return out
