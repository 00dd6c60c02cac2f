"""train / evaluate / curve / compare: the operations the CLI and users call.

A model is named by its registry name (``model="logreg"``, see
``earmark models``) or given as an unfitted :class:`~earmark.models.ClipModel`;
``classifier=`` is the same thing under the name earlier versions used.
Models whose registry entry has no front end of their own run on
``embedder``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from earmark._version import __version__
from earmark.api.prepare import Prepared, counts, select_folds
from earmark.augment import waveform_part
from earmark.data.dataset import load_dataset
from earmark.embeddings import DEFAULT_EMBEDDER, EmbeddingCache, get_embedder
from earmark.embeddings.runner import embed_files
from earmark.errors import DatasetError, ParameterError, check_choice
from earmark.evaluation.compare import compare as _compare
from earmark.evaluation.cv import cross_validate
from earmark.evaluation.fewshot import learning_curve
from earmark.models import AGGREGATIONS, MODELS, ClipModel, get_model, model_name
from earmark.models.registry import parse_model, set_model_params
from earmark.models.heads import EmbeddingClassifier, check_head_params
from earmark.models.selftrain import SelfTraining
from earmark.pipeline import Model
from earmark.api._params import documented

log = logging.getLogger(__name__)

DEFAULT_GATE_DB = -60.0


@dataclass(frozen=True)
class Candidate:
    """One model to train or evaluate: its front end, its name, an unfitted estimator, and augmented copies of the clips if it asks for them."""

    front_end: str
    name: str
    estimator: ClipModel
    copies: list | None = None


def _checkpoints(est, cache_dir, use_cache: bool, progress: bool = False) -> None:
    """Networks checkpoint every epoch beside the embedding cache (unless the cache is off or a folder is set), so
    running an interrupted command again resumes it; with ``progress`` they print a line per epoch."""
    params = est.get_params(deep=False)
    if progress and "progress" in params:
        est.set_params(progress=True)
    if use_cache and "checkpoint_dir" in params and est.checkpoint_dir is None:
        from earmark.embeddings.cache import default_cache_dir

        est.set_params(checkpoint_dir=str((Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "checkpoints"))


def _copies_for(p: Prepared, front_end: str, est, seed: int):
    """Augmented copies of every clip by ``front_end`` if ``est`` asks for waveform augmentation, else None."""
    wave = waveform_part(getattr(est, "augment", None))
    return None if wave is None else p.copies(front_end, wave, seed=seed)


@documented(
    model=("str or ClipModel", "A registered model name (``earmark models``; options in brackets, "
                               "``sbcnn[max_epochs=20]``) or an unfitted estimator."),
    aggregation=("str or None", "How window scores pool into one per clip (``None``: the model's default)."),
    random_state=("int or None", "Seed of the model's randomness (``None``: the model's default)."),
)
def build_model(model, *, aggregation: str | None = None, classifier_params: dict | None = None,
                random_state: int | None = None, model_params: dict | None = None) -> tuple[str, ClipModel]:
    """``(registry name, unfitted estimator)`` for a name or an estimator, with the common options set.

    ``model_params`` sets the estimator's own parameters (``max_epochs`` of a network, say).

    Raises
    ------
    ParameterError
        For an unknown name, an option the model does not take, or an
        unknown key in ``classifier_params`` (before any audio work).
    """
    if isinstance(model, ClipModel):
        try:
            name = model_name(model)
        except ParameterError:  # an unregistered estimator evaluates fine; saving it needs a registry entry
            name = type(model).__name__
        est = model
    else:
        base, options = parse_model(model)
        name, est = model, set_model_params(get_model(base), base, options)
    params = est.get_params(deep=False)
    if aggregation is not None:
        check_choice("aggregation", aggregation, AGGREGATIONS)
        est.set_params(aggregation=aggregation)
    if classifier_params:
        if not isinstance(est, EmbeddingClassifier):
            raise ParameterError(f"The 'classifier_params' parameter applies to embedding heads only; model {name!r} takes {', '.join(sorted(params))}.")
        check_head_params(est.classifier, classifier_params)
        est.set_params(classifier_params=classifier_params)
    if random_state is not None and "random_state" in params:
        est.set_params(random_state=random_state)
    set_model_params(est, name, model_params or {})
    est.check_params()
    return name, est


def candidates(embedders, models, *, aggregation: str | None, random_state: int | None) -> list[Candidate]:
    """Every model on every embedder (embedder by embedder); a model with a front end of its own appears once, on it;
    an ensemble's members each appear before it, on their own front ends, so it is measured beside them."""
    built = [build_model(m, aggregation=aggregation, random_state=random_state) for m in models]
    heads = [Candidate(e, name, est) for e in embedders for name, est in built if not _front_end_of(name, None, est)]
    own = []
    for name, est in built:
        if _front_end_of(name, None, est):
            own += [Candidate(front, member, build_model(member, aggregation=aggregation, random_state=random_state)[1])
                    for member, _, front in _members(est)]
            own.append(Candidate(_front_end_of(name, None, est), name, est))
    return list({(c.front_end, c.name): c for c in heads + own}.values())  # each (front end, model) once, in order


def _members(est: ClipModel) -> list[tuple[str, str, str]]:
    """An ensemble's members as ``(model text, registry name, front end)``; none for any other model."""
    from earmark.models.ensemble import EnsembleClassifier, parse_members

    return parse_members(est.members) if isinstance(est, EnsembleClassifier) else []


def _front_end_of(name: str, embedder, est: ClipModel | None = None):
    """The front end model ``name`` (``est``, when built) runs on: its own, or ``embedder``."""
    base = parse_model(name)[0]
    if base not in MODELS:
        return embedder
    params = est.get_params(deep=False) if est is not None else parse_model(name)[1]
    return MODELS[base].front_end_for(params) or embedder


def _backend_front_end(front, backend: str | None, calibration, data):
    """``front`` (a name or an embedder), its network run by ``backend`` when one is given."""
    if backend is None:
        return front
    front = get_embedder(front) if isinstance(front, str) else front
    front.check_backend(backend, what="training")  # before any calibration files are sought
    from earmark.api.deploy import calibration_files

    files = calibration_files(None, calibration if calibration is not None else [data]) if backend == "onnx-int8" else None
    return front.with_backend(backend, files, what="training")


def _kind(name: str) -> str:
    base = parse_model(name)[0]
    return MODELS[base].kind if base in MODELS else "unregistered estimator"


@documented()
def train(data, *, model=None, embedder: str = DEFAULT_EMBEDDER, classifier: str = "logreg", aggregation: str = "mean",
          gate_db: float | None = DEFAULT_GATE_DB, classifier_params: dict | None = None, file_column: str = "filename",
          label_column: str = "label", folds: str | None = None, train_folds=None, exclude_folds=None,
          strict_paths: bool = False, cache_dir=None, use_cache: bool = True, cv: int | None = None,
          random_state: int = 0, model_params: dict | None = None, negatives=None, progress: bool = False,
          backend: str | None = None, calibration_data=None, stream=None, unlabelled=None,
          self_training: SelfTraining | None = None) -> Model:
    """Train a model on a dataset folder.

    Parameters
    ----------
    data : str, Path or Dataset
        Folder with ``metadata.csv`` or class sub-folders.
    model : str or ClipModel or None
        A registered model name (``earmark models``) or an unfitted estimator;
        ``None`` uses ``classifier``.
    model_params : dict or None
        The model's own parameters, e.g. ``{"max_epochs": 30}`` for a network.
    embedder : str
        Front end for models without one of their own (``earmark embedders``; ``a+b`` fuses two).
    classifier, aggregation : str
        Embedding head and window-to-clip aggregation (:data:`earmark.models.AGGREGATIONS`).
    gate_db : float or None
        Ignore windows quieter than this level in dBFS; a clip with no window
        at or above it is silent and skipped.
    folds, train_folds, exclude_folds
        Fold column, and the fold values to train on or to leave out.
    cv : int or None
        Also run stratified ``cv``-fold cross-validation on the same
        features and record the figures in ``model.info["evaluation"]``.
    negatives : str, Path or None
        A folder of recordings of none of the classes, for a model with
        ``reject`` set: its "unknown" threshold is chosen to separate them from
        held-out training clips (long recordings are cut to the training
        clips' median length).
    backend, calibration_data
        What runs the aisfx network (``auto``, ``torch``, ``onnx``,
        ``onnx-int8``). ``onnx-int8`` is calibrated on ``calibration_data``
        (default: the training clips) and stays the model's setting: its
        predictions run on the same int8 network, found again by its hash.
    stream : StreamTraining or None
        Stream-like training (:mod:`earmark.augment.stream`): positives placed
        at random offsets in long background recordings at drawn SNRs,
        background excerpts as a ``label`` class, and rounds of hard-negative
        mining; what was done is kept in ``model.info["stream"]``.
    unlabelled : str, Path or None
        A folder of recordings nobody labelled (of the same place or machine):
        the model labels those it is surest of and trains on them too, if that
        helps on held-out labelled clips (:mod:`earmark.models.selftrain`);
        long recordings are cut to the training clips' median length. What was
        done is kept in ``model.info["unlabelled"]``.

    Returns
    -------
    Model
        ``model.info["skipped"]`` lists the files that could not be used.

    Raises
    ------
    DatasetError
        If ``data`` is not a usable data set (no metadata.csv or class folders, fewer than two classes, ...).
    ParameterError
        If an option is invalid; the message names it and the fix.

    Examples
    --------
    >>> model = train("data/demo/train", embedder="mfcc")  # 80 clips, 10 classes; the default front end is aisfx
    >>> model.classes[:3], model.front_end.name
    (['chainsaw', 'clock_tick', 'crackling_fire'], 'mfcc')
    >>> model.predict("data/demo/unseen/2-100786-A-1.flac")[0].labels
    ['rooster']
    """
    name, est = build_model(model if model is not None else classifier, aggregation=aggregation,
                            classifier_params=classifier_params, random_state=random_state, model_params=model_params)
    _checkpoints(est, cache_dir, use_cache, progress)
    cv = check_protocol(folds, cv=cv, train_folds=train_folds, exclude_folds=exclude_folds, default_cv=None)
    if unlabelled is not None:
        _check_unlabelled(est, stream, unlabelled, self_training)
    front = _front_end_of(name, embedder, est)
    if stream is not None:  # everything stream training needs is checked before any embedding
        from earmark.api.stream import check_stream

        if cv is not None:
            raise ParameterError("The 'stream' parameter trains one model; 'cv' would cross-validate without it. Leave one of them out.")
        ds = load_dataset(data, file_column=file_column, label_column=label_column, fold_column=folds, strict_paths=strict_paths)
        check_stream(stream, [c.label for c in ds.clips], get_embedder(front).sample_rate if isinstance(front, str) else front.sample_rate)
    if backend == "onnx-int8" and calibration_data is None:  # the clips it trains on, and no others
        chosen = select_folds(load_dataset(data, file_column=file_column, label_column=label_column, fold_column=folds,
                                           strict_paths=strict_paths), train_folds=train_folds, exclude_folds=exclude_folds)
        calibration_data = [c.path for c in chosen.clips]
    p = Prepared(data, [_backend_front_end(front, backend, calibration_data, data)], file_column=file_column, label_column=label_column, fold_column=folds,
                 cache_dir=cache_dir, use_cache=use_cache, gate_db=gate_db, progress=progress, train_folds=train_folds,
                 exclude_folds=exclude_folds, strict_paths=strict_paths, estimators=[est])
    (front,), (clips,) = p.front_ends.values(), p.clip_sets.values()
    copies = _copies_for(p, front.name, est, random_state)
    negative_clips = None
    if negatives is not None:
        if getattr(est, "reject", "none") == "none":
            raise ParameterError(f"--negatives {negatives} sets the 'unknown' threshold of a model that rejects; add --reject proba or distance.")
        negative_clips = p.negatives(negatives, front.name)
    t0 = time.perf_counter()
    stream_info = None
    if stream is not None:
        from earmark.api.stream import stream_fit

        stream = stream.for_front_end(front)
        positives = p.copies(front.name, stream, seed=random_state)
        both = positives if copies is None else [w + s for w, s in zip(copies, positives, strict=True)]
        fitted, stream_info = stream_fit(est, front, clips, p.labels, both, stream, durations=p.durations, paths=[c.path for c in p.clips], gate_db=gate_db,
                                         model_name=parse_model(name)[0], progress=progress, seed=random_state,
                                         fit_kwargs={} if negative_clips is None else {"negatives": negative_clips})
    elif unlabelled is not None:
        from earmark.models.selftrain import self_train

        pool = p.negatives(unlabelled, front.name, option="--unlabelled", what="of the same sounds, not labelled")
        fitted, unlabelled_info = self_train(est, clips, p.labels, pool, self_training, random_state=random_state)
        unlabelled_info.pop("pseudo_labels", None)  # one entry per stretch: the counts per class are kept
        log.log(logging.INFO if unlabelled_info["used"] else logging.WARNING, "--unlabelled %s: %s", unlabelled, unlabelled_info["reason"])
        unlabelled_info["folder"] = str(unlabelled)
    else:
        fitted = est.fit(clips, p.labels, **({} if copies is None else {"augmented": copies}),
                         **({} if negative_clips is None else {"negatives": negative_clips}))
    info = {
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "earmark_version": __version__,
        "data": {"root": str(p.ds.root), "n_files": len(p.clips), "classes": counts(p.labels),
                 "audio_seconds": float(p.durations.sum()), "n_skipped": len(p.skipped),
                 **({"folds": sorted(set(p.folds))} if p.folds else {})},
        "skipped": p.skipped,
        "seconds": {"embed": p.embed_seconds, "fit": time.perf_counter() - t0},
    }
    if stream_info is not None:
        info["stream"] = stream_info
    if unlabelled is not None:
        info["unlabelled"] = unlabelled_info
    if getattr(fitted, "rejects", False):
        info["open_set"] = {"reject": fitted.reject, "threshold": float(fitted.reject_threshold_), "reject_rate": float(fitted.reject_rate),
                            "n_negatives": len(negative_clips or []), "negatives": None if negatives is None else str(negatives),
                            "calibration": fitted.calibration}
    if cv:
        scores = cross_validate(est, clips, p.labels, cv=cv, random_state=random_state, augmented=copies)
        info["evaluation"] = {"protocol": p.protocol(None, None, cv, random_state), **{k: v for k, v in scores.items() if k.endswith(("_mean", "_std"))}}
    log.info("trained %s on %d clips of %d classes", name, len(p.clips), len(fitted.classes_))
    return Model(front, fitted, parse_model(name)[0], gate_db, info)


def _check_unlabelled(est, stream, folder, self_training) -> None:
    """Refuse what self-training cannot be combined with, and a missing folder, before any audio work."""
    copies = waveform_part(getattr(est, "augment", None)) is not None
    if stream is not None or copies or getattr(est, "reject", "none") != "none":
        what = "stream training" if stream is not None else "waveform augmentation" if copies else "--reject"
        raise ParameterError(f"--unlabelled cannot be combined with {what} yet; leave one of them out.")
    if not Path(folder).is_dir():
        raise DatasetError(f"--unlabelled {folder}: not a folder; give a folder of recordings of the same sounds, not labelled.")
    (self_training or SelfTraining()).check()


@documented(
    root=("str or Path", "A folder of long recordings, each with its label file beside it."),
    labels=("str", "The label files' format: ``audacity``, ``raven``, ``csv`` or ``json``."),
    model=("str, ClipModel or None", "A registered model name or an unfitted estimator (``None``: ``classifier``)."),
    background=("bool", "Train on the unlabelled stretches too, as a ``background`` class (never reported as an "
                        "event)."),
)
def train_from_labels(root, *, labels: str, model=None, embedder: str = DEFAULT_EMBEDDER, classifier: str = "logreg",
                      aggregation: str = "mean", background: bool = True, classifier_params: dict | None = None,
                      cache_dir=None, use_cache: bool = True, random_state: int = 0, model_params: dict | None = None,
                      progress: bool = False) -> Model:
    """Train on labelled events in long recordings (label files beside them, see :mod:`earmark.data.annotations`).

    With ``background``, unlabelled stretches become a ``background`` class,
    so the model can say "none of these". ``model_params`` as for :func:`train`;
    waveform augmentation needs clip files and is refused here.
    """
    from earmark.audio.io import audio_info
    from earmark.data.annotations import annotated_recordings, balance_background, clips_from_events, frames_from_events, tidy_events
    from earmark.errors import AudioLoadError, skip_reason
    from earmark.data.labels import read_labels

    name, est = build_model(model if model is not None else classifier, aggregation=aggregation,
                            classifier_params=classifier_params, random_state=random_state, model_params=model_params)
    if waveform_part(getattr(est, "augment", None)) is not None:
        raise ParameterError("The 'augment' parameter's waveform transforms make copies of clip files; training from labelled "
                             "recordings takes specaugment and mixup only (or cut the events into clips first).")
    _checkpoints(est, cache_dir, use_cache, progress)
    t0 = time.perf_counter()
    events, notes, unreadable = {}, [], []
    for rec, lab in annotated_recordings(root, labels):  # the label files read and checked before any audio work
        try:
            duration_s = audio_info(rec, min_duration_s=0).duration_s
        except AudioLoadError as exc:
            unreadable.append((rec, skip_reason(rec, exc)))
            continue
        events[rec], changed = tidy_events(read_labels(lab, labels), duration_s, lab)
        notes += changed
    for line in notes:
        log.warning("%s", line)
    strong = bool(getattr(est, "learns_frames", False))
    if strong and not any(events.values()):
        raise DatasetError(f"{root}: the label files hold no events; label some sounds first.")
    emb = get_embedder(_front_end_of(name, embedder, est))
    done = embed_files(list(events), emb, EmbeddingCache(cache_dir, enabled=use_cache), progress=progress)
    clips, names, frames = [], [], []
    for rec, evs in events.items():
        if rec in done.embeddings and strong:  # every frame labelled with its events: the model learns the edges
            c, n, f = frames_from_events(done.embeddings[rec], evs)
            frames += f
        elif rec in done.embeddings:
            c, n = clips_from_events(done.embeddings[rec], evs, background=background)
        else:
            continue
        clips += c
        names += n
    if not strong:
        clips, names = balance_background(clips, names, np.random.default_rng(random_state))
    embed_s = time.perf_counter() - t0
    fitted = est.fit(clips, names, **({"frame_labels": frames} if strong else {}))
    info = {
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "earmark_version": __version__,
        "data": {"root": str(root), "labels": labels, "n_recordings": len(done.embeddings),
                 "n_events": sum(len(e) for r, e in events.items() if r in done.embeddings) if strong else len(names),
                 "strong": strong,
                 "classes": counts([e.label for r, evs in events.items() if r in done.embeddings for e in evs] if strong else names),
                 "audio_seconds": done.audio_seconds, "n_skipped": len(done.skipped)},
        "skipped": [{"file": str(p), "reason": r} for p, r in [*unreadable, *done.skipped]], "label_notes": notes,
        "seconds": {"embed": embed_s, "fit": time.perf_counter() - t0 - embed_s},
    }
    return Model(emb, fitted, parse_model(name)[0], None, info)


@documented(
    model=("str, ClipModel or None", "A registered model name or an unfitted estimator (``None``: ``classifier``)."),
    unknown_classes=("list of str or None", "Open-set evaluation: these classes are left out of training and tested "
                                            "as unknown sounds."),
    unknown_dir=("str, Path or None", "With ``unknown_classes``: a folder of other sounds also tested as unknowns."),
    calibration_data=("str, Path or None", "For ``backend='onnx-int8'``: recordings whose windows set the int8 ranges"
                                           " (default: the data)."),
)
def evaluate(data, *, model=None, embedder: str = DEFAULT_EMBEDDER, classifier: str = "logreg", aggregation: str = "mean",
             gate_db: float | None = DEFAULT_GATE_DB, classifier_params: dict | None = None, folds: str | None = None,
             test_folds: list[str] | None = None, cv: int | None = None, file_column: str = "filename", label_column: str = "label",
             strict_paths: bool = False, cache_dir=None, use_cache: bool = True, random_state: int = 0, model_params: dict | None = None,
             unknown_classes: list[str] | None = None, unknown_dir=None, progress: bool = False, backend: str | None = None,
             calibration_data=None) -> dict:
    """Cross-validate a model on a dataset, one fresh clone of it per fold.

    ``folds`` names the metadata column with official folds; without it,
    stratified ``cv``-fold cross-validation is used. ``test_folds`` limits
    the test sets to those fold values (an official train/test split:
    ``folds="split", test_folds=["test"]``).

    Open set: ``unknown_classes`` are left out of training and tested as
    unknowns, with the recordings in ``unknown_dir`` (cut to the clips' median
    length); the result gains ``open_set`` (AUROC of known against unknown,
    accuracy on known clips at 5% false acceptance of unknowns, and the
    model's own threshold's rates if it rejects).

    ``backend`` runs the aisfx network on ``torch``, ``onnx`` or ``onnx-int8``
    (int8 ranges set by windows of ``calibration_data``, default the
    dataset's own recordings: their audio, never their labels).

    Returns
    -------
    dict
        Keys: ``accuracy_mean``, ``accuracy_std``, ``balanced_accuracy_mean``,
        ``macro_f1_mean``, ``n_files``, ``n_skipped``, ``skipped``,
        ``embedder``, ``classifier``, ``audio_seconds``, ``seconds``
        (``embed``, ``fit``, ``total``), ``folds``, ``per_class``,
        ``confusion_matrix``, ``classes``, ``protocol``, ``data``, ``versions``.

    Examples
    --------
    >>> result = evaluate("data/demo/train", embedder="mfcc", cv=4)
    >>> round(result["accuracy_mean"], 3), len(result["folds"]), result["classes"][:2]
    (0.75, 4, ['chainsaw', 'clock_tick'])
    """
    t_start = time.perf_counter()
    cv = check_protocol(folds, test_folds, cv) or 5
    name, est = build_model(model if model is not None else classifier, aggregation=aggregation,
                            classifier_params=classifier_params, random_state=random_state, model_params=model_params)
    _checkpoints(est, cache_dir, use_cache, progress)
    p = Prepared(data, [_backend_front_end(_front_end_of(name, embedder, est), backend, calibration_data, data)], file_column=file_column, label_column=label_column, fold_column=folds,
                 cache_dir=cache_dir, use_cache=use_cache, gate_db=gate_db, progress=progress, strict_paths=strict_paths,
                 estimators=[est])
    (front,), (clips,) = p.front_ends.values(), p.clip_sets.values()
    copies = _copies_for(p, front.name, est, random_state)
    if unknown_dir is not None and not unknown_classes:
        raise ParameterError(f"--unknown-dir {unknown_dir} is tested as unknown sounds in an open-set evaluation; name the "
                             "classes to hold out with --unknown-classes too.")
    strangers = p.negatives(unknown_dir, front.name, "--unknown-dir") if unknown_dir is not None else None
    result = p.with_root(lambda: cross_validate(est, clips, p.labels, folds=p.folds, test_folds=test_folds, cv=cv,
                                                random_state=random_state, augmented=copies, unknown=unknown_classes,
                                                unknown_clips=strangers, progress=progress))
    fit_s = result.pop("fit_seconds")
    for row in result.get("misclassified", []):  # the clip's file, where the user can go and listen
        row["file"] = str(p.clips[row.pop("index")].path)
    return {
        **result,
        "n_files": len(p.clips), "n_skipped": len(p.skipped), "skipped": p.skipped,
        "embedder": front.identity() | {"licence": front.licence},
        "classifier": {"name": name, "kind": _kind(name), "aggregation": getattr(est, "aggregation", None),
                       "params": classifier_params or {}, "model_params": est.get_params(deep=False), "gate_db": gate_db},
        "protocol": p.protocol(folds, test_folds, cv, random_state),
        "data": p.describe(), "versions": p.versions(),
        "audio_seconds": float(p.durations.sum()),
        "seconds": {"embed": p.embed_seconds, "fit": fit_s, "total": time.perf_counter() - t_start},
        "earmark_version": __version__,
    }


def check_protocol(folds, test_folds=None, cv: int | None = None, *, train_folds=None, exclude_folds=None,
                   default_cv: int | None = 5) -> int | None:
    """Refuse, before any audio work, fold options that contradict or would be ignored; return the ``cv`` to use
    (``default_cv`` when neither ``cv`` nor ``folds`` is given)."""
    from earmark.errors import check_positive

    if test_folds and not folds:
        raise ParameterError(f"The 'test_folds' parameter ({', '.join(map(str, test_folds))}) names values of a fold column; "
                             "give that column with --folds COLUMN (with --cv the test folds are drawn, not named).")
    for name, value in (("train_folds", train_folds), ("exclude_folds", exclude_folds)):
        if value and not folds:
            raise ParameterError(f"The '{name}' parameter names values of a fold column; give that column with the 'folds' "
                                 "parameter.")
    if cv is not None and folds:
        raise ParameterError(f"The 'cv' parameter ({cv}) draws its own test folds and would ignore the 'folds' parameter "
                             f"({folds}); pass one of them.")
    if cv is None:
        return None if folds else default_cv
    return check_positive("cv", cv, kind=int)


def _prepare_candidates(data, embedders, models, *, aggregation, seed, **prepare) -> tuple[list[Candidate], Prepared]:
    """Every candidate model, and the dataset embedded once by each front end they need."""
    cands = candidates(list(embedders), list(models), aggregation=aggregation, random_state=seed)
    for c in cands:
        _checkpoints(c.estimator, prepare["cache_dir"], prepare["use_cache"])
    p = Prepared(data, list(dict.fromkeys(c.front_end for c in cands)), estimators=[c.estimator for c in cands], **prepare)
    cands = [Candidate(c.front_end, c.name, c.estimator, _copies_for(p, c.front_end, c.estimator, seed)) for c in cands]
    return cands, p


@documented(
    unlabelled=("bool", "Also run every model self-trained on the training folds' undrawn clips, labels hidden."),
    shots=("sequence of int", "Training clips per class at each point of the curve."),
    repeats=("int", "Draws of the training clips at each point (each tested on the whole held-out fold)."),
)
def curve(data, *, embedders=("mfcc", DEFAULT_EMBEDDER), classifiers=("knn", "logreg"), models=None, shots=(1, 2, 4, 8, 16, 32),
          repeats: int = 10, folds: str | None = None, test_folds: list[str] | None = None, cv: int | None = None,
          aggregation: str = "mean", gate_db: float | None = DEFAULT_GATE_DB, file_column: str = "filename",
          label_column: str = "label", strict_paths: bool = False, cache_dir=None, use_cache: bool = True, seed: int = 0,
          progress: bool = False, unlabelled: bool = False, self_training: SelfTraining | None = None) -> dict:
    """Few-shot learning curves: accuracy against training clips per class for every model on every embedder.

    With ``unlabelled``, every model also runs self-trained on the training
    folds' clips that were not drawn, their labels hidden (rows named
    ``"MODEL + unlabelled"``, on the same draws; ``self_training`` sets how,
    see :mod:`earmark.models.selftrain`).

    ``models`` (names or estimators; default ``classifiers``) are crossed
    with ``embedders``; a model with a front end of its own runs once, on
    it. Each (file, front end) pair is embedded once (through the cache) and
    reused for every n, repeat and model. See
    :func:`earmark.evaluation.fewshot.learning_curve` for the protocol.

    Returns
    -------
    dict
        ``summary`` (mean accuracy and 95% CI per embedder, classifier, n),
        ``runs`` (every single run), ``chance``, ``data``, ``protocol``,
        ``settings``, ``versions``, ``seconds``.

    Examples
    --------
    >>> c = curve("data/demo/train", embedders=("mfcc",), classifiers=("logreg",), shots=(1, 4), repeats=2, cv=4)
    >>> [(row["n"], round(row["accuracy_mean"], 3)) for row in c["summary"]]
    [(1, 0.487), (4, 0.712)]
    """
    t0 = time.perf_counter()
    cv = check_protocol(folds, test_folds, cv) or 5
    settings = (self_training or SelfTraining()).check() if unlabelled else None
    cands, p = _prepare_candidates(data, embedders, models or classifiers, aggregation=aggregation, seed=seed, file_column=file_column,
                                   label_column=label_column, fold_column=folds, cache_dir=cache_dir, use_cache=use_cache,
                                   gate_db=gate_db, progress=progress, strict_paths=strict_paths)
    t1 = time.perf_counter()
    result = p.with_root(lambda: learning_curve(p.clip_sets, p.labels, cands, shots=shots, repeats=repeats, folds=p.folds,
                                                test_folds=test_folds, cv=cv, seed=seed, progress=progress,
                                                self_training=settings))
    protocol = (p.protocol(folds, test_folds, cv, seed) + f"; n clips per class drawn from the training folds only, "
                f"{repeats} seeded repeats per fold (seed {seed}), nested draws, the same draw for every embedder and classifier")
    return result | {
        "data": p.describe(), "protocol": protocol, "versions": p.versions(),
        "settings": [f"embedders: {', '.join(p.front_ends)}", f"classifiers: {', '.join(dict.fromkeys(c.name for c in cands))}",
                     f"aggregation `{aggregation}`, gate {gate_db} dBFS"],
        "title": f"Learning curves on {p.ds.root.name} ({len(np.unique(p.labels))} classes, {repeats} repeats x {len(result['folds'])} fold{'s' if len(result['folds']) > 1 else ''})",
        "seconds": {"embed": t1 - t0, "fit_and_test": time.perf_counter() - t1, "total": time.perf_counter() - t0},
    }


@documented()
def compare(data, *, embedders=("mfcc", DEFAULT_EMBEDDER), classifiers=("knn", "logreg"), models=None, folds: str | None = None,
            test_folds: list[str] | None = None, cv: int | None = None, aggregation: str = "mean", gate_db: float | None = DEFAULT_GATE_DB,
            file_column: str = "filename", label_column: str = "label", strict_paths: bool = False, cache_dir=None,
            use_cache: bool = True, seed: int = 0, progress: bool = False) -> dict:
    """Full-data cross-validation of every model on every embedder, on the same folds.

    Returns
    -------
    dict
        ``rows`` (accuracy, balanced accuracy, macro-F1 mean and std, fit and
        predict time, dims, per-class F1), ``best`` (row index), ``results``,
        ``data``, ``protocol``, ``settings``, ``versions``, ``seconds``.

    Examples
    --------
    >>> result = compare("data/demo/train", embedders=("mfcc",), classifiers=("knn", "logreg"), cv=4)
    >>> sorted(result)[:4]
    ['best', 'data', 'metric', 'protocol']
    """
    t0 = time.perf_counter()
    cv = check_protocol(folds, test_folds, cv) or 5
    cands, p = _prepare_candidates(data, embedders, models or classifiers, aggregation=aggregation, seed=seed, file_column=file_column,
                                   label_column=label_column, fold_column=folds, cache_dir=cache_dir, use_cache=use_cache,
                                   gate_db=gate_db, progress=progress, strict_paths=strict_paths)
    t1 = time.perf_counter()
    result = p.with_root(lambda: _compare(p.clip_sets, p.labels, cands, dims={n: e.dims for n, e in p.front_ends.items()},
                                          folds=p.folds, test_folds=test_folds, cv=cv, seed=seed, progress=progress))
    return result | {
        "data": p.describe(), "protocol": p.protocol(folds, test_folds, cv, seed), "versions": p.versions(),
        "settings": [f"embedders: {', '.join(p.front_ends)}", f"classifiers: {', '.join(dict.fromkeys(c.name for c in cands))}",
                     f"aggregation `{aggregation}`, gate {gate_db} dBFS"],
        "seconds": {"embed": t1 - t0, "fit_and_test": time.perf_counter() - t1, "total": time.perf_counter() - t0},
    }


@documented(
    path=("str or Path", "A model file written by ``earmark train`` or :meth:`Model.save`."),
)
def load_model(path) -> Model:
    """Load a model saved with :meth:`Model.save`; runs no code from the file.

    Raises
    ------
    ModelFileError
        If the file is missing, damaged, tampered with, or from a newer earmark: one line with the reason and the fix.

    Examples
    --------
    >>> import tempfile
    >>> path = train("data/demo/train", embedder="mfcc").save(tempfile.mkdtemp() + "/demo.earmark")
    >>> model = load_model(path)
    >>> model.name, model.front_end.name, len(model.classes)
    ('logreg', 'mfcc', 10)
    """
    return Model.load(path)
