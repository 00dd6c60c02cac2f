"""index / search: a collection's window embeddings in a store, and search by example or by a model's scores."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from earmark.audio import find_audio_files
from earmark.errors import ParameterError, check_number, check_positive, did_you_mean
from earmark.explore.search import Hit, parse_like
from earmark.explore.search import search as _search
from earmark.explore.store import IndexReport, Store
from earmark.api._params import documented

log = logging.getLogger(__name__)


@documented(
    store=("str or Path", "The store folder (made on first use; later runs add new or changed files)."),
    embedder=("str or None", "Front end, fixed when the store is made (default ``aisfx``)."),
    window_s=("float or None", "Window length in seconds, for front ends that take one (mfcc, wave); fixed when the "
                               "store is made."),
    hop_s=("float or None", "Seconds between windows, fixed when the store is made (default: the front end's own)."),
    labels=("str, Path or None", "A CSV with file and label columns whose labels are kept with the windows."),
    calibration=("str, Path, list of them, or None", "With ``backend='onnx-int8'`` on a new store: recordings whose "
                                                     "windows set the int8 ranges (default: ``recordings``)."),
    shard_windows=("int or None", "Windows per shard file (``None``: the store's default)."),
)
def index(recordings, store, *, embedder: str | None = None, window_s: float | None = None, hop_s: float | None = None, labels=None,
          file_column: str = "filename", label_column: str = "label", backend: str | None = None, calibration=None,
          progress: bool = False, shard_windows: int | None = None, workers: int | None = None,
          scheduler: str | None = None, stretch_s: float | None = None) -> IndexReport:
    """Add the window embeddings of every audio file under ``recordings`` to ``store`` (made if new).

    Only new or changed files (by content hash) are embedded; a file with the
    same content as one already stored reuses its rows. ``labels`` is a CSV
    (``file_column``, ``label_column``, paths relative to its folder, as
    ``earmark train`` reads) whose labels are stored with the windows.
    ``embedder``, ``window_s`` (for front ends that take it) and ``hop_s`` are fixed when the store is made; later runs
    may leave them out, and a different one is refused. ``backend`` runs the
    aisfx network on torch, onnx or onnx-int8; int8 makes other embeddings,
    so it is chosen when the store is made (calibrated on ``calibration``,
    default the recordings being indexed) and kept. ``workers`` embeds the files on a local Dask cluster of that many
    processes (127.0.0.1), ``scheduler`` on an existing cluster (:mod:`earmark.scale`); the store holds the same rows.
    There a recording of at least two ``stretch_s`` (default 600 s) is cut into stretches embedded on several workers.

    Examples
    --------
    >>> import tempfile
    >>> store = tempfile.mkdtemp() + "/store"
    >>> report = index("data/demo/train", store, embedder="mfcc")
    >>> len(report.added), report.windows
    (80, 720)
    >>> hits = search(store, like="data/demo/unseen/2-100786-A-1.flac", k=3)
    >>> len(hits), sorted(hits[0])
    (3, ['distance', 'end_s', 'file', 'label', 'level_db', 'start_s'])
    """
    from earmark.embeddings import get_embedder
    from earmark.embeddings.registry import DEFAULT_EMBEDDER

    paths = [Path(p) for p in ([recordings] if isinstance(recordings, (str, Path)) else recordings)]
    for p in paths:
        if not p.exists():
            raise ParameterError(f"{p}: no such file or folder; pass the recordings to index.")
    files = find_audio_files(paths)
    if not files:
        from earmark.audio.io import SUPPORTED_EXTENSIONS

        raise ParameterError(f"{' '.join(str(p) for p in paths)}: no audio files there ({', '.join(SUPPORTED_EXTENSIONS)}, searched "
                             "recursively, links to folders followed); pass the folders that hold the recordings.")
    store_path = Path(store)
    if (store_path / "store.json").is_file():
        st = Store.open(store_path)
        front = st.front_end
        if embedder is not None:
            st.check_front_end(get_embedder(embedder), option="--embedder")
        if window_s is not None and abs(window_s - st.meta["window_s"]) > 1e-9:
            raise ParameterError(f"--window-s {window_s:g}: {store_path} holds windows of {st.meta['window_s']:g} s; leave "
                                 "--window-s out, or index into a new store.")
        if hop_s is not None and abs(hop_s - st.meta["hop_s"]) > 1e-9:
            raise ParameterError(f"--hop-s {hop_s:g}: {store_path} was indexed every {st.meta['hop_s']:g} s; leave --hop-s out, "
                                 "or index into a new store.")
        if backend is not None:
            front = _with_backend(front, backend, calibration=None, store=st)
    else:
        front = _front(embedder or DEFAULT_EMBEDDER, window_s)
        if hop_s is not None:
            front = front.with_hop(hop_s)
        if backend is not None:  # int8 is a setting of the store: calibrated on --calibration-data, or the recordings
            front = _with_backend(front, backend, calibration=calibration or paths, store=None)
        st = Store.create(store_path, front)
    label_map = _labels(labels, file_column, label_column) if labels is not None else None
    kwargs = {} if shard_windows is None else {"shard_windows": shard_windows}
    if stretch_s is not None:
        kwargs["stretch_s"] = check_positive("stretch_s", stretch_s)
    if workers is None and scheduler is None:
        report = st.add(files, labels=label_map, front=front, progress=progress, **kwargs)
    else:
        from earmark.scale import dask_client

        with dask_client(workers, scheduler) as client:
            report = st.add(files, labels=label_map, front=front, progress=progress, client=client, **kwargs)
    log.info("indexed %s: %d added, %d unchanged, %d skipped", store_path, len(report.added), report.unchanged, len(report.skipped))
    return report


def _front(name: str, window_s: float | None):
    """The front end ``name``, with windows of ``window_s`` where it takes that (mfcc, wave); others say their window."""
    import inspect

    from earmark.embeddings import get_embedder

    front = get_embedder(name)
    if window_s is None:
        return front
    if "window_s" not in inspect.signature(type(front).__init__).parameters:
        raise ParameterError(f"--window-s {window_s:g}: {name}'s window is fixed at {front.window_s:.3g} s (its network's "
                             "input); leave --window-s out, or pick a front end that takes it (mfcc, wave).")
    return get_embedder(name, window_s=window_s)


def _with_backend(front, backend: str, *, calibration, store: Store | None):
    """The aisfx front end on ``backend``; on an existing store it must make the store's embeddings."""
    front.check_backend(backend, what="store")
    if store is not None:
        if (backend == "onnx-int8") != (getattr(front, "backend", None) == "onnx-int8"):
            kind = "int8" if getattr(front, "backend", None) == "onnx-int8" else "float32"
            raise ParameterError(f"--backend {backend}: {store.path} holds {kind} {front.name} embeddings, and int8 and float32 "
                                 f"ones do not mix; leave --backend out, or index into a new store.")
        return front if backend == "onnx-int8" else front.with_backend(backend, what="store")
    if backend != "onnx-int8":
        return front.with_backend(backend, what="store")
    from earmark.api.deploy import calibration_files

    return front.with_backend(backend, calibration_files(None, calibration), what="store")


def _labels(csv_path, file_column: str, label_column: str) -> dict[str, str]:
    from earmark.data.dataset import load_dataset

    csv_path = Path(csv_path)
    if not csv_path.is_file() and not (csv_path / "metadata.csv").is_file():
        raise ParameterError(f"--labels {csv_path}: no such CSV file; pass a CSV with {file_column!r} and {label_column!r} columns.")
    ds = load_dataset(csv_path, file_column=file_column, label_column=label_column)
    return {str(c.path.resolve()): c.label for c in ds.clips}


@documented(
    like=("str or None", "An audio file, or a stretch of one: ``FILE@START-END`` in seconds."),
    k=("int", "How many windows to return."),
    model=("Model, str, Path or None", "With ``label``: rank the windows by this model's score."),
    label=("str or None", "The model's class to rank windows by."),
    approximate=("bool or None", "Search the HNSW index (``True``) or check every window (``False``); ``None``: exact"
                                 " below a million windows."),
)
def search(store, *, like: str | None = None, k: int = 20, model=None, label: str | None = None,
           approximate: bool | None = None, gate_db: float | None = -60.0, html=None) -> list[dict]:
    """Windows of ``store`` like ``like`` (``FILE`` or ``FILE@START-END``), or those ``model`` scores highest for ``label``.

    Returns records (file, start_s, end_s, distance or score, label, level_db),
    best first; ``html`` also writes a page where each can be played.
    """
    from earmark.pipeline import Model

    st = Store.open(store)
    if like is not None:
        path, _, _ = parse_like(like)
        if not path.is_file():
            raise ParameterError(f"--like {like}: {path} is not a file; pass an audio file, optionally with @START-END in seconds.")
    m = Model.load(model) if isinstance(model, (str, Path)) else model
    hits: list[Hit] = _search(st, like=like, k=k, model=m, label=label, approximate=approximate, gate_db=gate_db)
    records = [h.record() for h in hits]
    if html is not None:
        from earmark.explore.pages import hits_page

        query = None
        if like is not None:
            path, start, end = parse_like(like)
            query = {"file": str(path), "start_s": start or 0.0, "end_s": end if end is not None else 30.0,  # a page plays 30 s at most
                     "span": f"{start:g}-{end:g} s" if start is not None else ""}
        title = f"windows like {like}" if like is not None else f"windows {Path(str(model)).name} scores highest for {label}"
        hits_page(Path(html), title, records, query=query)
    return records


@documented(
    method=("str", "``hdbscan`` (finds the number of clusters; runs on a sample of 20,000 windows) or ``kmeans`` "
                   "(needs ``k``; every window, one shard at a time)."),
    k=("int or None", "k-means: the number of clusters."),
    min_cluster_size=("int", "HDBSCAN: the fewest windows a cluster may have."),
    out=("str, Path or None", "Write every window's cluster (file, start_s, end_s, cluster, label) to this CSV."),
    examples=("int", "Typical windows shown per cluster (in the summary and the HTML page)."),
)
def cluster(store, *, method: str = "hdbscan", k: int | None = None, min_cluster_size: int = 10, gate_db: float | None = -60.0,
            out=None, html=None, examples: int = 3) -> dict:
    """Cluster the windows of ``store`` (see :mod:`earmark.explore.cluster`) and keep the result in the store.

    Returns ``{"method", "n_windows", "clusters": [summary rows with example windows], "noise"}``; ``out`` also writes
    every window's cluster as CSV (file, start_s, end_s, cluster, label), ``html`` a page with each cluster's examples.

    Examples
    --------
    >>> import tempfile
    >>> store = tempfile.mkdtemp() + "/store"
    >>> _ = index("data/demo/train", store, embedder="mfcc")
    >>> result = cluster(store, method="kmeans", k=10)
    >>> result["method"], len(result["clusters"]), sorted(result["clusters"][0])[:3]
    ('kmeans', 10, ['cluster', 'examples', 'labels'])
    """
    import csv

    from earmark.explore.cluster import cluster_store, save_clusters
    from earmark.fileio import atomic_write

    st = Store.open(store)
    result = cluster_store(st, method=method, k=k, min_cluster_size=min_cluster_size, gate_db=gate_db, examples=examples)
    save_clusters(st, result)
    table = st.table(("file", "start_s", "end_s", "label"))
    rows = []
    for s in result.summary:
        rows.append({**s, "examples": [{"file": str(table["file"][i]), "start_s": float(table["start_s"][i]),
                                        "end_s": float(table["end_s"][i]), "label": str(table["label"][i])} for i in s["examples"]]})
    if out is not None:
        with atomic_write(out, "w") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["file", "start_s", "end_s", "cluster", "label"])
            for i in np.flatnonzero(result.assignment != -2):
                w.writerow([table["file"][i], f"{table['start_s'][i]:.3f}", f"{table['end_s'][i]:.3f}", int(result.assignment[i]),
                            table["label"][i]])
    if html is not None:
        from earmark.explore.pages import hits_page

        examples_rows = [{**e, "score": float(r["size"]), "label": f"cluster {r['cluster']}: {e['label']}".rstrip(": ")}
                         for r in rows for e in r["examples"]]
        hits_page(Path(html), f"clusters of {store} ({method}); score = cluster size", examples_rows)
    return {"method": method, "n_windows": int((result.assignment != -2).sum()), "clusters": [r for r in rows if r["cluster"] >= 0],
            "noise": next((r["size"] for r in rows if r["cluster"] == -1), 0), "params": result.params}


@documented(
    model=("Model, str or Path", "A model trained on the store's front end (e.g. by :func:`train_from_store`)."),
    strategy=("str", "``uncertain`` (the model's closest calls), ``top`` (its surest finds of ``label``) or "
                     "``random``."),
    n=("int", "How many windows to pick."),
    label=("str or None", "With ``strategy='top'``: the class whose best windows to pick."),
    out=("str, Path or None", "The CSV to fill in (or, with an audacity or raven ``fmt``, a folder of label files)."),
    fmt=("str", "``csv``, ``audacity`` or ``raven`` (or a plug-in's label format)."),
    seed=("int", "With ``strategy='random'``: the draw."),
    exclude=("str, Path or None", "A filled-in pick of an earlier round: its windows are not picked again."),
)
def label(store, model, *, strategy: str = "uncertain", n: int = 20, label: str | None = None, out=None, fmt: str = "csv",
          seed: int = 0, gate_db: float | None = None, exclude=None) -> list[dict]:
    """Pick the next ``n`` windows to label with ``model`` (see :mod:`earmark.explore.label`) and write them to ``out``.

    Windows that already carry a label in the store are not picked again, nor
    those ``exclude`` names: a filled-in pick (CSV or folder of label files,
    as ``--labels`` of ``train --from-store``) or a list of its rows.

    Examples
    --------
    >>> import tempfile
    >>> from earmark import train
    >>> work = tempfile.mkdtemp()
    >>> _ = index("data/demo/train", work + "/store", embedder="mfcc")
    >>> model = train("data/demo/train", embedder="mfcc").save(work + "/m.earmark")
    >>> picks = label(work + "/store", model, n=5, out=work + "/pick.csv")
    >>> len(picks), open(work + "/pick.csv").readline().strip()
    (5, 'file,start_s,end_s,label,suggested,score')
    """
    from earmark.explore.label import STRATEGIES, find_windows, pick, read_filled, window_scores, write_pick
    from earmark.errors import check_choice
    from earmark.pipeline import Model

    check_choice("strategy", strategy, STRATEGIES)
    st = Store.open(store)
    m = Model.load(model) if isinstance(model, (str, Path)) else model
    column = None
    if label is not None:
        if label not in m.classes:
            raise ParameterError(f"--label {label}: the model knows {', '.join(m.classes)}; pick one of them.{did_you_mean(label, m.classes)}")
        column = m.classes.index(label)
    scores, loud = window_scores(st, m, gate_db=gate_db)
    table = st.table(("file", "start_s", "end_s", "label"))
    eligible = loud & (table["label"] == "")
    if exclude is not None:
        done, _, _ = find_windows(st, exclude if isinstance(exclude, list) else read_filled(exclude))
        eligible[done] = False
    chosen = pick(scores, eligible, n, strategy=strategy, column=column, seed=seed)
    rows = []
    for i in chosen:
        best = int(scores[i].argmax())
        rows.append({"file": str(table["file"][i]), "start_s": float(table["start_s"][i]), "end_s": float(table["end_s"][i]),
                     "suggested": m.classes[best], "score": float(scores[i, best])})
    if out is not None:
        write_pick(Path(out), rows, fmt=fmt)
    return rows


@documented(
    labels=("str or Path", "The CSV :func:`label` wrote, with its label column filled in."),
    model=("str, ClipModel or None", "A registered model name or an unfitted estimator (``None``: ``classifier``)."),
)
def train_from_store(store, labels, *, model=None, classifier: str = "logreg", aggregation: str = "mean",
                     gate_db: float | None = None, random_state: int = 0, progress: bool = False):
    """Train a model on the store's windows that a filled-in pick CSV (``earmark label``) names; returns a Model.

    Each labelled window is one training example; its embedding comes from
    the store (nothing is decoded), and the model runs on the store's front end.
    Rows naming windows the store lacks land in ``info["skipped"]``.

    Examples
    --------
    >>> import csv, tempfile
    >>> work = tempfile.mkdtemp()
    >>> _ = index("data/demo/train", work + "/store", embedder="mfcc")
    >>> clips = [r for r in csv.DictReader(open("data/demo/train/metadata.csv")) if r["label"] in ("dog", "rain")]
    >>> with open(work + "/labels.csv", "w") as f:  # the first second of each clip, labelled
    ...     _ = f.write("file,start_s,end_s,label\\n" + "".join(f"data/demo/train/{r['filename']},0.0,1.0,{r['label']}\\n" for r in clips))
    >>> model = train_from_store(work + "/store", work + "/labels.csv")
    >>> model.classes, model.front_end.name
    (['dog', 'rain'], 'mfcc')
    """
    from earmark.api.training import DEFAULT_GATE_DB, build_model
    from earmark.errors import DatasetError
    from earmark.explore.label import labelled_windows, read_filled
    from earmark.pipeline import Model

    st = Store.open(store)
    filled = read_filled(labels)
    vectors, y, missing = labelled_windows(st, filled)
    if len(set(y)) < 2:
        raise DatasetError(f"--labels {labels}: {len(y)} labelled window(s) of {len(set(y))} class(es) found in the store; "
                           "label windows of at least two classes.")
    name, est = build_model(model or classifier, aggregation=aggregation, random_state=random_state)
    est.fit([v[None, :] for v in vectors], np.asarray(y))
    counts = {c: int(sum(1 for v in y if v == c)) for c in sorted(set(y))}
    info = {"data": {"store": str(Path(store).resolve()), "labels": str(Path(labels).resolve()), "n_windows": len(y),
                     "classes": counts},
            "skipped": [{"file": r["file"], "reason": f"no window at {r['start_s']:g} s in the store; index the recording first"}
                        for r in missing]}
    return Model(st.front_end, est, name, DEFAULT_GATE_DB if gate_db is None else gate_db, info)


@documented(
    out=("str or Path", "The HTML page to write (it opens from disk, with no server and no network)."),
    color=("str", "``label``, ``cluster`` (from :func:`cluster`) or ``score`` (needs ``model`` and ``label``)."),
    model=("Model, str, Path or None", "With ``color='score'``: the model whose score colours the points."),
    projection=("str", "How the windows are laid out in 2-D: ``umap`` or ``tsne``."),
    max_points=("int", "At most this many windows (a seeded sample beyond it)."),
    embed_audio=("bool", "Put each window's audio inside the page (at most 500 points) instead of linking to the "
                         "recordings."),
)
def map(store, out, *, color: str = "label", model=None, label: str | None = None, projection: str = "umap",  # noqa: A001
        max_points: int = 20_000, gate_db: float | None = -60.0, embed_audio: bool = False) -> dict:
    """Write a map page of ``store`` to ``out`` (see :mod:`earmark.explore.maps`); return what it shows.

    Examples
    --------
    >>> import tempfile
    >>> work = tempfile.mkdtemp()
    >>> _ = index("data/demo/train", work + "/store", embedder="mfcc", labels="data/demo/train/metadata.csv")
    >>> shown = map(work + "/store", work + "/map.html")
    >>> shown["projection"], shown["color"], shown["points"] > 500
    ('umap', 'label', True)
    """
    from earmark.explore.maps import map_page
    from earmark.fileio import check_writable_file
    from earmark.pipeline import Model

    check_number("max_points", max_points, low=4, high=10_000_000, integer=True)
    out = check_writable_file(out, "out")
    m = Model.load(model) if isinstance(model, (str, Path)) else model
    return map_page(Store.open(store), Path(out), color=color, model=m, label=label, projection=projection, max_points=max_points,
                    gate_db=gate_db, embed_audio=embed_audio)
