"""train / evaluate / curve / compare: the operations the CLI and users call."""

from __future__ import annotations

import logging
import platform
import time
from collections import Counter

import numpy as np

from earmark import __version__
from earmark.audio.io import audio_info
from earmark.data import Dataset, load_dataset
from earmark.embeddings import DEFAULT_EMBEDDER, Embedder, EmbeddingCache, get_embedder
from earmark.embeddings.runner import embed_files
from earmark.errors import DatasetError, ParameterError, check_choice
from earmark.evaluation.compare import compare as _compare
from earmark.evaluation.cv import cross_validate
from earmark.evaluation.fewshot import learning_curve
from earmark.model import Model
from earmark.models import AGGREGATIONS, CLASSIFIERS
from earmark.models.heads import EmbeddingClassifier

log = logging.getLogger(__name__)

DEFAULT_GATE_DB = -60.0


class _Prepared:
    """A dataset embedded by one or more embedders: the clips every embedder could use."""

    def __init__(self, data, embedders, *, file_column, label_column, fold_column, cache_dir, use_cache, gate_db, progress):
        t0 = time.perf_counter()
        self.ds = data if isinstance(data, Dataset) else load_dataset(data, file_column=file_column, label_column=label_column, fold_column=fold_column)
        self.embedders: dict[str, Embedder] = {}
        for e in embedders:
            emb = get_embedder(e) if isinstance(e, str) else e
            self.embedders[emb.name] = emb
        cache = EmbeddingCache(cache_dir, enabled=use_cache)
        done = {name: embed_files([c.path for c in self.ds.clips], emb, cache, progress=progress) for name, emb in self.embedders.items()}
        skipped = dict(self.ds.missing)
        for d in done.values():
            for path, reason in d.skipped:
                skipped.setdefault(path, reason)
        self.skipped = [{"file": str(p), "reason": r} for p, r in skipped.items()]
        self.clips = [c for c in self.ds.clips if all(c.path in d.embeddings for d in done.values())]
        if not self.clips:
            raise DatasetError(f"{self.ds.root}: none of the {len(self.ds.clips)} files could be used; see the skipped list.")
        if fold_column is not None and any(c.fold is None for c in self.clips):
            raise DatasetError(f"{self.ds.root}: some rows have an empty {fold_column!r} value; fill in every fold or drop --folds.")
        self.labels = np.array([c.label for c in self.clips])
        self.folds = [c.fold for c in self.clips] if fold_column else None
        self.clip_sets = {name: [d.embeddings[c.path].gated(gate_db) for c in self.clips] for name, d in done.items()}
        first = next(iter(done.values()))
        self.durations = np.array([first.embeddings[c.path].duration_s for c in self.clips])
        self.embed_seconds = time.perf_counter() - t0

    def describe(self) -> dict:
        """Clips, classes, durations, sample rates and skipped files, for reports and JSON."""
        rates = Counter(audio_info(c.path, min_duration_s=0).sample_rate for c in self.clips)
        d = self.durations
        return {"root": str(self.ds.root), "n_files": len(self.clips), "n_skipped": len(self.skipped), "skipped": self.skipped,
                "classes": _counts(self.labels), "sample_rates": {str(k): v for k, v in sorted(rates.items())},
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
        return base | {f"embedder {n}": f"{e.version} ({e.licence})" for n, e in self.embedders.items()}


def _check(classifiers, aggregation: str) -> None:
    """Fail on a bad name before any audio work."""
    for c in classifiers:
        check_choice("classifier", c, CLASSIFIERS)
    check_choice("aggregation", aggregation, AGGREGATIONS)


def train(data, *, embedder: str = DEFAULT_EMBEDDER, classifier: str = "logreg", aggregation: str = "mean",
          gate_db: float | None = DEFAULT_GATE_DB, classifier_params: dict | None = None, file_column: str = "filename",
          label_column: str = "label", cache_dir=None, use_cache: bool = True, cv: int | None = None,
          random_state: int = 0, progress: bool = False) -> Model:
    """Train a classifier on a dataset folder.

    Parameters
    ----------
    data : str, Path or Dataset
        Folder with ``metadata.csv`` or class sub-folders.
    embedder, classifier, aggregation : str
        See ``earmark embedders``, :data:`earmark.models.CLASSIFIERS`, :data:`earmark.models.AGGREGATIONS`.
    gate_db : float or None
        Ignore windows quieter than this level in dBFS (the loudest one is always kept).
    cv : int or None
        Also run stratified ``cv``-fold cross-validation on the same
        embeddings and record the figures in ``model.info["evaluation"]``.

    Returns
    -------
    Model
        ``model.info["skipped"]`` lists the files that could not be used.

    Examples
    --------
    >>> model = earmark.train("data/demo/train", classifier="logreg")  # doctest: +SKIP
    >>> model.save("demo.earmark")  # doctest: +SKIP
    """
    _check([classifier], aggregation)
    p = _Prepared(data, [embedder], file_column=file_column, label_column=label_column, fold_column=None,
                  cache_dir=cache_dir, use_cache=use_cache, gate_db=gate_db, progress=progress)
    (emb,), (clips,) = p.embedders.values(), p.clip_sets.values()
    t0 = time.perf_counter()
    clf = EmbeddingClassifier(classifier, aggregation=aggregation, classifier_params=classifier_params, random_state=random_state)
    clf.fit(clips, p.labels)
    info = {
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "earmark_version": __version__,
        "data": {"root": str(p.ds.root), "n_files": len(p.clips), "classes": _counts(p.labels),
                 "audio_seconds": float(p.durations.sum()), "n_skipped": len(p.skipped)},
        "skipped": p.skipped,
        "seconds": {"embed": p.embed_seconds, "fit": time.perf_counter() - t0},
    }
    if cv:
        scores = cross_validate(clips, p.labels, cv=cv, classifier=classifier, aggregation=aggregation,
                                classifier_params=classifier_params, random_state=random_state)
        info["evaluation"] = {"protocol": p.protocol(None, None, cv, random_state), **{k: v for k, v in scores.items() if k.endswith(("_mean", "_std"))}}
    log.info("trained %s on %d clips of %d classes", classifier, len(p.clips), len(clf.classes_))
    return Model(emb, clf, gate_db, info)


def train_from_labels(root, *, labels: str, embedder: str = DEFAULT_EMBEDDER, classifier: str = "logreg",
                      aggregation: str = "mean", background: bool = True, classifier_params: dict | None = None,
                      cache_dir=None, use_cache: bool = True, random_state: int = 0, progress: bool = False) -> Model:
    """Train on labelled events in long recordings (Audacity or Raven label files beside them).

    See :mod:`earmark.data.annotations`. With ``background``, unlabelled
    stretches become a ``background`` class, so the model can say "none of these".
    """
    from earmark.data.annotations import annotated_recordings, balance_background, clips_from_events, read_events

    _check([classifier], aggregation)
    t0 = time.perf_counter()
    pairs = annotated_recordings(root, labels)
    emb = get_embedder(embedder) if isinstance(embedder, str) else embedder
    done = embed_files([r for r, _ in pairs], emb, EmbeddingCache(cache_dir, enabled=use_cache), progress=progress)
    clips, names = [], []
    for rec, lab in pairs:
        if rec in done.embeddings:
            c, n = clips_from_events(done.embeddings[rec], read_events(lab, labels), background=background)
            clips += c
            names += n
    clips, names = balance_background(clips, names, np.random.default_rng(random_state))
    embed_s = time.perf_counter() - t0
    clf = EmbeddingClassifier(classifier, aggregation=aggregation, classifier_params=classifier_params, random_state=random_state)
    clf.fit(clips, names)
    info = {
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "earmark_version": __version__,
        "data": {"root": str(root), "labels": labels, "n_recordings": len(done.embeddings), "n_events": len(names),
                 "classes": _counts(names), "audio_seconds": done.audio_seconds, "n_skipped": len(done.skipped)},
        "skipped": [{"file": str(p), "reason": r} for p, r in done.skipped],
        "seconds": {"embed": embed_s, "fit": time.perf_counter() - t0 - embed_s},
    }
    return Model(emb, clf, None, info)


def evaluate(data, *, embedder: str = DEFAULT_EMBEDDER, classifier: str = "logreg", aggregation: str = "mean",
             gate_db: float | None = DEFAULT_GATE_DB, classifier_params: dict | None = None, folds: str | None = None,
             test_folds: list[str] | None = None, cv: int = 5, file_column: str = "filename", label_column: str = "label",
             cache_dir=None, use_cache: bool = True, random_state: int = 0, progress: bool = False) -> dict:
    """Cross-validate embedder + classifier on a dataset.

    ``folds`` names the metadata column with official folds; without it,
    stratified ``cv``-fold cross-validation is used. ``test_folds`` limits
    the test sets to those fold values (an official train/test split:
    ``folds="split", test_folds=["test"]``).

    Returns
    -------
    dict
        Keys: ``accuracy_mean``, ``accuracy_std``, ``balanced_accuracy_mean``,
        ``macro_f1_mean``, ``n_files``, ``n_skipped``, ``skipped``,
        ``embedder``, ``classifier``, ``audio_seconds``, ``seconds``
        (``embed``, ``fit``, ``total``), ``folds``, ``per_class``,
        ``confusion_matrix``, ``classes``, ``protocol``, ``data``, ``versions``.
    """
    t_start = time.perf_counter()
    _check([classifier], aggregation)
    p = _Prepared(data, [embedder], file_column=file_column, label_column=label_column, fold_column=folds,
                  cache_dir=cache_dir, use_cache=use_cache, gate_db=gate_db, progress=progress)
    (emb,), (clips,) = p.embedders.values(), p.clip_sets.values()
    result = _with_root(p, lambda: cross_validate(clips, p.labels, folds=p.folds, test_folds=test_folds, cv=cv, classifier=classifier,
                                                  aggregation=aggregation, classifier_params=classifier_params,
                                                  random_state=random_state, progress=progress))
    fit_s = result.pop("fit_seconds")
    return {
        **result,
        "n_files": len(p.clips), "n_skipped": len(p.skipped), "skipped": p.skipped,
        "embedder": emb.identity() | {"licence": emb.licence},
        "classifier": {"name": classifier, "aggregation": aggregation, "params": classifier_params or {}, "gate_db": gate_db},
        "protocol": p.protocol(folds, test_folds, cv, random_state),
        "data": p.describe(), "versions": p.versions(),
        "audio_seconds": float(p.durations.sum()),
        "seconds": {"embed": p.embed_seconds, "fit": fit_s, "total": time.perf_counter() - t_start},
        "earmark_version": __version__,
    }


def curve(data, *, embedders=("mfcc", DEFAULT_EMBEDDER), classifiers=("knn", "logreg"), shots=(1, 2, 4, 8, 16, 32),
          repeats: int = 10, folds: str | None = None, test_folds: list[str] | None = None, cv: int = 5,
          aggregation: str = "mean", gate_db: float | None = DEFAULT_GATE_DB, file_column: str = "filename",
          label_column: str = "label", cache_dir=None, use_cache: bool = True, seed: int = 0, progress: bool = False) -> dict:
    """Few-shot learning curves: accuracy against training clips per class for each embedder x classifier.

    Each (file, embedder) pair is embedded once (through the cache) and
    reused for every n, repeat and classifier. See
    :func:`earmark.evaluation.fewshot.learning_curve` for the protocol.

    Returns
    -------
    dict
        ``summary`` (mean accuracy and 95% CI per embedder, classifier, n),
        ``runs`` (every single run), ``chance``, ``data``, ``protocol``,
        ``settings``, ``versions``, ``seconds``.
    """
    t0 = time.perf_counter()
    _check(classifiers, aggregation)
    p = _Prepared(data, list(embedders), file_column=file_column, label_column=label_column, fold_column=folds,
                  cache_dir=cache_dir, use_cache=use_cache, gate_db=gate_db, progress=progress)
    t1 = time.perf_counter()
    result = _with_root(p, lambda: learning_curve(p.clip_sets, p.labels, classifiers=list(classifiers), shots=shots, repeats=repeats,
                                                  folds=p.folds, test_folds=test_folds, cv=cv, aggregation=aggregation, seed=seed, progress=progress))
    protocol = (p.protocol(folds, test_folds, cv, seed) + f"; n clips per class drawn from the training folds only, "
                f"{repeats} seeded repeats per fold (seed {seed}), nested draws, the same draw for every embedder and classifier")
    return result | {
        "data": p.describe(), "protocol": protocol, "versions": p.versions(),
        "settings": [f"embedders: {', '.join(p.embedders)}", f"classifiers: {', '.join(classifiers)}",
                     f"aggregation `{aggregation}`, gate {gate_db} dBFS"],
        "title": f"Learning curves on {p.ds.root.name} ({len(np.unique(p.labels))} classes, {repeats} repeats x {len(result['folds'])} fold{'s' if len(result['folds']) > 1 else ''})",
        "seconds": {"embed": t1 - t0, "fit_and_test": time.perf_counter() - t1, "total": time.perf_counter() - t0},
    }


def compare(data, *, embedders=("mfcc", DEFAULT_EMBEDDER), classifiers=("knn", "logreg"), folds: str | None = None,
            test_folds: list[str] | None = None, cv: int = 5, aggregation: str = "mean", gate_db: float | None = DEFAULT_GATE_DB,
            file_column: str = "filename", label_column: str = "label", cache_dir=None, use_cache: bool = True,
            seed: int = 0, progress: bool = False) -> dict:
    """Full-data cross-validation of every embedder x classifier on the same folds.

    Returns
    -------
    dict
        ``rows`` (accuracy, balanced accuracy, macro-F1 mean and std, fit and
        predict time, dims, per-class F1), ``best`` (row index), ``results``,
        ``data``, ``protocol``, ``settings``, ``versions``, ``seconds``.
    """
    t0 = time.perf_counter()
    _check(classifiers, aggregation)
    p = _Prepared(data, list(embedders), file_column=file_column, label_column=label_column, fold_column=folds,
                  cache_dir=cache_dir, use_cache=use_cache, gate_db=gate_db, progress=progress)
    t1 = time.perf_counter()
    result = _with_root(p, lambda: _compare(p.clip_sets, p.labels, dims={n: e.dims for n, e in p.embedders.items()},
                                            classifiers=list(classifiers), folds=p.folds, test_folds=test_folds, cv=cv,
                                            aggregation=aggregation, seed=seed, progress=progress))
    return result | {
        "data": p.describe(), "protocol": p.protocol(folds, test_folds, cv, seed), "versions": p.versions(),
        "settings": [f"embedders: {', '.join(p.embedders)}", f"classifiers: {', '.join(classifiers)}",
                     f"aggregation `{aggregation}`, gate {gate_db} dBFS"],
        "seconds": {"embed": t1 - t0, "fit_and_test": time.perf_counter() - t1, "total": time.perf_counter() - t0},
    }


def load_model(path) -> Model:
    """Load a model saved with :meth:`Model.save`."""
    return Model.load(path)


def _with_root(p: _Prepared, fn):
    """Run ``fn``; parameter errors about the folds get the dataset's name in front."""
    try:
        return fn()
    except ParameterError as exc:
        raise ParameterError(f"{p.ds.root}: {exc}") from None


def _counts(labels) -> dict[str, int]:
    values, counts = np.unique(np.asarray(list(labels)), return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts)}
