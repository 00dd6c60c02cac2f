"""The embedding store: window embeddings of a collection on disk, added to incrementally.

A store is a folder::

    STORE/
      store.json            format, the front end that wrote it (identity, hop), dimensions, created by
      shards/000001.parquet  one Parquet file per batch of recordings, written whole or not at all
      ann/                  the approximate nearest-neighbour index (:mod:`earmark.explore.search`), rebuilt on demand
      .lock                 held by the one process that writes

Each shard row is one analysis window: ``file`` (absolute path), ``sha256`` (of
the file's bytes), ``start_s``, ``end_s``, ``level_db``, ``label`` (empty when
unknown) and ``embedding`` (float32, the front end's dimensions). Shards are
immutable; a recording indexed again after it changed gets new rows in a newer
shard, and the newest shard that holds a file is the one that counts
(:meth:`Store.live`). So an interrupted ``index`` leaves whole shards only and the
next run goes on with the recordings they lack (no duplicates), and readers
never see half a batch. One writer at a time: a second one is refused while the
lock's process runs; a lock left by a process that is gone is taken over.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from earmark._version import __version__
from earmark.batch import FileJob
from earmark.embeddings import Embedder, spans
from earmark.embeddings.base import Embedding
from earmark.embeddings.cache import file_hashes, file_sha256
from earmark.errors import EarmarkError, check_number, record_skip
from earmark.fileio import atomic_write
from earmark.pipeline import front_end_description, rebuild_front_end
from earmark.progress import track

log = logging.getLogger(__name__)

FORMAT = "earmark-store"
FORMAT_VERSION = 1
COLUMNS = ("file", "sha256", "start_s", "end_s", "level_db", "label")
SHARD_WINDOWS = 50_000  # windows per shard: about 100 MB of 512-d float32 held before a write
SMALL_SHARDS = 16  # more shards of under a quarter of SHARD_WINDOWS than this, and index merges them
FLUSH_S = 60.0  # finished files wait at most this long before they are written (merged into full shards at the end)


class StoreError(EarmarkError):
    """A store is missing, from another front end, newer than this earmark, or busy."""


class DamagedShard(StoreError):
    """A shard of the store cannot be read (truncated, or a page fails its checksum); ``shard`` is its path."""

    def __init__(self, store: Path, shard: Path, reason: str) -> None:
        reason = reason.splitlines()[0] if reason else "unreadable"
        reason = reason if len(reason) <= 160 else reason[:157] + "..."
        super().__init__(f"{store}: its shard {shard.name} is damaged ({reason}); run 'earmark index RECORDINGS... --store "
                         f"{store}' again: index sets a damaged shard aside (in {DAMAGED}/) and embeds its files anew.")
        self.shard = shard


DAMAGED = "damaged"


def read_shard(store: Path, shard: Path, **kw):
    """``pq.read_table(shard, **kw)`` with every page checked against its checksum (shards written since format 1.1
    carry them); any failure is a :class:`DamagedShard` naming the shard and the repair."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(shard, page_checksum_verification=True, **kw)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DamagedShard(store, shard, str(exc)) from None


def shard_rows(store: Path, shard: Path) -> int:
    """Rows of ``shard`` from its footer (a truncated shard is a :class:`DamagedShard`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(shard).num_rows
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DamagedShard(store, shard, str(exc)) from None


@dataclass
class IndexReport:
    """What one ``index`` run did."""

    added: list[str] = field(default_factory=list)  # files embedded now
    copied: list[str] = field(default_factory=list)  # same content as a file already in the store: rows reused
    unchanged: int = 0
    changed: list[str] = field(default_factory=list)  # in the store before with other content: re-embedded
    skipped: list[dict] = field(default_factory=list)  # {"file", "reason"}
    set_aside: list[str] = field(default_factory=list)  # damaged shards moved to STORE/damaged/ (their files re-embedded)
    windows: int = 0
    audio_s: float = 0.0
    seconds: float = 0.0

    @property
    def realtime(self) -> float:
        return self.audio_s / self.seconds if self.seconds > 0 else float("nan")


class Store:
    """An embedding store on disk (see the module docstring). Open with :meth:`open` or :meth:`create`."""

    def __init__(self, path: Path, meta: dict) -> None:
        self.path = path
        self.meta = meta
        self._front: Embedder | None = None
        self.last_shard = 0  # the number of the newest shard this process wrote (one writer at a time, under the lock)

    # --- opening -------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> Store:
        """An existing store.

        Raises
        ------
        StoreError
            If ``path`` holds no store, or one this earmark cannot read.
        """
        path = Path(path)
        meta_path = path / "store.json"
        if not meta_path.is_file():
            raise StoreError(f"{path}: no embedding store here; make one with 'earmark index RECORDINGS --store {path}'.")
        try:
            meta = json.loads(meta_path.read_text())
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format') if isinstance(meta, dict) else None!r}")
            version = check_number("format_version", meta.get("format_version"), low=1, integer=True)
            check_number("dims", meta.get("dims"), low=1, high=1 << 20, integer=True)
            for name in ("window_s", "hop_s"):
                if name in meta:
                    check_number(name, meta[name], low=0, high=600, low_open=True, unit="seconds")
            if not isinstance(meta["front_end"]["name"], str):
                raise ValueError("front_end.name is not a name")
        except (ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
            raise StoreError(f"{path}: store.json is not an earmark store description ({exc}); index into a new folder.") from None
        if version > FORMAT_VERSION:
            raise StoreError(f"{path}: written by earmark {meta.get('earmark_version')} in store format {version}, newer than "
                             f"this earmark reads ({FORMAT_VERSION}); upgrade earmark.")
        return cls(path, meta)

    @classmethod
    def create(cls, path: str | Path, front: Embedder) -> Store:
        """A new, empty store for ``front``'s embeddings (an existing one is opened and must match ``front``)."""
        path = Path(path)
        if (path / "store.json").exists():
            store = cls.open(path)
            store.check_front_end(front, option="--embedder")
            return store
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise StoreError(f"{path}: exists and is not an embedding store; pick a new folder for --store.")
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "earmark_version": __version__,
                "front_end": front_end_description(front), "fingerprint": front.fingerprint(),
                "dims": int(np.prod(front.feature_shape)), "window_s": float(front.window_s), "hop_s": float(front.hop_s),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        with atomic_write(path / "store.json", "w") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
        return cls(path, meta)

    # --- what it holds -------------------------------------------------------------
    @property
    def front_end(self) -> Embedder:
        """The front end that wrote the store, rebuilt from its description."""
        if self._front is None:
            desc = self.meta["front_end"]
            try:
                front = rebuild_front_end(desc)
            except EarmarkError as exc:
                raise StoreError(f"{self.path}: its front end {desc['name']} cannot be built here ({exc}).") from None
            if front.fingerprint() != self.meta["fingerprint"]:
                raise StoreError(f"{self.path}: written with front end {desc['name']} version {desc['version']}, which this "
                                 f"earmark builds differently (version {front.version}); index into a new store.")
            self._front = front
        return self._front

    @property
    def dims(self) -> int:
        return int(self.meta["dims"])

    def describe_front_end(self) -> str:
        d = self.meta["front_end"]
        return f"{d['name']} (hop {self.meta['hop_s']:g} s)"

    def check_front_end(self, front: Embedder, *, option: str) -> None:
        """Refuse ``front`` unless it makes the same features as the store's front end (any hop)."""
        if front.name != self.meta["front_end"]["name"] or _at_hop(front, self.meta["hop_s"]).fingerprint() != self.meta["fingerprint"]:
            raise StoreError(f"{self.path}: holds {self.describe_front_end()} embeddings, not {front.name} "
                             f"{front.params()}; use the store's front end for {option}, or index into another store.")

    def set_aside_damaged(self) -> list[str]:
        """Move every shard that cannot be read whole (each page checked) to ``STORE/damaged/``; return their names.

        Their files are then no longer in the store, so the index run that
        calls this embeds them anew (under the writer's lock).
        """
        moved = []
        for shard in self.shards():
            try:
                shard_rows(self.path, shard)
                read_shard(self.path, shard)
            except DamagedShard as exc:
                (self.path / DAMAGED).mkdir(exist_ok=True)
                os.replace(shard, self.path / DAMAGED / shard.name)
                log.warning("%s; set aside", str(exc).split("; run", 1)[0])
                moved.append(shard.name)
        return moved

    def shards(self) -> list[Path]:
        return sorted((self.path / "shards").glob("[0-9]*.parquet"))

    def files(self) -> dict[str, tuple[str, int]]:
        """``file -> (sha256, shard number)`` of the newest shard holding each file."""
        import pyarrow.parquet as pq

        out: dict[str, tuple[str, int]] = {}
        for shard in self.shards():
            t = read_shard(self.path, shard, columns=["file", "sha256"])
            pairs = {(f, s) for f, s in zip(t.column("file").to_pylist(), t.column("sha256").to_pylist())}
            for f, s in pairs:
                out[f] = (s, int(shard.stem))
        return out

    def live(self, shard: Path, files: dict[str, tuple[str, int]] | None = None) -> np.ndarray:
        """Row mask of ``shard``: the rows of files whose newest shard it is."""
        import pyarrow.parquet as pq

        files = self.files() if files is None else files
        names = read_shard(self.path, shard, columns=["file"]).column("file").to_pylist()
        n = int(shard.stem)
        return np.fromiter((files[f][1] == n for f in names), bool, count=len(names))

    def blocks(self, columns=COLUMNS, *, vectors: bool = True) -> Iterator[tuple[int, np.ndarray, dict, np.ndarray | None]]:
        """``(shard number, row numbers, metadata columns, float32 vectors)`` of the live rows, one shard at a time.

        Memory stays at one shard whatever the store's size.
        """
        import pyarrow.parquet as pq

        files = self.files()
        for shard in self.shards():
            keep = self.live(shard, files)
            if not keep.any():
                continue
            table = read_shard(self.path, shard, columns=[*columns, "embedding"] if vectors else list(columns))
            rows = np.flatnonzero(keep)
            meta = {c: np.asarray(table.column(c).to_numpy(zero_copy_only=False))[rows] for c in columns}
            vecs = None
            if vectors:
                flat = table.column("embedding").combine_chunks().flatten().to_numpy()
                vecs = flat.reshape(len(table), self.dims)[rows]
            yield int(shard.stem), rows, meta, vecs

    def table(self, columns=COLUMNS) -> dict[str, np.ndarray]:
        """Metadata columns of all live rows, plus ``shard`` and ``row`` (where each lives)."""
        parts = [(s, r, m) for s, r, m, _ in self.blocks(columns, vectors=False)]
        out = {c: np.concatenate([m[c] for _, _, m in parts]) if parts else np.zeros(0) for c in columns}
        out["shard"] = np.concatenate([np.full(len(r), s) for s, r, _ in parts]) if parts else np.zeros(0, int)
        out["row"] = np.concatenate([r for _, r, _ in parts]) if parts else np.zeros(0, int)
        return out

    def vectors(self) -> np.ndarray:
        """All live embeddings, ``(n_windows, dims)`` float32, in :meth:`table` order (held in memory: for clusters and maps)."""
        parts = [v for _, _, _, v in self.blocks(("file",))]
        return np.concatenate(parts) if parts else np.zeros((0, self.dims), np.float32)

    def rows(self, keys: list[tuple[int, int]]) -> list[dict]:
        """Metadata of the given ``(shard, row)`` pairs, in order."""
        import pyarrow.parquet as pq

        out: dict[tuple[int, int], dict] = {}
        for shard in sorted({s for s, _ in keys}):
            t = read_shard(self.path, self.path / "shards" / f"{shard:06d}.parquet", columns=list(COLUMNS))
            wanted = sorted({r for s, r in keys if s == shard})
            sub = t.take(wanted).to_pylist()
            out |= {(shard, r): d for r, d in zip(wanted, sub)}
        return [out[k] for k in keys]

    # --- writing -------------------------------------------------------------------
    def add(self, paths: list[Path], *, labels: dict[str, str] | None = None, front: Embedder | None = None,
            progress: bool = False, shard_windows: int = SHARD_WINDOWS, client=None, flush_s: float = FLUSH_S,
            stretch_s: float = spans.STRETCH_S) -> IndexReport:
        """Embed the recordings among ``paths`` that are new or changed and add them as new shards.

        ``labels`` maps a file (absolute path) to its label. ``front`` is the
        store's front end (a caller may pass one with another runtime backend,
        e.g. onnx-int8's own identity is refused). Bad files are reported in
        ``skipped`` and the rest go on. Finished files are written at least
        every ``flush_s`` seconds (an interruption loses at most that much
        work), and the shards written so are merged at the end.

        With a Dask ``client`` (:mod:`earmark.scale`) the files are embedded on
        its workers, each rebuilding the store's front end, and this process
        writes each file's rows as they come back (a small shard each, merged
        into shards of ``shard_windows`` at the end of the run), so an
        interruption loses only the files in flight; a rerun embeds the rest.
        The workers hash the files too; a recording of at least two
        ``stretch_s`` is embedded in stretches on several workers and joined
        (:mod:`earmark.embeddings.spans`: the same windows as one pass).
        """
        front = front or self.front_end
        self.check_front_end(front, option="--embedder")
        report = IndexReport()
        t0 = time.perf_counter()
        with StoreLock(self.path):
            self.last_shard = 0  # read again under the lock: another process may have written since
            report.set_aside = self.set_aside_damaged()
            known = self.files()
            by_sha: dict[str, str] = {}
            for f, (sha, _) in known.items():
                by_sha.setdefault(sha, f)
            writer = _ShardWriter(self, report, shard_windows, flush_s)
            remote: list[tuple[Path, str, str, str]] = []
            twins: list[tuple[str, str, str, str]] = []  # (source sent to the cluster, path, name, label): copied after it
            remote_names: set[str] = set()
            failed: set[str] = set()
            hashes = file_hashes(paths, client) if client is not None else None
            for path in track(paths, description=f"indexing ({front.name})", total=len(paths), enabled=progress and client is None):
                name = str(Path(path).resolve())
                try:
                    sha = file_sha256(path) if hashes is None else hashes[str(path)]
                    if isinstance(sha, OSError):
                        raise sha
                except OSError as exc:
                    report.skipped.append({"file": str(path), "reason": f"cannot be read ({exc.strerror or exc})"})
                    continue
                label = (labels or {}).get(name, "")
                if name in known and known[name][0] == sha:
                    report.unchanged += 1
                    continue
                if sha in by_sha and by_sha[sha] in remote_names:
                    twins.append((by_sha[sha], str(path), name, label))
                    continue
                try:
                    if sha in by_sha:  # the same bytes under another name: copy its rows
                        rows = writer.copy_of(by_sha[sha], name, label)
                        report.copied.append(str(path))
                    elif client is not None:
                        remote.append((Path(path), name, sha, label))
                        remote_names.add(name)
                        by_sha[sha] = name
                        continue
                    else:
                        rows = embed_rows(front, Path(path), name, sha, label)
                        (report.changed if name in known else report.added).append(str(path))
                        report.audio_s += rows.pop("duration_s")
                except (EarmarkError, OSError) as exc:
                    record_skip(report.skipped, path, exc)
                    continue
                by_sha.setdefault(sha, name)
                writer.add(rows)
            if remote:
                writer.flush()
                writer.flush_s = 0.0  # from here on every finished file is written at once
                failed = self._add_remote(client, front, remote, known, writer, report, progress, stretch_s)
            for source, path, name, label in twins:
                if source in failed:
                    report.skipped.append({"file": path, "reason": f"the same bytes as {source}, which failed"})
                    continue
                writer.add(writer.copy_of(source, name, label))
                report.copied.append(path)
            writer.flush()
            # this run's partial shards; and once they pile up, the small ones earlier runs left (a Dask resume leaves
            # thousands, and every search then opens each)
            small = {int(sh.stem) for sh in self.shards() if shard_rows(self.path, sh) < shard_windows // 4}
            self._compact(sorted(small | set(writer.written)) if len(small) > SMALL_SHARDS else writer.written, shard_windows)
        report.seconds = time.perf_counter() - t0
        return report

    def _add_remote(self, client, front: Embedder, remote: list, known: dict, writer: _ShardWriter, report: IndexReport,
                    progress: bool, stretch_s: float) -> set[str]:
        """Embed ``remote`` on the cluster (:class:`earmark.batch.Cluster`), writing the rows as they come; the names of
        the files that failed."""
        from earmark.batch import Cluster

        job = _EmbedJob(front_end_description(front), front.name, front)
        about = {str(path): (name, sha, label) for path, name, sha, label in remote}
        failed: set[str] = set()
        for path, rows in Cluster(client, stretch_s).map(job, [path for path, *_ in remote], progress=progress):
            name, sha, label = about[str(path)]
            if isinstance(rows, BaseException):
                record_skip(report.skipped, path, rows)
                failed.add(name)
                continue
            n = len(rows["file"])
            rows.update(file=[name] * n, sha256=[sha] * n, label=[label] * n)  # named here, where the file was found
            (report.changed if name in known else report.added).append(str(path))
            report.audio_s += rows.pop("duration_s")
            writer.add(rows)
        return failed

    def _rows_of(self, source: str, name: str, label: str) -> dict:
        import pyarrow.parquet as pq

        shard = self.path / "shards" / f"{self.files()[source][1]:06d}.parquet"
        rows = self._rows_from(read_shard(self.path, shard, filters=[("file", "==", source)]))
        n = len(rows["file"])
        return {**rows, "file": [name] * n, "label": [label or x for x in rows["label"]]}

    def _rows_from(self, t) -> dict:
        """A shard's (or part of one's) Arrow table as the rows :meth:`_write_shard` takes."""
        return {"file": t.column("file").to_pylist(), "sha256": t.column("sha256").to_pylist(),
                "start_s": t.column("start_s").to_numpy(), "end_s": t.column("end_s").to_numpy(),
                "level_db": t.column("level_db").to_numpy(), "label": t.column("label").to_pylist(),
                "embedding": t.column("embedding").combine_chunks().flatten().to_numpy().reshape(len(t), self.dims)}

    def _compact(self, numbers: list[int], shard_windows: int) -> None:
        """Merge the small shards ``numbers`` into shards of up to ``shard_windows`` windows.

        Each merged shard is written (atomically, numbered after all others, so
        it holds its files' live rows) before its parts are deleted: an
        interruption at any point leaves every row live exactly once.
        """
        import pyarrow as pa

        files = self.files()

        def merge(group: list[int]) -> None:
            if len(group) < 2:
                return
            paths = [self.path / "shards" / f"{n:06d}.parquet" for n in group]
            # only the live rows: a file indexed again since has its rows in a newer shard, and must not come back
            tables = [read_shard(self.path, p).filter(pa.array(self.live(p, files))) for p in paths]
            batch = [self._rows_from(t) for t in tables if t.num_rows]
            if batch:
                self._write_shard(batch)
            for p in paths:
                p.unlink()

        group, size = [], 0
        for n in numbers:
            rows = shard_rows(self.path, self.path / "shards" / f"{n:06d}.parquet")
            if group and size + rows > shard_windows:
                merge(group)
                group, size = [], 0
            group.append(n)
            size += rows
        merge(group)

    def _write_shard(self, batch: list[dict]) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        def cat(key):
            return np.concatenate([np.asarray(b[key]) for b in batch])

        vecs = cat("embedding").astype(np.float32, copy=False)
        n = len(vecs)
        table = pa.table({
            "file": pa.array(cat("file").tolist(), pa.string()).dictionary_encode(),
            "sha256": pa.array(cat("sha256").tolist(), pa.string()).dictionary_encode(),
            "start_s": pa.array(cat("start_s"), pa.float64()), "end_s": pa.array(cat("end_s"), pa.float64()),
            "level_db": pa.array(cat("level_db"), pa.float32()),
            "label": pa.array(cat("label").tolist(), pa.string()).dictionary_encode(),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel(), pa.float32()), self.dims),
        }).replace_schema_metadata({"earmark-store-fingerprint": self.meta["fingerprint"]})
        if not self.last_shard:
            shards = self.shards()
            self.last_shard = int(shards[-1].stem) if shards else 0
        number = self.last_shard + 1
        with atomic_write(self.path / "shards" / f"{number:06d}.parquet") as f:
            pq.write_table(table, f, compression="zstd", write_page_checksum=True)
        self.last_shard = number
        log.info("wrote shard %06d: %d windows", number, n)
        return n


def embed_rows(front: Embedder, path: Path, name: str, sha: str, label: str, emb: Embedding | None = None) -> dict:
    """The store rows of one recording: its windows' times, levels and embeddings (and ``duration_s``); ``emb``:
    its embedding already made (joined from stretches, say)."""
    emb = front.embed_file(path) if emb is None else emb
    half = front.window_s / 2
    start = np.maximum(emb.times_s - half, 0.0)
    end = np.minimum(emb.times_s + half, max(emb.duration_s, front.window_s))
    n = len(start)
    return {"file": [name] * n, "sha256": [sha] * n, "start_s": start, "end_s": end, "level_db": emb.level_db,
            "label": [label] * n, "embedding": emb.vectors.reshape(n, -1).astype(np.float32), "duration_s": emb.duration_s}


def _worker_front(description: dict) -> Embedder:
    """The front end of ``description``, rebuilt once per worker process."""
    from earmark.scale import worker_cached

    return worker_cached("front/" + json.dumps(description, sort_keys=True, default=str), lambda: rebuild_front_end(description))


@dataclass
class _EmbedJob(FileJob):
    """A recording's store rows (unnamed: the client names them), by the store's front end, rebuilt once per worker from
    its description (:func:`_worker_front`), or the one given in this process."""

    front_end: dict
    name: str
    loaded: Embedder | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "loaded": None}

    @property
    def description(self) -> str:
        return f"indexing ({self.name})"

    def front(self) -> Embedder:
        return self.loaded if self.loaded is not None else _worker_front(self.front_end)

    def run(self, path: str, emb: Embedding | None = None) -> dict:
        return embed_rows(self.front(), Path(path), "", "", "", emb)

    def audio_s(self, rows: dict) -> float:
        return float(rows["duration_s"])


class _ShardWriter:
    """Rows waiting to be written: a shard every ``shard_windows`` windows or ``flush_s`` seconds (0: each file as it
    comes); the partial shards are listed in ``written`` to be merged at the end."""

    def __init__(self, store: Store, report: IndexReport, shard_windows: int, flush_s: float = FLUSH_S) -> None:
        self.store, self.report, self.shard_windows, self.flush_s = store, report, shard_windows, flush_s
        self.batch: list[dict] = []
        self.pending = 0
        self.since = time.monotonic()
        self.written: list[int] = []

    def add(self, rows: dict) -> None:
        self.batch.append(rows)
        self.pending += len(rows["start_s"])
        if self.pending >= self.shard_windows or time.monotonic() - self.since >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        if self.batch:
            self.report.windows += self.store._write_shard(self.batch)
            if self.pending < self.shard_windows:  # a partial shard: merged with its neighbours at the end
                self.written.append(self.store.last_shard)
        self.batch, self.pending, self.since = [], 0, time.monotonic()

    def copy_of(self, source: str, name: str, label: str) -> dict:
        """The rows of ``source`` (written, or still waiting here) under ``name``."""
        for rows in self.batch:
            if rows["file"] and rows["file"][0] == source:
                n = len(rows["file"])
                return {**rows, "file": [name] * n, "label": [label or x for x in rows["label"]]}
        return self.store._rows_of(source, name, label)


class StoreLock:
    """``STORE/.lock`` for the one writing process; a second writer gets a :class:`StoreError` naming the holder."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / ".lock"

    def __enter__(self) -> StoreLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and not _gone(holder):
                    raise StoreError(f"{self.path.parent}: being written by process {holder.get('pid')} on "
                                     f"{holder.get('host')} since {holder.get('since')}; wait for it to finish (or, if that "
                                     f"process is gone, delete {self.path}).") from None
                log.warning("%s: taking over a lock left by a process that is gone (%s)", self.path.parent, holder)
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, f)
            return self
        raise StoreError(f"{self.path.parent}: cannot take the lock {self.path}; delete it if no earmark is writing there.")

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None  # unreadable: half-written by a process that died at once


def _gone(holder: dict) -> bool:
    """True if the lock's process is known to be gone (same host, no such pid); another host's lock is respected."""
    if holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError, TypeError):
        return False
    return False



def _at_hop(front: Embedder, hop_s: float) -> Embedder:
    try:
        return front.with_hop(hop_s)
    except (EarmarkError, TypeError):  # a fusion keeps its parts' hops
        return front
