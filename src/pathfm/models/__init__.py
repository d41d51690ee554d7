"""Backbones (timm ViTs), projection heads, the registry and the embedding contract."""

from pathfm.models.contract import POOLINGS, EmbeddingContract, pool_tokens
from pathfm.models.heads import DINOHead
from pathfm.models.registry import (
    ModelEntry,
    WeightsSpec,
    get_entry,
    load_model,
    load_registry,
    load_weights,
    read_state_dict,
)
from pathfm.models.vit import Backbone, build_vit

__all__ = [
    "POOLINGS", "Backbone", "DINOHead", "EmbeddingContract", "ModelEntry", "WeightsSpec",
    "build_vit", "get_entry", "load_model", "load_registry", "load_weights", "pool_tokens",
    "read_state_dict",
]
