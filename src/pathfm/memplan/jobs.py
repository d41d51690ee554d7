"""Every GPU job kind of a (schema-validated, default-filled) workflow config, with the
function predicting its peak per GPU under given settings and the config keys of those
settings, so a job that does not fit can say which values would make it fit."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pathfm.memplan import inference, training
from pathfm.memplan.estimate import Estimate


# Tiles per PLISM slide when a set does not state hub_expected_tiles: the H0-mini
# paper's 16,278 matched tiles (every slide of a set holds the same tiles).
PLISM_TILES = 16278


@dataclass
class GpuJob:
    rule: str
    name: str                     # run or model
    gpus: int
    # settings -> Estimate; settings: {"micro": int, "chunk": int | None} for training,
    # {"batch": int} for embedding / segmentation, {"chunk": int} for PLISM metrics
    predict: Callable[[dict], Estimate]
    settings: dict
    keys: dict[str, str] = field(default_factory=dict)  # setting -> config key path
    per_rank_batch: int | None = None                    # training: what micro-batches split
    note: str = ""
    # A run's own gpu_memory_gb (the partition it is sent to); None: the config's.
    gpu_memory_gb: float | None = None

    def estimate(self, **overrides) -> Estimate:
        return self.predict({**self.settings, **overrides})


def _registry(config: Mapping):
    from pathfm.workflow.models import model_registry
    return model_registry(config)


def _train_registry(config: Mapping):
    from pathfm.models.registry import load_registry
    return load_registry(config["train"]["registry"])


def _micro(cfg: dict, per_rank: int) -> int:
    return cfg.get("micro_batch_size") or per_rank


def _chunk(loss: dict) -> int | None:
    return loss.get("chunk_rows") or None


def distill_jobs(config: Mapping) -> list[GpuJob]:
    from pathfm.train.distill_config import workflow_run_configs

    runs = config["distill"]["runs"]
    if not any(r.get("gpu", 0) > 0 for r in runs.values()):
        return []
    resolved = workflow_run_configs(runs)
    jobs = []
    for name, spec in runs.items():
        gpus = spec.get("gpu", 0)
        if gpus <= 0:
            continue
        cfg = resolved[name]
        registry = _registry_for(cfg, config)
        # A from-scratch twin's config is derived from its base run's: set it there.
        owner = spec.get("scratch_of") or name
        base_method = (runs[owner].get("config") or {}).get("method")
        prefix = f"distill.runs.{owner}.config"
        if cfg["method"] == "h0mini":
            per_rank, loss = cfg["global_batch_size"] // gpus, cfg["loss"]
            micro = cfg.get("micro_batch_size") or per_rank

            def predict(s, cfg=cfg, registry=registry, gpus=gpus):
                return training.h0mini(cfg, registry, gpus, s["micro"], s["chunk"])
        else:
            ssl = cfg["ssl"]
            per_rank = cfg["global_batch_size"] // gpus if cfg["global_batch_size"] else ssl["batch_size"]
            loss = ssl["loss"]
            # The run's micro_batch_size wins; null falls back to ssl.micro_batch_size.
            micro = cfg.get("micro_batch_size") or ssl.get("micro_batch_size") or per_rank

            def predict(s, cfg=cfg, registry=registry, gpus=gpus):
                return training.ssl(cfg["ssl"], registry, gpus, s["micro"], s["chunk"], cfg["crops"],
                                    cfg["experts"], cfg["projector"])
        keys = {}
        if "micro_batch_size" in cfg:
            keys["micro"] = f"{prefix}.micro_batch_size"
        # An H0-mini base's twin keeps the SSL default chunk_rows (from_scratch_config
        # does not carry loss.chunk_rows over), so no key of the config sets it.
        twin_of_h0mini = owner != name and base_method == "h0mini"
        if "chunk_rows" in loss and not twin_of_h0mini:
            keys["chunk"] = f"{prefix}.{'' if cfg['method'] == 'h0mini' else 'ssl.'}loss.chunk_rows"
        jobs.append(GpuJob("distill", name, gpus, predict,
                           {"micro": micro, "chunk": _chunk(loss)}, keys,
                           per_rank, f"from-scratch twin of {owner}" if owner != name else "",
                           spec.get("gpu_memory_gb")))
    return jobs


def _registry_for(cfg: dict, config: Mapping) -> dict:
    from pathfm.models.registry import load_registry
    reg = cfg.get("registry") or (cfg.get("ssl") or {}).get("registry")
    return load_registry(reg) if reg else _registry(config)


def train_jobs(config: Mapping) -> list[GpuJob]:
    from pathfm.train.ssl import resolve_config
    from pathfm.workflow.models import training_runs

    runs = training_runs(config)
    if not any(r.get("gpu", 0) > 0 for r in runs.values()):
        return []
    registry = _train_registry(config)
    declared = config["train"]["runs"]
    base = (config.get("sweeps") or {}).get("base")
    jobs = []
    for name, spec in runs.items():
        gpus = spec.get("gpu", 0)
        if gpus <= 0:
            continue
        cfg = resolve_config({**spec["ssl"], "objective": spec["objective"], "model": spec["model"]})
        owner = name if name in declared or not base else base
        prefix = f"train.runs.{owner}.ssl"
        keys = {k: f"{prefix}.{path}" for k, path, present in (
            ("micro", "micro_batch_size", "micro_batch_size" in cfg),
            ("chunk", "loss.chunk_rows", "chunk_rows" in cfg["loss"])) if present}

        def predict(s, cfg=cfg, gpus=gpus, crops=spec["multicrop"]):
            return training.ssl(cfg, registry, gpus, s["micro"], s["chunk"], crops)
        jobs.append(GpuJob("train_ssl", name, gpus, predict,
                           {"micro": _micro(cfg, cfg["batch_size"]), "chunk": _chunk(cfg["loss"])},
                           keys, cfg["batch_size"], "" if owner == name else f"sweep run of {owner}",
                           spec.get("gpu_memory_gb")))
    return jobs


def _unique(*lists) -> list[str]:
    out: list[str] = []
    for models in lists:
        out += [m for m in models or [] if m not in out]
    return out


def inference_jobs(config: Mapping) -> list[GpuJob]:
    registry = None
    jobs = []
    e, sb, pl = config["embed"], config["slide_bench"], config["plism"]
    if e["gpu"] > 0:
        registry = registry or _registry(config)
        for m in _unique(e["models"], pl["models"], sb["models"] or e["models"]):
            jobs.append(GpuJob("embed", m, 1, lambda s, entry=registry[m]: inference.embed(
                entry, s["batch"], e["autocast"]), {"batch": e["batch_size"]},
                {"batch": "embed.batch_size"}))
    seg = sb["segmentation"]
    if seg["gpu"] > 0 and seg["tasks"]:
        registry = registry or _registry(config)
        for m in _unique(sb["models"] or e["models"]):
            jobs.append(GpuJob("segmentation_bench", m, seg["gpu"], lambda s, entry=registry[m]:
                               inference.segmentation(entry, s["batch"]), {"batch": seg["batch_size"]},
                               {"batch": "slide_bench.segmentation.batch_size"},
                               note="the script computes on the CPU today"))
    metrics = pl["metrics"]
    if metrics["gpu"] > 0 and pl["sets"]:
        registry = registry or _registry(config)
        n = max(s.get("hub_expected_tiles") or PLISM_TILES for s in pl["sets"].values())
        for m in _unique(pl["models"]):
            jobs.append(GpuJob("plism_bench", m, metrics["gpu"], lambda s, entry=registry[m]:
                               inference.plism(entry, n, s["chunk"]), {"chunk": metrics["chunk"]},
                               {"chunk": "plism.metrics.chunk"}))
    return jobs


def gpu_jobs(config: Mapping) -> list[GpuJob]:
    """Every GPU job kind of the config: distillation, SSL training (sweeps included),
    embedding, segmentation and PLISM-metric jobs with gpu > 0."""
    return distill_jobs(config) + train_jobs(config) + inference_jobs(config)
