"""On-disk cache of embeddings, keyed by file content and embedder identity.

Layout: ``<dir>/<embedder fingerprint>/<sha[:2]>/<sha256 of the file>.npz``.
Each entry carries a checksum of its arrays; an entry that fails to load or
to verify is logged, deleted and recomputed. Entries are written to a
temporary name and renamed, so a crash never leaves a half-written entry
under a real name. A file is checked (exists, readable, audio) before it is
hashed, so a bad file gets the same one-line error with or without the
cache; a cache folder that cannot be written (read-only, full) is used for
reading only, with one warning.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from pathlib import Path

import numpy as np

from earmark.audio.io import audio_info
from earmark.embeddings.base import Embedder, Embedding
from earmark.errors import AudioLoadError, OutputError
from earmark.fileio import atomic_write, cache_root

log = logging.getLogger(__name__)

ENV_VAR = "EARMARK_CACHE_DIR"
_FIELDS = ("vectors", "times_s", "level_db")


def default_cache_dir() -> Path:
    """``$EARMARK_CACHE_DIR`` if set, else ``embeddings/`` in the user cache directory (see :func:`earmark.fileio.cache_root`)."""
    return cache_root() if os.environ.get(ENV_VAR) else cache_root() / "embeddings"


_SHA_MEMO: dict[tuple, str] = {}


def file_sha256(path: str | Path, *, block_bytes: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in blocks (remembered per path, size and modification time).

    Raises
    ------
    OSError
        If the file cannot be opened or read.
    """
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key in _SHA_MEMO:
        return _SHA_MEMO[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(block_bytes):
            h.update(block)
    if len(_SHA_MEMO) > 100_000:
        _SHA_MEMO.clear()
    _SHA_MEMO[key] = digest = h.hexdigest()
    return digest


def file_hashes(paths, client=None) -> dict[str, str | OSError]:
    """:func:`file_sha256` of each path (by ``str(path)``), or the ``OSError`` that stopped it.

    With a Dask ``client`` (:mod:`earmark.scale`) each worker hashes files
    itself, so the one pass over every byte is shared out instead of run by
    this process alone (on a cluster over a shared file system the client's
    hashing was the bottleneck of the scaling model in benchmarks/RESULTS.md).
    """
    out: dict[str, str | OSError] = {}
    if client is None:
        for p in paths:
            try:
                out[str(p)] = file_sha256(p)
            except OSError as exc:
                out[str(p)] = exc
        return out
    from earmark.scale import map_unordered

    for (p,), sha in map_unordered(client, file_sha256, [(str(p),) for p in paths]):
        if isinstance(sha, BaseException) and not isinstance(sha, OSError):
            sha = OSError(str(sha))
        out[p] = sha
    return out


def _checksum(arrays: dict) -> str:
    h = hashlib.sha256()
    for k in (*_FIELDS, "duration_s"):
        a = np.ascontiguousarray(arrays[k])
        h.update(k.encode() + str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    return h.hexdigest()


class EmbeddingCache:
    """Embeddings of audio files on disk.

    Parameters
    ----------
    directory : str or Path or None
        Cache location; ``None`` uses :func:`default_cache_dir`.
    enabled : bool
        ``False`` computes every time and stores nothing.
    """

    def __init__(self, directory: str | Path | None = None, *, enabled: bool = True) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.enabled = enabled
        self.writable = True
        self.hits = 0
        self.misses = 0

    def entry_path(self, embedder: Embedder, sha: str) -> Path:
        return self.directory / embedder.fingerprint() / sha[:2] / f"{sha}.npz"

    def get(self, embedder: Embedder, path: str | Path) -> Embedding:
        """The embedding of ``path``, from the cache if present and valid, else computed and stored."""
        parts = getattr(embedder, "parts", None)
        if parts is not None:  # a fusion: each part through the cache, then joined
            from earmark.embeddings.fusion import fuse

            return fuse([self.get(p, path) for p in parts])
        if not self.enabled:
            return embedder.embed_file(path)
        audio_info(path)  # a missing, unreadable or non-audio file fails here, with its one-line reason
        try:
            sha = file_sha256(path)
        except OSError as exc:
            raise AudioLoadError(f"{path}: cannot be read ({exc.strerror or exc}); check the file and its permissions.") from None
        entry = self.entry_path(embedder, sha)
        cached = self._read(entry)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        emb = embedder.embed_file(path)
        self._write(entry, emb)
        return emb

    def get_copies(self, embedder: Embedder, path: str | Path, augment, *, seed: int = 0) -> list[Embedding]:
        """Embeddings of ``augment.copies`` augmented versions of ``path`` (a :class:`~earmark.augment.WaveAugment`).

        The audio is augmented at the embedder's sample rate, seeded by the
        file's content and ``seed``, so a copy is the same whichever run asks
        for it, and cached under the embedder like the original.
        """
        parts = getattr(embedder, "parts", None)
        if parts is not None:  # each part's copies (the same draws), joined copy by copy
            from earmark.embeddings.fusion import fuse

            return [fuse(list(k)) for k in zip(*(self.get_copies(p, path, augment, seed=seed) for p in parts))]
        from earmark.audio.io import load

        audio_info(path)
        try:
            sha = file_sha256(path)
        except OSError as exc:
            raise AudioLoadError(f"{path}: cannot be read ({exc.strerror or exc}); check the file and its permissions.") from None
        entries = [self.entry_path(embedder, hashlib.sha256(f"{sha}:{augment.fingerprint()}:{seed}:{k}".encode()).hexdigest())
                   for k in range(augment.copies)]
        if self.enabled:
            cached = [self._read(e) for e in entries]
            if all(c is not None for c in cached):
                self.hits += len(cached)
                return cached
        self.misses += len(entries)
        y, sr = load(path, sr=embedder.sample_rate)
        embeddings = [embedder.embed_stream([c]) for c in augment.copies_of(y, sr, seed=[int(sha[:15], 16), seed])]
        if self.enabled:
            for entry, emb in zip(entries, embeddings):
                self._write(entry, emb)
        return embeddings

    def _read(self, entry: Path) -> Embedding | None:
        if not entry.is_file():
            return None
        try:
            with np.load(entry, allow_pickle=False) as data:
                arrays = {k: data[k] for k in (*_FIELDS, "duration_s", "checksum")}
            if str(arrays["checksum"]) != _checksum(arrays):
                raise ValueError("checksum mismatch")
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            log.warning("cache entry %s is corrupted (%s); recomputing", entry, exc)
            try:
                entry.unlink(missing_ok=True)
            except OSError:
                pass
            return None
        return Embedding(arrays["vectors"], arrays["times_s"], arrays["level_db"], float(arrays["duration_s"]))

    def _write(self, entry: Path, emb: Embedding) -> None:
        arrays = {"vectors": emb.vectors, "times_s": emb.times_s, "level_db": emb.level_db, "duration_s": np.float64(emb.duration_s)}
        arrays["checksum"] = np.str_(_checksum(arrays))
        if not self.writable:
            return
        try:
            with atomic_write(entry) as f:
                np.savez(f, **arrays)
        except OutputError as exc:
            self.writable = False
            log.warning("the embedding cache %s cannot be written (%s); going on without storing embeddings", self.directory, exc.reason)
