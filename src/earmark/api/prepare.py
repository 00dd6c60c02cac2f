"""A dataset read, checked and turned into window features by one or more front ends.

Everything that can be wrong with a dataset is found here, before any
training: files that cannot be read, the same audio listed twice (it would
leak across folds), the same audio listed with two labels, clips with no
window above the gate (digital silence). Each is skipped with a reason; the
rest goes on.
"""

from __future__ import annotations

import logging
import platform
import time
from collections import Counter
from pathlib import Path

import numpy as np

from earmark._version import __version__
from earmark.audio.io import audio_info
from earmark.data import Dataset, load_dataset
from earmark.embeddings import Embedder, EmbeddingCache, get_embedder
from earmark.embeddings.cache import file_sha256
from earmark.embeddings.runner import embed_files
from earmark.errors import DatasetError, EarmarkError, ParameterError
from earmark.progress import track
from earmark.pipeline import gated_features, is_silent

log = logging.getLogger(__name__)


def select_folds(ds: Dataset, *, train_folds=None, exclude_folds=None) -> Dataset:
    """Keep only the clips in ``train_folds`` and not in ``exclude_folds`` (fold values as strings)."""
    if not train_folds and not exclude_folds:
        return ds
    present = sorted({c.fold for c in ds.clips if c.fold is not None})
    for option, values in (("train_folds", train_folds), ("exclude_folds", exclude_folds)):
        unknown = [f for f in values or [] if f not in present]
        if unknown:
            raise ParameterError(f"The '{option}' parameter names folds {unknown} that are not in the fold column ({present}).")
    keep = [c for c in ds.clips if (not train_folds or c.fold in train_folds) and c.fold not in (exclude_folds or [])]
    if not keep:
        raise ParameterError(f"The fold selection leaves no clips (folds present: {present}); keep at least one fold.")
    return Dataset(ds.root, keep, ds.missing)


def decoded_key(embedding) -> str:
    """A hash of what a front end made of a clip (its window features, to 4 significant digits, and its length): the
    same for the same decoded audio whatever the file's encoding (a FLAC and its WAV re-encode)."""
    import hashlib

    v = np.asarray(embedding.vectors, np.float64)
    scale = float(np.abs(v).max()) or 1.0
    h = hashlib.sha256(np.round(v / scale, 4).astype(np.float32).tobytes())
    h.update(f"{v.shape}|{round(float(embedding.duration_s), 3)}".encode())
    return h.hexdigest()


def dedupe(clips, key=None, what: str = "same content") -> tuple[list, list[tuple[object, str]], int]:
    """Drop repeated audio: the same content listed twice keeps its first row; with two labels, every row goes.

    ``key`` gives a clip's content identity (default: the file's SHA-256;
    :func:`decoded_key` of its features finds re-encoded copies too).
    Returns the kept clips, ``(path, reason)`` for each dropped file that is
    not also kept, and the number of rows dropped in all.
    """
    key = key or (lambda c: file_sha256(c.path))
    groups: dict[str, list] = {}
    for c in clips:
        try:
            groups.setdefault(key(c), []).append(c)
        except OSError:  # unreadable: the embedding step reports it
            groups.setdefault(f"unreadable:{c.path}", []).append(c)
    kept, dropped, n_rows = [], [], 0
    for group in groups.values():
        labels = sorted({c.label for c in group})
        if len(labels) > 1:
            n_rows += len(group)
            dropped += [(c.path, f"the same audio is listed {len(group)} times with different labels ({', '.join(labels)}); "
                                 "keep one row per file") for c in group]
            continue
        kept.append(group[0])
        n_rows += len(group) - 1
        dropped += [(c.path, f"duplicate of {group[0].path} ({what}, label {c.label}); kept once so it cannot "
                             "be in a training and a test fold") for c in group[1:] if c.path != group[0].path]
    order = {id(c): i for i, c in enumerate(clips)}
    kept.sort(key=lambda c: order[id(c)])
    if n_rows:
        log.warning("%d repeated or conflicting rows dropped: the same audio is used once, so it cannot be in a "
                    "training and a test fold", n_rows)
    return kept, dropped, n_rows


class Prepared:
    """A dataset embedded by one or more front ends: the clips every front end could use."""

    def __init__(self, data, front_ends, *, file_column="filename", label_column="label", fold_column=None, cache_dir=None,
                 use_cache=True, gate_db=-60.0, progress=False, train_folds=None, exclude_folds=None, strict_paths=False,
                 estimators=()):
        t0 = time.perf_counter()
        ds = data if isinstance(data, Dataset) else load_dataset(data, file_column=file_column, label_column=label_column,
                                                                 fold_column=fold_column, strict_paths=strict_paths)
        self.ds = select_folds(ds, train_folds=train_folds, exclude_folds=exclude_folds)
        self.front_ends: dict[str, Embedder] = {}
        for e in front_ends:
            emb = get_embedder(e) if isinstance(e, str) else e
            self.front_ends[emb.name] = emb
        clips, dropped, self.n_duplicate_rows = dedupe(self.ds.clips)
        for est in estimators:  # labels the models cannot learn from are refused before any audio work
            est.check_labels([c.label for c in clips])
        cache = self._cache = EmbeddingCache(cache_dir, enabled=use_cache)
        self._gate_db, self._progress, self._copies = gate_db, progress, {}
        done = {name: embed_files([c.path for c in clips], emb, cache, progress=progress) for name, emb in self.front_ends.items()}
        skipped = dict(self.ds.missing)
        skipped.update({p: r for p, r in dropped})
        for d in done.values():
            for path, reason in d.skipped:
                skipped.setdefault(path, reason)
        usable = [c for c in clips if all(c.path in d.embeddings for d in done.values())]
        first = next(iter(done.values()))
        # the same audio in another encoding (a WAV re-encode of a FLAC) has other bytes but the same features
        usable, recoded, n_recoded = dedupe(usable, key=lambda c: decoded_key(first.embeddings[c.path]),
                                            what="the same audio decoded, in another file encoding")
        self.n_duplicate_rows += n_recoded
        for path, reason in recoded:
            skipped[path] = reason
        window_s = next(iter(self.front_ends.values())).window_s
        self.clips = []
        for c in usable:
            if is_silent(first.embeddings[c.path], gate_db, window_s):
                gate = "the -100 dBFS floor" if gate_db is None else f"the {gate_db:g} dBFS gate"
                skipped.setdefault(c.path, f"silent: no window reaches {gate}; not used")
            else:
                self.clips.append(c)
        self.skipped = [{"file": str(p), "reason": r} for p, r in skipped.items()]
        if not self.clips:
            raise DatasetError(f"{self.ds.root}: none of the {len(self.ds.clips)} files could be used; see the skipped list.")
        if fold_column is not None and any(c.fold is None for c in self.clips):
            raise DatasetError(f"{self.ds.root}: some rows have an empty {fold_column!r} value; fill in every fold or drop --folds.")
        self.labels = np.array([c.label for c in self.clips])
        self.folds = [c.fold for c in self.clips] if fold_column else None
        self.clip_sets = {name: [_windows(d.embeddings[c.path], gate_db, self.front_ends[name].window_s) for c in self.clips]
                          for name, d in done.items()}
        self.durations = np.array([first.embeddings[c.path].duration_s for c in self.clips])
        self.embed_seconds = time.perf_counter() - t0

    def copies(self, front_end: str, augment, *, seed: int = 0) -> list[list[np.ndarray]]:
        """Gated windows of ``augment.copies`` augmented copies of every clip, by front end ``front_end`` (computed once).

        A clip whose copies cannot be made keeps none (logged); the rest go on.
        """
        key = (front_end, augment.fingerprint(), seed)
        if key not in self._copies:
            emb = self.front_ends[front_end]
            t0 = time.perf_counter()
            out = []
            for c in track(self.clips, description=f"augmenting ({emb.name})", total=len(self.clips), enabled=self._progress):
                try:
                    copies = self._cache.get_copies(emb, c.path, augment, seed=seed)
                except EarmarkError as exc:
                    log.warning("no augmented copies of %s: %s", c.path, exc)
                    copies = []
                out.append([_windows(e, self._gate_db, emb.window_s) for e in copies])
            self._copies[key] = out
            self.embed_seconds += time.perf_counter() - t0
            log.info("%d augmented copies of %d clips by %s in %.1f s", sum(map(len, out)), len(out), emb.name, time.perf_counter() - t0)
        return self._copies[key]

    def negatives(self, folder, front_end: str, option: str = "--negatives", what: str = "of none of the classes") -> list[np.ndarray]:
        """Clips of the recordings in ``folder`` (``what``: none of the classes, or not labelled) by ``front_end``: each
        file's gated windows in stretches of the training clips' median number of windows. Unreadable or silent files
        are skipped (listed in ``skipped``).

        Raises
        ------
        DatasetError
            If ``folder`` is not a folder or yields no usable clip.
        """
        from earmark.audio import find_audio_files

        folder = Path(folder)
        if not folder.is_dir():
            raise DatasetError(f"{option} {folder}: not a folder; give a folder of recordings {what}.")
        emb = self.front_ends[front_end]
        done = embed_files(find_audio_files([folder]), emb, self._cache, progress=self._progress)
        self.skipped += [{"file": str(p), "reason": r} for p, r in done.skipped]
        size = max(1, int(np.median([len(c) for c in self.clip_sets[front_end]])))
        out = []
        for path, e in done.embeddings.items():
            x = gated_features(e, self._gate_db, emb.window_s)
            if x is None:
                self.skipped.append({"file": str(path), "reason": f"silent: no window reaches the gate; not used ({option})"})
                continue
            out += [x[i : i + size] for i in range(0, len(x), size)]
        if not out:
            raise DatasetError(f"{option} {folder}: no usable recordings in it (see the skipped list); add audio files {what}.")
        log.info("%d clips (%s) from %d recordings in %s", len(out), option, len(done.embeddings), folder)
        return out

    def describe(self) -> dict:
        """Clips, classes, durations, sample rates and skipped files, for reports and JSON."""
        rates = Counter(audio_info(c.path, min_duration_s=0).sample_rate for c in self.clips)
        d = self.durations
        return {"root": str(self.ds.root), "n_files": len(self.clips), "n_skipped": len(self.skipped), "skipped": self.skipped,
                "duplicate_rows_dropped": self.n_duplicate_rows,
                "classes": counts(self.labels), "sample_rates": {str(k): v for k, v in sorted(rates.items())},
                "duration_s": {"min": float(d.min()), "median": float(np.median(d)), "max": float(d.max()), "total": float(d.sum())}}

    def protocol(self, folds: str | None, test_folds, cv: int, seed: int) -> str:
        if folds:
            return f"official folds from column {folds!r}" + (f", tested on {', '.join(test_folds)}" if test_folds else "")
        return f"stratified {cv}-fold cross-validation (seed {seed})"

    def versions(self) -> dict:
        import librosa
        import sklearn
        import torch

        base = {"earmark": __version__, "python": platform.python_version(), "numpy": np.__version__,
                "scikit-learn": sklearn.__version__, "torch": torch.__version__, "librosa": librosa.__version__}
        return base | {f"embedder {n}": f"{e.version} ({e.licence})" for n, e in self.front_ends.items()}

    def with_root(self, fn):
        """Run ``fn``; parameter errors about the folds get the dataset's name in front."""
        try:
            return fn()
        except ParameterError as exc:
            raise ParameterError(f"{self.ds.root}: {exc}") from None


def _windows(emb, gate_db, window_s) -> np.ndarray:
    """The gated windows of a clip the first front end found sound in (all of them if this front end hears none)."""
    x = gated_features(emb, gate_db, window_s)
    return emb.vectors if x is None else x


def counts(labels) -> dict[str, int]:
    values, n = np.unique(np.asarray(list(labels)), return_counts=True)
    return {str(v): int(c) for v, c in zip(values, n)}
