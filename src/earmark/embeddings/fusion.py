"""Fusion: ``"a+b"`` concatenates the vectors of two or more embedders.

Embedders have different windows, so the first one sets the timeline: each
of its windows is joined with the window of every other embedder whose
centre is nearest in time. Through the cache each part is computed (and
stored) once, so ``aisfx+birdnet`` reuses ``aisfx`` and ``birdnet`` entries.
A front end that gives patches (``logmel``, ``aisfx-mel``) joins flattened;
:attr:`FusedEmbedder.part_shapes` says how to cut a fused window back into
its parts (an ensemble's members each read their own, :mod:`earmark.models.ensemble`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from earmark.embeddings.base import Embedder, Embedding


class FusedEmbedder(Embedder):
    """Concatenation of several embedders, on the first one's windows."""

    version = "fusion-1"
    splittable = False  # each part has its own window grid and sample rate; a fused front end runs whole files

    def __init__(self, parts: list[Embedder]) -> None:
        self.parts = list(parts)
        self.name = "+".join(p.name for p in self.parts)
        self.sample_rate = self.parts[0].sample_rate
        self.part_shapes = [tuple(p.feature_shape) for p in self.parts]
        self.dims = sum(int(np.prod(s)) for s in self.part_shapes)
        self.licence = " + ".join(dict.fromkeys(p.licence for p in self.parts))
        self.commercial_use = all(p.commercial_use for p in self.parts)

    @property
    def window_s(self) -> float:
        return self.parts[0].window_s

    @property
    def hop_s(self) -> float:
        return self.parts[0].hop_s

    def params(self) -> dict:
        return {"parts": [p.identity() for p in self.parts]}

    def with_hop(self, hop_s: float) -> Embedder:
        from earmark.errors import ParameterError

        raise ParameterError(f"The fused embedder {self.name!r} cannot change its hop (its parts keep their own windows); leave --hop-s out.")

    def embed(self, y: np.ndarray, *, sr: int) -> Embedding:
        return fuse([p.embed(y, sr=sr) for p in self.parts])

    def embed_file(self, path: str | Path) -> Embedding:
        return fuse([p.embed_file(path) for p in self.parts])

    def embed_stream(self, chunks: Iterable[np.ndarray]) -> Embedding:
        """Chunks at the first part's rate; held in memory, since each part needs its own rate."""
        y = np.concatenate(list(chunks))
        return self.embed(y, sr=self.sample_rate)


def fuse(embeddings: list[Embedding]) -> Embedding:
    """Join window vectors on the first embedding's timeline (nearest window centre).

    Returns
    -------
    Embedding
        ``vectors`` of shape ``(n_windows_of_first, sum of dims)`` (a part's patches flattened).
    """
    first = embeddings[0]
    columns = [first.vectors.reshape(len(first.vectors), -1)]
    for other in embeddings[1:]:
        idx = np.searchsorted(other.times_s, first.times_s)
        idx = np.clip(idx, 1, len(other.times_s) - 1) if len(other.times_s) > 1 else np.zeros_like(idx)
        if len(other.times_s) > 1:
            left_closer = np.abs(first.times_s - other.times_s[idx - 1]) <= np.abs(other.times_s[idx] - first.times_s)
            idx = np.where(left_closer, idx - 1, idx)
        columns.append(other.vectors[idx].reshape(len(idx), -1))
    return Embedding(np.concatenate(columns, axis=1).astype(np.float32), first.times_s, first.level_db, first.duration_s)
