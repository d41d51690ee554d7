"""Embedding extraction: images (tile stores or labelled datasets) -> an embedding store.

``extract_embeddings`` applies a registry model's embedding contract and writes
``features`` (N×D) with ids / labels / splits and provenance, shard by shard so
an interrupted run resumes. ``open_embedding_store`` reads one back.
"""

from pathfm.embed.extract import ExtractSettings, extract_embeddings
from pathfm.embed.images import DATASET_KINDS, ImageSource, open_image_source
from pathfm.embed.store import EmbeddingStore, open_embedding_store, pooling_array_name
from pathfm.embed.transform import ContractTransform, embed_batch

__all__ = [
    "DATASET_KINDS",
    "ContractTransform",
    "EmbeddingStore",
    "ExtractSettings",
    "ImageSource",
    "embed_batch",
    "extract_embeddings",
    "open_embedding_store",
    "open_image_source",
    "pooling_array_name",
]
