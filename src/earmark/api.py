"""train / evaluate / predict: the operations the CLI and users call."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from earmark import __version__
from earmark.data import Dataset, load_dataset
from earmark.embeddings import DEFAULT_EMBEDDER, EmbeddingCache, get_embedder
from earmark.embeddings.runner import EmbeddedFiles, embed_files
from earmark.errors import DatasetError, ParameterError
from earmark.evaluation.cv import cross_validate
from earmark.model import Model
from earmark.models.heads import EmbeddingClassifier

log = logging.getLogger(__name__)

DEFAULT_GATE_DB = -60.0


def _check_names(classifier: str, aggregation: str) -> None:
    """Fail on a bad name before any audio work."""
    from earmark.errors import check_choice
    from earmark.models import AGGREGATIONS, CLASSIFIERS

    check_choice("classifier", classifier, CLASSIFIERS)
    check_choice("aggregation", aggregation, AGGREGATIONS)


def _embed_dataset(data, *, embedder: str, file_column: str, label_column: str, fold_column: str | None,
                   cache_dir, use_cache: bool, progress: bool) -> tuple[Dataset, object, EmbeddedFiles, float]:
    ds = data if isinstance(data, Dataset) else load_dataset(data, file_column=file_column, label_column=label_column, fold_column=fold_column)
    emb = get_embedder(embedder) if isinstance(embedder, str) else embedder
    t0 = time.perf_counter()
    done = embed_files([c.path for c in ds.clips], emb, EmbeddingCache(cache_dir, enabled=use_cache), progress=progress)
    done.skipped[:0] = ds.missing
    if len(done.embeddings) == 0:
        raise DatasetError(f"{ds.root}: none of the {len(ds.clips)} files could be read; see the skipped list.")
    return ds, emb, done, time.perf_counter() - t0


def _skipped(done: EmbeddedFiles) -> list[dict]:
    return [{"file": str(p), "reason": r} for p, r in done.skipped]


def train(
    data,
    *,
    embedder: str = DEFAULT_EMBEDDER,
    classifier: str = "logreg",
    aggregation: str = "mean",
    gate_db: float | None = DEFAULT_GATE_DB,
    classifier_params: dict | None = None,
    file_column: str = "filename",
    label_column: str = "label",
    cache_dir=None,
    use_cache: bool = True,
    cv: int | None = None,
    random_state: int = 0,
    progress: bool = False,
) -> Model:
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
    _check_names(classifier, aggregation)
    ds, emb, done, embed_s = _embed_dataset(data, embedder=embedder, file_column=file_column, label_column=label_column,
                                            fold_column=None, cache_dir=cache_dir, use_cache=use_cache, progress=progress)
    clips = [c for c in ds.clips if c.path in done.embeddings]
    t0 = time.perf_counter()
    clf = EmbeddingClassifier(classifier, aggregation=aggregation, classifier_params=classifier_params, random_state=random_state)
    clf.fit([done.embeddings[c.path].gated(gate_db) for c in clips], [c.label for c in clips])
    info = {
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "earmark_version": __version__,
        "data": {"root": str(ds.root), "n_files": len(clips), "classes": _counts(c.label for c in clips),
                 "audio_seconds": done.audio_seconds, "n_skipped": len(done.skipped)},
        "skipped": _skipped(done),
        "seconds": {"embed": embed_s, "fit": time.perf_counter() - t0},
    }
    if cv:
        scores = cross_validate([done.embeddings[c.path].gated(gate_db) for c in clips], np.array([c.label for c in clips]), cv=cv,
                                classifier=classifier, aggregation=aggregation, classifier_params=classifier_params, random_state=random_state)
        info["evaluation"] = {"protocol": f"stratified {cv}-fold cross-validation (seed {random_state})",
                              **{k: v for k, v in scores.items() if k.endswith(("_mean", "_std"))}}
    log.info("trained %s on %d clips of %d classes", classifier, len(clips), len(clf.classes_))
    return Model(emb, clf, gate_db, info)


def evaluate(
    data,
    *,
    embedder: str = DEFAULT_EMBEDDER,
    classifier: str = "logreg",
    aggregation: str = "mean",
    gate_db: float | None = DEFAULT_GATE_DB,
    classifier_params: dict | None = None,
    folds: str | None = None,
    test_folds: list[str] | None = None,
    cv: int = 5,
    file_column: str = "filename",
    label_column: str = "label",
    cache_dir=None,
    use_cache: bool = True,
    random_state: int = 0,
    progress: bool = False,
) -> dict:
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
        ``confusion_matrix``, ``classes``, ``protocol``, ``earmark_version``.
    """
    t_start = time.perf_counter()
    _check_names(classifier, aggregation)
    ds, emb, done, embed_s = _embed_dataset(data, embedder=embedder, file_column=file_column, label_column=label_column,
                                            fold_column=folds, cache_dir=cache_dir, use_cache=use_cache, progress=progress)
    clips = [c for c in ds.clips if c.path in done.embeddings]
    if folds is not None and any(c.fold is None for c in clips):
        raise DatasetError(f"{ds.root}: some rows have an empty {folds!r} value; fill in every fold or drop --folds.")
    labels = np.array([c.label for c in clips])
    try:
        result = cross_validate(
            [done.embeddings[c.path].gated(gate_db) for c in clips], labels,
            folds=[c.fold for c in clips] if folds else None, test_folds=test_folds, cv=cv, classifier=classifier, aggregation=aggregation,
            classifier_params=classifier_params, random_state=random_state, progress=progress,
        )
    except ParameterError as exc:
        raise ParameterError(f"{ds.root}: {exc}") from None
    fit_s = result.pop("fit_seconds")
    return {
        **result,
        "n_files": len(clips),
        "n_skipped": len(done.skipped),
        "skipped": _skipped(done),
        "embedder": emb.identity() | {"licence": emb.licence},
        "classifier": {"name": classifier, "aggregation": aggregation, "params": classifier_params or {}, "gate_db": gate_db},
        "protocol": (f"official folds from column {folds!r}" + (f", tested on {', '.join(test_folds)}" if test_folds else "")) if folds else f"stratified {cv}-fold cross-validation (seed {random_state})",
        "data": {"root": str(ds.root), "classes": _counts(labels)},
        "audio_seconds": done.audio_seconds,
        "seconds": {"embed": embed_s, "fit": fit_s, "total": time.perf_counter() - t_start},
        "earmark_version": __version__,
    }


def load_model(path) -> Model:
    """Load a model saved with :meth:`Model.save`."""
    return Model.load(path)


def _counts(labels) -> dict[str, int]:
    values, counts = np.unique(np.asarray(list(labels)), return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts)}
