"""Cross-validation of any clip model over clips: one fresh clone per fold."""

from __future__ import annotations

import logging
import time

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from earmark.errors import ParameterError, did_you_mean
from sklearn.base import clone

from earmark.evaluation.openset import open_set_metrics, reliability
from earmark.models.base import TAG_SEPARATOR, is_multilabel, split_tags, tag_matrix
from earmark.models.registry import get_model
from earmark.progress import track

log = logging.getLogger(__name__)


def splits(labels: np.ndarray, *, folds=None, test_folds=None, cv: int = 5, random_state: int | None = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, train_idx, test_idx)`` per fold: the official folds if given, else stratified K-fold.

    ``test_folds`` restricts which folds serve as test sets (``["test"]`` for
    an official train/test split); the others are only trained on.
    """
    if folds is not None:
        folds = np.asarray(folds)
        names = sorted(set(folds.tolist()), key=lambda v: (len(str(v)), str(v)))
        if len(names) < 2:
            raise ParameterError(f"The fold column holds {len(names)} distinct value(s); it needs at least 2 folds.")
        if test_folds is not None:
            unknown = [f for f in test_folds if f not in names]
            if unknown:
                raise ParameterError(f"The 'test_folds' parameter names folds {unknown} that are not in the fold column ({names}); "
                                     "pick test folds from those values.")
            names = [f for f in names if f in test_folds]
        return [(str(f), np.flatnonzero(folds != f), np.flatnonzero(folds == f)) for f in names]
    counts = np.unique(labels, return_counts=True)[1]
    if cv < 2 or counts.min() < cv:
        raise ParameterError(f"The 'cv' parameter must be between 2 and the smallest class size ({counts.min()}). Got {cv} instead.")
    skf = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    return [(str(i + 1), tr, te) for i, (tr, te) in enumerate(skf.split(np.zeros(len(labels)), labels))]


def tag_metrics(truth: np.ndarray, proba: np.ndarray, decided: np.ndarray, tags) -> dict:
    """Per-tag ROC-AUC, average precision and F1 of the ``decided`` (0/1) tags, and their means (mAP, macro AUC).

    A tag absent from ``truth`` has no AP (and no AUC, like a tag on every clip); means skip them.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    per_tag = {}
    for j, tag in enumerate(tags):
        y, p, d = truth[:, j] > 0, proba[:, j], decided[:, j] > 0
        n_pos = int(y.sum())
        per_tag[str(tag)] = {
            "roc_auc": float(roc_auc_score(y, p)) if 0 < n_pos < len(y) else None,
            "average_precision": float(average_precision_score(y, p)) if n_pos else None,
            "f1": float(f1_score(y, d, zero_division=0)), "support": n_pos}
    aps = [v["average_precision"] for v in per_tag.values() if v["average_precision"] is not None]
    aucs = [v["roc_auc"] for v in per_tag.values() if v["roc_auc"] is not None]
    return {"mAP": float(np.mean(aps)) if aps else float("nan"), "macro_auc": float(np.mean(aucs)) if aucs else float("nan"),
            "macro_f1_tags": float(np.mean([v["f1"] for v in per_tag.values()])), "per_tag": per_tag}


def _tag_scores(model, test_clips, tags) -> tuple[np.ndarray, np.ndarray]:
    """A tagger's probabilities and decisions (at its thresholds, tuned on its training clips) in ``tags`` order."""
    proba, decided = np.zeros((len(test_clips), len(tags))), np.zeros((len(test_clips), len(tags)))
    p = model.predict_proba(test_clips)
    for k, tag in enumerate(model.classes_):
        j = tags.index(str(tag))
        proba[:, j], decided[:, j] = p[:, k], p[:, k] >= model.thresholds_[k]
    return proba, decided


def fit_augmented(model, clips, labels, idx, augmented=None):
    """Fit ``model`` on the clips at ``idx`` (and their augmented copies, if any)."""
    if augmented is None:
        return model.fit([clips[i] for i in idx], labels[idx])
    return model.fit([clips[i] for i in idx], labels[idx], augmented=[augmented[i] for i in idx])


def _training_summary(model) -> dict:
    """Epochs, why training stopped and seconds per epoch, for models that train in epochs (networks)."""
    history = getattr(model, "history_", None)
    if not history or not history.get("epochs"):
        return {}
    epochs = history["epochs"]
    return {"epochs": len(epochs), "best_epoch": history.get("best_epoch"), "stopped": history.get("stopped"),
            "seconds_per_epoch": sum(e["seconds"] for e in epochs) / len(epochs)}


def _open_set_fold(model, known_clips, proba, strangers, correct, into: dict) -> None:
    """One fold's rejection scores of its known test clips and of the unknown ones (scores pooled across folds
    compare only when every fold's score has one scale, as max probability and distance do)."""
    if not strangers:
        raise ParameterError("Open-set evaluation needs unknown clips in every fold: name classes with 'unknown' that every "
                             "test fold holds, or give unknown clips.")
    rejects = model.rejects
    into["known"].append(model.known_scores(known_clips, proba) if rejects else proba.max(axis=1))
    into["unknown"].append(model.known_scores(strangers) if rejects else model.predict_proba(strangers).max(axis=1))
    into["correct"].append(np.asarray(correct, bool))
    into["thresholds"].append(float(model.reject_threshold_) if rejects else None)


def cross_validate(
    estimator,
    clips: list[np.ndarray],
    labels,
    *,
    folds=None,
    test_folds=None,
    cv: int = 5,
    random_state: int | None = 0,
    augmented=None,
    unknown=None,
    unknown_clips=None,
    progress: bool = False,
    fitted=None,
) -> dict:
    """Train a fresh clone of ``estimator`` on all folds but one, test on it, for every fold.

    Parameters
    ----------
    estimator : ClipModel or str
        An unfitted clip model, or a registered model name.
    clips : list of np.ndarray [shape=(n_windows, *shape)]
        Window features per clip (already gated).
    labels : array-like [shape=(n_clips,)]
    folds : array-like or None
        Official fold of each clip; ``None`` uses stratified ``cv``-fold.
    augmented : list of list of np.ndarray or None
        Augmented copies of each clip: a fold trains on the copies of its
        training clips; test clips are always the originals.
    unknown : collection of str or None
        Open-set evaluation: clips of these classes are never trained on and
        are tested as unknowns, with ``unknown_clips`` (other sounds, tested
        in every fold); the model's rejection score (its highest probability
        if it has none) gives ``open_set`` (see :mod:`earmark.evaluation.openset`).
    fitted : dict or None
        Fold name -> a model already fitted on that fold's training clips, used
        instead of fitting a clone (see :func:`earmark.evaluation.compare.compare`);
        every fitted model is also put here, so a caller can keep them.

    Returns
    -------
    dict
        ``accuracy_mean``/``_std``, ``balanced_accuracy_mean``/``_std``,
        ``macro_f1_mean``/``_std``, ``folds`` (one dict per fold), ``per_class``
        (precision, recall, F1, support over all test predictions),
        ``confusion_matrix`` and ``classes``, ``fit_seconds``. On multi-label
        labels (``;``-joined tags, empty for none) ``accuracy`` is exact-match
        (every tag right), and ``mAP_mean``/``_std``, ``macro_auc_mean``/``_std``
        (per fold), ``tags`` and ``per_tag`` (ROC-AUC, average precision, F1 at
        the thresholds each fold's model tuned on its training clips, support)
        are added. Single-label results add ``calibration`` (ECE and the
        reliability diagram's bins over all test clips) and ``ece`` per fold.
    """
    if isinstance(estimator, str):
        estimator = get_model(estimator)
    labels = np.asarray(labels)
    outside = np.isin(labels, list(unknown or []))
    if unknown and not outside.any():
        raise ParameterError(f"The 'unknown' parameter names classes {sorted(unknown)} that are not in the data; pick some of "
                             f"{', '.join(map(str, np.unique(labels)))}.{did_you_mean(sorted(unknown)[0], np.unique(labels))}")
    classes = np.unique(labels[~outside])
    predictions = np.empty(len(labels), dtype=object)
    fold_rows, fit_seconds = [], 0.0
    tagged = is_multilabel(labels)
    tags = sorted({t for label in labels for t in split_tags(label)}) if tagged else []
    tag_proba, tag_decided = np.zeros((len(labels), len(tags))), np.zeros((len(labels), len(tags)))
    confidence = np.full(len(labels), np.nan)
    open_scores = {"known": [], "unknown": [], "correct": [], "thresholds": []}
    for name, train, test in track(splits(labels, folds=folds, test_folds=test_folds, cv=cv, random_state=random_state), description="folds", enabled=progress):
        t0 = time.perf_counter()
        strangers = [clips[i] for i in test[outside[test]]] + list(unknown_clips or [])
        train, test = train[~outside[train]], test[~outside[test]]
        if fitted is not None and name in fitted:
            model = fitted[name]
        else:
            model = fit_augmented(clone(estimator), clips, labels, train, augmented)
            if fitted is not None:
                fitted[name] = model
        t1 = time.perf_counter()
        if tagged:
            tag_proba[test], tag_decided[test] = _tag_scores(model, [clips[i] for i in test], tags)
            pred = np.array([TAG_SEPARATOR.join(t for t, on in zip(tags, row) if on) for row in tag_decided[test]], dtype=object)
        else:
            proba = model.predict_proba([clips[i] for i in test])
            pred, confidence[test] = model.classes_[proba.argmax(axis=1)], proba.max(axis=1)
            if unknown:
                _open_set_fold(model, [clips[i] for i in test], proba, strangers, pred == labels[test], open_scores)
        t2 = time.perf_counter()
        fit_seconds += t1 - t0
        predictions[test] = pred
        truth = labels[test]
        fold_rows.append({
            "fold": name, "n_train": int(len(train)), "n_test": int(len(test)),
            "accuracy": float(accuracy_score(truth, pred)),
            "balanced_accuracy": float(balanced_accuracy_score(truth, pred)),
            "macro_f1": float(f1_score(truth, pred, average="macro", labels=classes, zero_division=0)),
            "fit_seconds": t1 - t0, "predict_seconds": t2 - t1,
            **_training_summary(model),
        })
        if tagged:
            m = tag_metrics(tag_matrix(labels[test], tags), tag_proba[test], tag_decided[test], tags)
            fold_rows[-1] |= {"mAP": m["mAP"], "macro_auc": m["macro_auc"]}
        else:
            fold_rows[-1]["ece"] = reliability(confidence[test], pred == truth)["ece"]
        log.info("fold %s: accuracy %.3f", name, fold_rows[-1]["accuracy"])
    result = {}
    for metric in ("accuracy", "balanced_accuracy", "macro_f1"):
        values = np.array([r[metric] for r in fold_rows])
        result[f"{metric}_mean"] = float(values.mean())
        result[f"{metric}_std"] = float(values.std())
    tested = np.array([p is not None for p in predictions])
    if tagged:  # every tested clip pooled; each clip decided at its own fold model's thresholds
        for metric in ("mAP", "macro_auc"):
            values = np.array([r[metric] for r in fold_rows])
            result[f"{metric}_mean"], result[f"{metric}_std"] = float(np.nanmean(values)), float(np.nanstd(values))
        result["tags"] = tags
        result["per_tag"] = tag_metrics(tag_matrix(labels[tested], tags), tag_proba[tested], tag_decided[tested], tags)["per_tag"]
    right = predictions[tested].astype(labels.dtype) == labels[tested]
    result["accuracy_pooled"] = float(right.mean())
    result["accuracy_ci95"] = _wilson(int(right.sum()), int(tested.sum()))
    if not tagged:
        result["misclassified"] = sorted(({"index": int(i), "label": str(labels[i]), "predicted": str(predictions[i]),
                                           "score": float(confidence[i])} for i in np.flatnonzero(tested)[~right]),
                                         key=lambda row: -row["score"])
        result["calibration"] = reliability(confidence[tested], right)
        result["ece_mean"] = float(np.mean([r["ece"] for r in fold_rows]))
        result["ece_std"] = float(np.std([r["ece"] for r in fold_rows]))
    if unknown:
        o = open_scores
        thresholds = [t for t in o["thresholds"] if t is not None]
        result["open_set"] = {
            "unknown_classes": sorted(map(str, unknown)), "n_extra_unknown": len(unknown_clips or []),
            "score": "distance" if getattr(estimator, "reject", "none") == "distance" else "proba",
            **open_set_metrics(np.concatenate(o["known"]), np.concatenate(o["unknown"]), np.concatenate(o["correct"])),
            "folds": [open_set_metrics(k, u, c, threshold=t) for k, u, c, t in zip(o["known"], o["unknown"], o["correct"], o["thresholds"])],
        }
        if thresholds:  # each fold's own threshold (set on its training clips) applied to its test clips
            rows = result["open_set"]["folds"]
            result["open_set"]["at_threshold"] = {k: float(np.mean([r["at_threshold"][k] for r in rows]))
                                                  for k in ("known_accepted", "unknown_accepted", "ccr")}
    p, r, f, s = precision_recall_fscore_support(labels[tested], predictions[tested].astype(labels.dtype), labels=classes, zero_division=0)
    result["per_class"] = {str(c): {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])} for i, c in enumerate(classes)}
    result["classes"] = [str(c) for c in classes]
    result["confusion_matrix"] = confusion_matrix(labels[tested], predictions[tested].astype(labels.dtype), labels=classes).tolist()
    result["folds"] = fold_rows
    result["fit_seconds"] = fit_seconds
    return result


def _wilson(successes: int, n: int) -> list[float]:
    """The 95% Wilson score interval of a proportion (scipy's), as [low, high]."""
    from scipy.stats import binomtest

    ci = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    return [float(ci.low), float(ci.high)]
