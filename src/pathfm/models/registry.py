"""The model registry: ``config/models.yaml`` read into typed entries.

An entry says how to build a backbone (timm ``arch`` + ``kwargs``), where its
weights come from (``weights``: ``hub_id`` for published models, which the
download rule fetches to ``path``; ``path`` alone for a local file; ``train``
for the output of one of our training rules; ``random``), and its embedding
contract (input size, mean/std, patch size, prefix tokens, pooling).

A trained run needs no entry of its own (e.g. the derived runs of the ablation
sweeps): ``get_entry(name)`` resolves a name the registry lacks through the card
the training rule writes beside its weights, ``results/models/{name}/card.yaml``,
whose ``model.name`` names the architecture entry; the workflow adds such runs
with ``trained_entries`` before their cards exist.

Building never downloads: ``build_model`` uses ``pretrained=False`` and
``load_model`` reads a local safetensors / torch file.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn as nn
import yaml

from pathfm.models.contract import EmbeddingContract
from pathfm.models.vit import build_vit

WEIGHT_SOURCES = ("hub", "path", "train", "random")
ENV_VAR = "PATHFM_MODELS_YAML"
MODELS_DIR = "results/models"  # trained models: {MODELS_DIR}/{name}/weights.safetensors + card


@dataclass(frozen=True)
class WeightsSpec:
    source: str  # hub | path | train | random
    path: str | None = None  # local file; for hub: where the downloader puts it
    hub_id: str | None = None
    hub_format: str | None = None  # timm | transformers | torchhub | torch (how to convert)
    hub_file: str | None = None


@dataclass(frozen=True)
class ModelEntry:
    name: str
    arch: str
    kwargs: dict
    weights: WeightsSpec
    contract: EmbeddingContract
    description: str = ""
    params_m: float | None = None  # documented size, checked without instantiating

    def build(self, device=None, **overrides) -> nn.Module:
        return build_vit(self.arch, self.kwargs, device=device, **overrides)


def default_registry_path() -> Path:
    """$PATHFM_MODELS_YAML, else config/models.yaml of the source checkout, else ./config."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    repo = Path(__file__).resolve().parents[3] / "config" / "models.yaml"
    return repo if repo.exists() else Path("config/models.yaml")


def _parse_entry(name: str, raw: dict, where: Path) -> ModelEntry:
    def need(key, d=raw, ctx=name):
        if key not in d:
            raise KeyError(f"{where}: model {ctx!r} lacks required key {key!r}")
        return d[key]

    builder, weights, contract = need("builder"), need("weights"), need("contract")
    source = need("source", weights, f"{name}.weights")
    if source not in WEIGHT_SOURCES:
        raise ValueError(f"{where}: {name}.weights.source {source!r} not in {WEIGHT_SOURCES}")
    if source in ("path", "train") and not weights.get("path"):
        raise ValueError(f"{where}: {name}.weights.source={source} needs weights.path")
    if source == "hub" and not weights.get("hub_id"):
        raise ValueError(f"{where}: {name}.weights.source=hub needs weights.hub_id")
    unknown = set(weights) - {"source", "path", "hub_id", "hub_format", "hub_file"}
    if unknown:
        raise KeyError(f"{where}: {name}.weights has unknown keys {sorted(unknown)}")
    c = dict(contract)
    extra = {k: c.pop(k) for k in list(c) if k not in EmbeddingContract.__dataclass_fields__}
    if extra:
        raise KeyError(f"{where}: {name}.contract has unknown keys {sorted(extra)}")
    c["mean"], c["std"] = tuple(c["mean"]), tuple(c["std"])
    return ModelEntry(
        name=name,
        arch=need("arch", builder, f"{name}.builder"),
        kwargs=dict(builder.get("kwargs") or {}),
        weights=WeightsSpec(**weights),
        contract=EmbeddingContract(**c),
        description=raw.get("description", ""),
        params_m=raw.get("params_m"),
    )


def load_registry(path: str | Path | None = None) -> dict[str, ModelEntry]:
    """Parse every entry of the registry YAML (top-level key ``models``)."""
    path = Path(path) if path else default_registry_path()
    with open(path) as f:
        raw = yaml.safe_load(f)
    if not isinstance(raw, dict) or "models" not in raw:
        raise KeyError(f"{path}: expected a top-level 'models:' mapping")
    return {name: _parse_entry(name, entry, path) for name, entry in raw["models"].items()}


def trained_weights_path(name: str, models_dir: str | Path = MODELS_DIR) -> str:
    return f"{models_dir}/{name}/weights.safetensors"


def trained_entry(name: str, arch: ModelEntry, models_dir: str | Path = MODELS_DIR) -> ModelEntry:
    """Entry of a model trained under ``name`` with the architecture and contract of ``arch``
    (a run of train.runs, e.g. a derived sweep run): weights from the training rule."""
    weights = WeightsSpec(source="train", path=trained_weights_path(name, models_dir))
    return replace(arch, name=name, weights=weights,
                   description=f"{arch.name} trained as run {name!r}")


def trained_entries(runs: dict, registry: dict[str, ModelEntry],
                    models_dir: str | Path = MODELS_DIR) -> dict[str, ModelEntry]:
    """Entries of training runs ``{run: {'model': arch, ...}}`` that the registry lacks."""
    return {run: trained_entry(run, registry[spec["model"]], models_dir)
            for run, spec in runs.items() if run not in registry}


def get_entry(name: str, path: str | Path | None = None,
              models_dir: str | Path = MODELS_DIR) -> ModelEntry:
    """A registry entry; a name the registry lacks resolves through the card of a model
    trained under that name (``{models_dir}/{name}/card.yaml``, written with the weights by
    train_ssl), whose ``model.name`` is the registry architecture it was trained as."""
    registry = load_registry(path)
    if name in registry:
        return registry[name]
    card = Path(models_dir) / name / "card.yaml"
    if card.is_file():
        arch = (yaml.safe_load(card.read_text()).get("model") or {}).get("name")
        if arch in registry:
            return trained_entry(name, registry[arch], models_dir)
        raise KeyError(f"{card}: model.name {arch!r} is not in the registry {path or ''}")
    raise KeyError(f"model {name!r} is not in the registry and no trained model card "
                   f"{card} exists; known: {sorted(registry)}")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from .safetensors, or from a torch file (.pt/.pth/.bin, tensors only)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path))
    obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("teacher_backbone", "model", "state_dict"):  # common checkpoint wrappers
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    return obj


def load_weights(model: nn.Module, path: str | Path, strict: bool = True) -> nn.Module:
    """Load a local weights file into ``model`` (keys as in ``timm`` models)."""
    state = read_state_dict(path)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if strict and (missing or unexpected):
        raise RuntimeError(
            f"{path} does not match the model: missing {missing[:5]}{'…' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'…' if len(unexpected) > 5 else ''}"
        )
    return model


def resolve_weights_path(entry: ModelEntry, root: str | Path = ".") -> Path | None:
    """The local weights file of an entry (None for random init)."""
    if entry.weights.source == "random":
        return None
    if entry.weights.path is None:
        raise FileNotFoundError(
            f"model {entry.name!r} has hub weights {entry.weights.hub_id!r} but no local "
            f"weights.path in the registry; download them and set the path"
        )
    return Path(root) / entry.weights.path


def random_init_seed(entry: ModelEntry) -> int:
    """Seed of a random-init model: stable across processes, machines and Python runs."""
    return zlib.crc32(entry.name.encode())


def load_model(name_or_entry: str | ModelEntry, weights: str | Path | None = None,
               registry: str | Path | None = None, root: str | Path = ".",
               **overrides) -> nn.Module:
    """Build a registry model and load its weights from a local file.

    ``weights`` overrides the registry's path. A missing file is an error that names
    where the weights should come from (hub id or training rule), never a download.
    """
    entry = name_or_entry if isinstance(name_or_entry, ModelEntry) else get_entry(
        name_or_entry, registry)
    path = Path(weights) if weights else resolve_weights_path(entry, root)
    if path is None:
        # A random-init baseline must be the same network in every job (embeddings of
        # different slides or datasets are compared), and must not disturb global RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(random_init_seed(entry))
            return entry.build(**overrides)
    model = entry.build(**overrides)
    if not path.exists():
        hint = {
            "hub": f"download hub weights {entry.weights.hub_id!r} first",
            "train": "run the training rule that writes it",
        }.get(entry.weights.source, "check weights.path in config/models.yaml")
        raise FileNotFoundError(f"weights of {entry.name!r} not found at {path}: {hint}")
    return load_weights(model, path)
