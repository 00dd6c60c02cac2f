"""Search a store: windows like an example (exact or approximate), or windows a model scores highest for a class.

Distances are cosine distances (``1 - cos``) between L2-normalised window
embeddings; for a query of several windows (a clip, a stretch of a file) a
stored window's distance is to the nearest query window. Exact search streams the store one shard at a
time (memory stays at one shard). Approximate search uses an HNSW graph
(usearch) kept in ``STORE/ann/``, built over the windows above the gate and
rebuilt when the store has changed since.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from earmark.errors import ParameterError
from earmark.explore.store import Store
from earmark.fileio import atomic_write

log = logging.getLogger(__name__)

MAX_QUERY_WINDOWS = 256
_LIKE = re.compile(r"^(?P<path>.+?)(?:@(?P<start>\d+(?:\.\d*)?)-(?P<end>\d+(?:\.\d*)?))?$")


@dataclass
class Hit:
    """One window found: where it is, and how near (distance) or how likely (score)."""

    file: str
    start_s: float
    end_s: float
    distance: float | None = None
    score: float | None = None
    label: str = ""
    level_db: float = 0.0

    def record(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def parse_like(spec: str) -> tuple[Path, float | None, float | None]:
    """``clip.wav`` or ``clip.wav@12.5-15.0`` -> ``(path, start_s, end_s)``."""
    m = _LIKE.match(str(spec))
    path = Path(m.group("path")) if m else Path(spec)
    if m and m.group("start") is not None:
        start, end = float(m.group("start")), float(m.group("end"))
        if end <= start:
            raise ParameterError(f"--like {spec}: the stretch ends ({end:g} s) before it starts ({start:g} s); write FILE@START-END "
                                 "with END > START, in seconds.")
        return path, start, end
    return path, None, None


def query_vectors(store: Store, spec: str) -> np.ndarray:
    """The normalised window embeddings of a file or a stretch of it, by the store's front end, ``(n_windows, dims)``.

    A stretch longer than :data:`MAX_QUERY_WINDOWS` windows is refused: a
    query is an example of a sound, not a recording.
    """
    from earmark.audio.io import audio_info, read_span

    path, start, end = parse_like(spec)
    front = store.front_end
    if start is None:
        emb = front.embed_file(path)
    else:
        info = audio_info(path)
        if start >= info.frames / info.sample_rate:
            raise ParameterError(f"--like {spec}: starts after the end of {path} ({info.frames / info.sample_rate:.2f} s); "
                                 "pick a stretch inside the file.")
        emb = front.embed(read_span(info, start, end - start, sr=front.sample_rate), sr=front.sample_rate)
    if len(emb.vectors) > MAX_QUERY_WINDOWS:
        raise ParameterError(f"--like {spec}: {emb.duration_s:.0f} s make {len(emb.vectors)} windows, more than the "
                             f"{MAX_QUERY_WINDOWS} a query may have; pick the stretch with the sound, FILE@START-END.")
    return _unit(emb.vectors.reshape(len(emb.vectors), -1).astype(np.float32))


def exact_search(store: Store, query: np.ndarray, k: int, *, gate_db: float | None = -60.0) -> list[Hit]:
    """The ``k`` live windows nearest ``query`` (cosine), checking every one, one shard at a time.

    ``query`` is one vector or several (the windows of an example): a
    window's distance is to the nearest of them, so every part of the example
    finds its like, and the example itself, if stored, comes first.
    """
    query = np.atleast_2d(query)
    best: list[tuple[float, int, int]] = []  # (distance, shard, row)
    for shard, rows, meta, vecs in store.blocks(("level_db",)):
        dist = 1.0 - (_unit(vecs) @ query.T).max(axis=1)
        if gate_db is not None:
            dist[meta["level_db"] < gate_db] = np.inf
        take = np.argpartition(dist, min(k, len(dist) - 1))[:k] if len(dist) > k else np.arange(len(dist))
        best.extend((float(dist[i]), shard, int(rows[i])) for i in take if np.isfinite(dist[i]))
        best = sorted(best)[:k]
    return _hits(store, [(s, r) for _, s, r in best], distances=[d for d, _, _ in best])


def approximate_search(store: Store, query: np.ndarray, k: int, *, gate_db: float | None = -60.0) -> list[Hit]:
    """The ``k`` nearest windows by the HNSW index (built or refreshed first if the store changed)."""
    index, _ = AnnIndex(store).ensure(gate_db)
    if index is None:
        return []
    query = np.atleast_2d(query).astype(np.float32)
    found = index.search(query, min(k, len(index)))
    nearest: dict[int, float] = {}  # a window's distance: to the nearest query window
    for keys, dists in zip(np.atleast_2d(found.keys), np.atleast_2d(found.distances)):
        for key, d in zip(keys.tolist(), dists.tolist()):
            nearest[key] = min(d, nearest.get(key, np.inf))
    best = sorted((d, key) for key, d in nearest.items())[:k]
    return _hits(store, [(key >> 32, key & 0xFFFFFFFF) for _, key in best], distances=[d for d, _ in best])


def scored_search(store: Store, model, label: str, k: int, *, gate_db: float | None = None) -> list[Hit]:
    """The ``k`` windows ``model`` gives the highest probability of ``label`` (its gate unless ``gate_db``)."""
    if label not in model.classes:
        raise ParameterError(f"--label {label}: the model knows {', '.join(model.classes)}; pick one of them.")
    store.check_front_end(model.front_end, option="--model (a model trained on the store's front end)")
    column = model.classes.index(label)
    gate = model.gate_db if gate_db is None else gate_db
    best: list[tuple[float, int, int]] = []
    for shard, rows, meta, vecs in store.blocks(("level_db",)):
        keep = np.ones(len(rows), bool) if gate is None else meta["level_db"] >= gate
        if not keep.any():
            continue
        scores = np.full(len(rows), -np.inf)
        scores[keep] = model.estimator.window_proba(vecs[keep].reshape(int(keep.sum()), *model.estimator.feature_shape_))[:, column]
        take = np.argsort(-scores)[:k]
        best.extend((-float(scores[i]), shard, int(rows[i])) for i in take if np.isfinite(scores[i]))
        best = sorted(best)[:k]
    return _hits(store, [(s, r) for _, s, r in best], scores=[-d for d, _, _ in best])


def _hits(store: Store, pairs, *, distances=None, scores=None) -> list[Hit]:
    rows = store.rows(pairs)
    return [Hit(file=r["file"], start_s=float(r["start_s"]), end_s=float(r["end_s"]), label=r["label"] or "",
                level_db=float(r["level_db"]), distance=None if distances is None else max(0.0, distances[i]),
                score=None if scores is None else scores[i]) for i, r in enumerate(rows)]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class AnnIndex:
    """The approximate index of a store: an HNSW graph (usearch, cosine, float16 vectors) in ``STORE/ann/``.

    Keys are ``shard << 32 | row``, so a hit names its window without a
    lookup table. ``ann.json`` records what it was built from (the shards'
    sizes, the live-file map's hash and the gate); when that no longer matches
    the store, :meth:`ensure` builds it again.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.folder = store.path / "ann"

    def _state(self, gate_db: float | None) -> dict:
        import hashlib

        files = self.store.files()
        digest = hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()
        shards = {s.name: s.stat().st_size for s in self.store.shards()}
        return {"fingerprint": self.store.meta["fingerprint"], "shards": shards, "files": digest, "gate_db": gate_db}

    def ensure(self, gate_db: float | None = -60.0, *, progress: bool = False):
        """``(usearch index or None if the store is empty, state)``, built first if missing or stale."""
        from usearch.index import Index

        state = self._state(gate_db)
        path, meta = self.folder / "index.usearch", self.folder / "ann.json"
        if path.is_file() and meta.is_file():
            try:
                if json.loads(meta.read_text()) == state:
                    return Index.restore(str(path), view=False), state
            except (OSError, ValueError):
                pass
        return self.build(gate_db, state=state), state

    def build(self, gate_db: float | None = -60.0, *, state: dict | None = None):
        from usearch.index import Index

        state = state or self._state(gate_db)
        index = Index(ndim=self.store.dims, metric="cos", dtype="f16", connectivity=16, expansion_add=128, expansion_search=64)
        total = 0
        for shard, rows, meta, vecs in self.store.blocks(("level_db",)):
            keep = np.ones(len(rows), bool) if gate_db is None else meta["level_db"] >= gate_db
            if keep.any():
                keys = (np.int64(shard) << 32) | rows[keep].astype(np.int64)
                index.add(keys.astype(np.uint64), _unit(vecs[keep]).astype(np.float32), threads=0)
                total += int(keep.sum())
        if total == 0:
            return None
        self.folder.mkdir(exist_ok=True)
        tmp = self.folder / ".index.usearch.tmp"
        index.save(str(tmp))
        tmp.replace(self.folder / "index.usearch")
        with atomic_write(self.folder / "ann.json", "w") as f:
            json.dump(state, f, sort_keys=True)
        log.info("built the approximate index of %s: %d windows", self.store.path, total)
        return index


def search(store: Store, *, like: str | None = None, k: int = 20, model=None, label: str | None = None,
           approximate: bool | None = None, gate_db: float | None = -60.0) -> list[Hit]:
    """Windows like ``like`` (a file or ``FILE@START-END``), or with ``model`` and ``label`` the top-scoring ones.

    ``approximate``: None chooses exact search below a million windows
    (exact numpy search takes about 0.04 s per query at 200,000 windows of 512
    dimensions here), the HNSW index above.
    """
    if k < 1:
        raise ParameterError(f"The '-k' option must be >= 1. Got {k} instead.")
    if (like is None) == (model is None):
        raise ParameterError("Pass --like FILE[@START-END] (windows like an example) or --model MODEL --label LABEL "
                             "(windows a model scores highest), one of the two.")
    if model is not None:
        if label is None:
            raise ParameterError("--model needs --label, the class whose best-scoring windows to list.")
        return scored_search(store, model, label, k)
    query = query_vectors(store, like)
    if approximate is None:
        approximate = _count(store) > 1_000_000
    return (approximate_search if approximate else exact_search)(store, query, k, gate_db=gate_db)


def _count(store: Store) -> int:
    from earmark.explore.store import shard_rows

    return sum(shard_rows(store.path, s) for s in store.shards())
