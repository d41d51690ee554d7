"""Join online patching to ``pathfm.train.ssl.run``: resolve a run's settings, build its loader.

A run is described by four dicts (the ``train.runs.<name>`` section of the
workflow config, also what ``scripts/train_ssl.py`` takes as JSON):

- ``ssl``: overrides of ``pathfm.train.ssl.DEFAULT_CONFIG`` (steps, batch_size, optim…);
- ``patching``: ``OnlinePatchingConfig`` fields;
- ``multicrop``: ``MultiCropConfig`` fields (mean/std come from the model's contract);
- ``epochs``: lengths in ImageNet-style epochs (``total``, ``warmup``,
  ``freeze_last_layer``, ``teacher_temp_warmup``), converted to steps with the
  global batch of this launch; a null keeps the step value of ``ssl``.
"""

from __future__ import annotations

import copy
from dataclasses import fields

from pathfm.data.multicrop import MultiCrop, MultiCropConfig
from pathfm.data.online_patching import OnlinePatchingConfig, OnlinePatchLoader
from pathfm.data.patch_sampling import SlideEntry, steps_for_epochs
from pathfm.models.registry import get_entry
from pathfm.params import from_dict
from pathfm.train.ssl import micro_batching, resolve_config

# epochs key -> (section of the ssl config or None, key) it sets, in steps.
EPOCH_KEYS = {
    "total": (None, "steps"),
    "warmup": ("optim", "warmup_steps"),
    "freeze_last_layer": ("optim", "freeze_last_layer_steps"),
    "teacher_temp_warmup": ("teacher", "temp_warmup_steps"),
}


def resolve_ssl_config(ssl: dict, epochs: dict | None, epoch_patches: int,
                       world_size: int) -> dict:
    """The full SSL config with every ``epochs`` entry turned into steps.

    Epochs count images, so steps follow the global batch ``batch_size × world_size``
    whatever the ``micro_batch_size`` (which must divide ``batch_size``)."""
    cfg = resolve_config(copy.deepcopy(ssl or {}))
    micro_batching(cfg)
    global_batch = cfg["batch_size"] * world_size
    for key, value in (epochs or {}).items():
        if key not in EPOCH_KEYS:
            raise KeyError(f"unknown epochs key {key!r}; known: {sorted(EPOCH_KEYS)}")
        if value is None:
            continue
        section, name = EPOCH_KEYS[key]
        steps = 0 if value == 0 else steps_for_epochs(value, epoch_patches, global_batch)
        (cfg if section is None else cfg[section])[name] = steps
    return cfg


def multicrop_config(values: dict, model: str, registry: str | None = None) -> MultiCropConfig:
    """MultiCropConfig from ``values`` with the registry contract's mean/std."""
    values = dict(values or {})
    for key in ("mean", "std"):
        if key in values:
            raise KeyError(f"multicrop.{key} comes from the model's registry contract; remove it")
    tuple_fields = {f.name for f in fields(MultiCropConfig) if "tuple" in str(f.type)}
    values = {k: tuple(v) if k in tuple_fields and isinstance(v, list) else v
              for k, v in values.items()}
    contract = get_entry(model, registry).contract
    return from_dict(MultiCropConfig, {**values, "mean": tuple(contract.mean),
                                       "std": tuple(contract.std)}, "multicrop")


def build_loader(slides: list[SlideEntry], ssl_cfg: dict, patching: OnlinePatchingConfig,
                 crops: MultiCropConfig, rank: int = 0, world_size: int = 1) -> OnlinePatchLoader:
    """The rank's loader of micro-batches (``micro_batch_size``, else ``batch_size``);
    the patch stream is seeded with the SSL seed.

    Batch b of rank r holds the global patch draws ``(b·world + r)·size …``, so on one
    rank the k micro-batches of a step are exactly the patches of the whole batch; on
    several ranks a step still reads the same global set of patches, spread over the
    ranks differently."""
    _, micro = micro_batching(ssl_cfg)
    return OnlinePatchLoader(slides, patching, MultiCrop(crops), batch_size=micro,
                             seed=ssl_cfg["seed"], rank=rank, world_size=world_size)
