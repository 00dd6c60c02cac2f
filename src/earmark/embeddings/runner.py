"""Embed many files through the cache, skipping and reporting bad ones."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from earmark.embeddings.base import Embedder, Embedding
from earmark.embeddings.cache import EmbeddingCache
from earmark.errors import EarmarkError
from earmark.progress import track

log = logging.getLogger(__name__)


@dataclass
class EmbeddedFiles:
    """Embeddings of the files that worked, and ``(file, reason)`` for those that did not."""

    embeddings: dict[Path, Embedding] = field(default_factory=dict)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def audio_seconds(self) -> float:
        return float(sum(e.duration_s for e in self.embeddings.values()))


def embed_files(paths, embedder: Embedder, cache: EmbeddingCache, *, progress: bool = False) -> EmbeddedFiles:
    """Embed each file in ``paths`` (through ``cache``); bad files are logged and skipped.

    A file that cannot be decoded never stops the batch: its path and the
    reason land in ``skipped`` and the rest go on.
    """
    result = EmbeddedFiles()
    paths = [Path(p) for p in paths]
    for path in track(paths, description=f"embedding ({embedder.name})", total=len(paths), enabled=progress):
        try:
            result.embeddings[path] = cache.get(embedder, path)
        except EarmarkError as exc:
            log.info("skipping %s", exc)
            result.skipped.append((path, _reason(path, exc)))
    return result


def _reason(path: Path, exc: Exception) -> str:
    text = str(exc)
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text
