"""Embedding extraction: images (tile stores or labelled datasets) -> an embedding store.

``extract_embeddings`` applies a registry model's embedding contract and writes
``features`` (N×D) with ids / labels / splits and provenance, shard by shard so
an interrupted run resumes. ``open_embedding_store`` reads one back.

Names are imported on first use: a benchmark job that only reads a store
(``pathfm.embed.store``) must not pay for importing timm and the model registry,
which is most of its start-up time.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "ExtractSettings": "extract", "extract_embeddings": "extract",
    "DATASET_KINDS": "images", "ImageSource": "images", "open_image_source": "images",
    "EmbeddingStore": "store", "open_embedding_store": "store", "pooling_array_name": "store",
    "ContractTransform": "transform", "embed_batch": "transform",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'pathfm.embed' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pathfm.embed.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
