"""Pretrained embedding models and feature extractors behind one contract."""

from earmark.embeddings.base import Embedder, Embedding
from earmark.embeddings.cache import EmbeddingCache, default_cache_dir
from earmark.embeddings.registry import DEFAULT_EMBEDDER, EMBEDDERS, get_embedder, register_embedder, unregister_embedder

__all__ = ["DEFAULT_EMBEDDER", "EMBEDDERS", "Embedder", "Embedding", "EmbeddingCache", "default_cache_dir", "get_embedder", "register_embedder",
           "unregister_embedder"]
