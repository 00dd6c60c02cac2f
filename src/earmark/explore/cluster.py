"""Clusters of a store's windows: k-means over all of them, or HDBSCAN over a sample, with a summary per cluster.

k-means (scikit-learn's ``MiniBatchKMeans``) learns from the store one shard at
a time and assigns every window, so memory stays at one shard. HDBSCAN needs
all pairwise structure in memory, so it runs on up to ``sample`` windows
(projected to ``PCA_DIMS`` dimensions first, where density is meaningful) and
every other window takes the cluster of its nearest sampled window (noise,
``-1``, included). Windows below the gate are left out (cluster ``-2``).
The assignment is kept in ``STORE/clusters.parquet`` for maps and labelling.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from earmark.errors import ParameterError, check_choice
from earmark.explore.store import Store
from earmark.fileio import atomic_write

log = logging.getLogger(__name__)

METHODS = ("hdbscan", "kmeans")
PCA_DIMS = 32
QUIET = -2  # below the gate: not clustered


@dataclass
class Clusters:
    """Every live window's cluster, in :meth:`Store.table` order, and a summary per cluster."""

    method: str
    assignment: np.ndarray  # (n_windows,) int: cluster, -1 noise (HDBSCAN), -2 below the gate
    summary: list[dict] = field(default_factory=list)  # {"cluster", "size", "labels": {label: n}, "examples": [row index]}
    params: dict = field(default_factory=dict)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def cluster_store(store: Store, *, method: str = "hdbscan", k: int | None = None, min_cluster_size: int = 10,
                  sample: int = 20_000, gate_db: float | None = -60.0, examples: int = 3, random_state: int = 0) -> Clusters:
    """Cluster the live windows of ``store`` (see the module docstring) and summarise each cluster."""
    check_choice("method", method, METHODS)
    if method == "kmeans" and (k is None or k < 2):
        raise ParameterError(f"k-means needs the number of clusters: pass -k N with N >= 2 (got {k}).")
    table = store.table(("file", "level_db", "label"))
    n = len(table["file"])
    if n == 0:
        raise ParameterError(f"{store.path}: the store holds no windows yet; index some recordings first.")
    loud = np.ones(n, bool) if gate_db is None else table["level_db"] >= gate_db
    if not loud.any():
        raise ParameterError(f"{store.path}: every window is quieter than --gate-db {gate_db:g}; lower it (or -inf to keep all).")
    if method == "kmeans":
        assignment, centres = _kmeans(store, k, loud, random_state)
        params = {"k": k}
    else:
        assignment, centres = _hdbscan(store, loud, min_cluster_size, sample, random_state)
        params = {"min_cluster_size": min_cluster_size, "sample": sample}
    assignment[~loud] = QUIET
    summary = _summary(store, assignment, centres, table["label"], examples)
    return Clusters(method, assignment, summary, {**params, "gate_db": gate_db, "random_state": random_state})


def _kmeans(store: Store, k: int, loud: np.ndarray, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.cluster import MiniBatchKMeans

    km = MiniBatchKMeans(n_clusters=k, random_state=random_state, n_init=3, batch_size=4096)
    offset, seen = 0, 0
    blocks = []
    for _, rows, _, vecs in store.blocks(("file",)):
        part = _unit(vecs)[loud[offset : offset + len(rows)]]
        offset += len(rows)
        if len(part):
            blocks.append(len(part))
            if seen == 0 and len(part) < k:
                continue  # the first partial_fit needs k windows; taken with the next block
            km.partial_fit(part)
            seen += len(part)
    if seen < k:  # a small store: one ordinary fit
        from sklearn.cluster import KMeans

        vectors = _unit(store.vectors())[loud]
        if len(vectors) < k:
            raise ParameterError(f"{store.path}: {len(vectors)} windows above the gate, fewer than -k {k}; lower -k.")
        km = KMeans(k, n_init=10, random_state=random_state).fit(vectors)
    assignment = np.full(len(loud), QUIET)
    offset = 0
    for _, rows, _, vecs in store.blocks(("file",)):
        keep = loud[offset : offset + len(rows)]
        if keep.any():
            assignment[offset : offset + len(rows)][keep] = km.predict(_unit(vecs)[keep])
        offset += len(rows)
    return assignment, _unit(km.cluster_centers_)


def _hdbscan(store: Store, loud: np.ndarray, min_cluster_size: int, sample: int, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.cluster import HDBSCAN
    from sklearn.decomposition import PCA

    vectors = _unit(store.vectors())  # HDBSCAN's sample and the nearest-sample step need them at hand
    candidates = np.flatnonzero(loud)
    rng = np.random.default_rng(random_state)
    picked = np.sort(rng.choice(candidates, min(sample, len(candidates)), replace=False))
    pca = PCA(n_components=min(PCA_DIMS, vectors.shape[1], len(picked)), random_state=random_state).fit(vectors[picked])
    reduced = pca.transform(vectors[picked])
    labels = HDBSCAN(min_cluster_size=max(2, min(min_cluster_size, len(picked) // 2)), copy=True).fit_predict(reduced)
    assignment = np.full(len(loud), QUIET)
    assignment[picked] = labels
    rest = np.setdiff1d(candidates, picked)
    for start in range(0, len(rest), 8192):  # every other window: the cluster of its nearest sampled window
        chunk = rest[start : start + 8192]
        nearest = np.argmax(vectors[chunk] @ vectors[picked].T, axis=1)
        assignment[chunk] = labels[nearest]
    centres = np.array([_unit(vectors[picked][labels == c].mean(axis=0)) for c in range(labels.max() + 1)]) \
        if labels.max() >= 0 else np.zeros((0, vectors.shape[1]))
    return assignment, centres


def _summary(store: Store, assignment: np.ndarray, centres: np.ndarray, labels: np.ndarray, examples: int) -> list[dict]:
    vectors = None
    out = []
    for c in range(len(centres)):
        members = np.flatnonzero(assignment == c)
        if not len(members):
            continue
        if vectors is None:
            vectors = _unit(store.vectors())
        nearest = members[np.argsort(-(vectors[members] @ centres[c]))[:examples]]
        known = Counter(str(x) for x in labels[members] if str(x))
        out.append({"cluster": c, "size": int(len(members)), "labels": dict(known.most_common()),
                    "examples": [int(i) for i in nearest]})
    noise = int((assignment == -1).sum())
    if noise:
        out.append({"cluster": -1, "size": noise, "labels": dict(Counter(str(x) for x in labels[assignment == -1] if str(x)).most_common()),
                    "examples": []})
    return out


def save_clusters(store: Store, clusters: Clusters) -> None:
    """Keep the assignment in ``STORE/clusters.parquet`` (keyed by shard and row, so it survives re-reading)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = store.table(("file",))
    table = pa.table({"shard": t["shard"].astype(np.int32), "row": t["row"].astype(np.int64),
                      "cluster": clusters.assignment.astype(np.int32)}).replace_schema_metadata(
        {"earmark-clusters": json.dumps({"method": clusters.method, **clusters.params})})
    with atomic_write(store.path / "clusters.parquet") as f:
        pq.write_table(table, f, write_page_checksum=True)


def load_clusters(store: Store) -> np.ndarray:
    """The kept assignment, in :meth:`Store.table` order; windows added since are ``-2``.

    Raises
    ------
    ParameterError
        If the store was never clustered.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = store.path / "clusters.parquet"
    if not path.is_file():
        raise ParameterError(f"{store.path}: not clustered yet; run 'earmark cluster {store.path}' first.")
    try:
        kept = pq.read_table(path, page_checksum_verification=True)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ParameterError(f"{path}: the kept clustering is damaged ({str(exc).splitlines()[0][:120]}); run "
                             f"'earmark cluster {store.path}' again to remake it.") from None
    where = {(int(s), int(r)): int(c) for s, r, c in zip(kept.column("shard").to_numpy(), kept.column("row").to_numpy(),
                                                         kept.column("cluster").to_numpy())}
    t = store.table(("file",))
    return np.array([where.get((int(s), int(r)), QUIET) for s, r in zip(t["shard"], t["row"])], dtype=int)
