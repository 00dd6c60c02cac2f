"""Learning curves: accuracy against the number of training clips per class.

For every test fold, repeat and n, n clips per class are drawn (seeded) from
the training folds only; every embedder and classifier is trained on the
same draw and tested on the whole held-out fold, so the comparison is
paired. Draws are nested: the n = 4 draw extends the n = 2 draw of the same
repeat. On multi-label data (``;``-joined tags) n clips are drawn per tag
and n with none, and the curve's metric is the mean average precision
(``metric`` in the result; exact-match accuracy is kept beside it).
"""

from __future__ import annotations

import logging
import time

import numpy as np
from scipy import stats
from sklearn.metrics import accuracy_score

from earmark.errors import ParameterError
from earmark.evaluation.cv import fit_augmented, splits, tag_metrics
from earmark.models.base import is_multilabel, split_tags, tag_matrix
from sklearn.base import clone

from earmark.progress import track

log = logging.getLogger(__name__)


def nested_draws(labels: np.ndarray, train: np.ndarray, shots, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Training indices for each n in ``shots``: the first n of a per-class shuffle of ``train``.

    A class with fewer than n training clips contributes all it has. On
    multi-label data the strata are the tags (a clip with several tags is in
    each of theirs) and the clips with none: n clips are drawn with each tag,
    and n with no tag (fewer when clips share tags).
    """
    if is_multilabel(labels):
        tag_sets = [set(split_tags(v)) for v in labels[train]]
        strata = {t: train[[t in ts for ts in tag_sets]] for t in sorted(set().union(*tag_sets))}
        strata[""] = train[[not ts for ts in tag_sets]]
        order = {k: rng.permutation(v) for k, v in strata.items()}
        return {n: np.unique(np.concatenate([idx[:n] for idx in order.values()])) for n in shots}
    order = {c: rng.permutation(train[labels[train] == c]) for c in np.unique(labels[train])}
    return {n: np.sort(np.concatenate([idx[:n] for idx in order.values()])) for n in shots}


def learning_curve(
    clip_sets: dict[str, list[np.ndarray]],
    labels,
    candidates,
    *,
    shots=(1, 2, 4, 8, 16, 32),
    repeats: int = 10,
    folds=None,
    test_folds=None,
    cv: int = 5,
    seed: int = 0,
    progress: bool = False,
    self_training=None,
) -> dict:
    """Few-shot accuracy of every candidate model at every n.

    Parameters
    ----------
    clip_sets : dict
        Front end name -> window features per clip (same clip order for all).
    labels : array-like [shape=(n_clips,)]
    candidates : sequence
        Items with ``front_end`` (a key of ``clip_sets``), ``name`` and an
        unfitted ``estimator`` (cloned for every run); see
        :class:`earmark.api.training.Candidate`.
    shots : sequence of int
        Training clips per class.
    repeats : int
        Independent draws per fold and n.
    folds, test_folds, cv
        As :func:`earmark.evaluation.cv.splits`.
    self_training : SelfTraining or None
        Also run every candidate with the training folds' clips that were not
        drawn as unlabelled clips (their labels hidden), self-trained
        (:mod:`earmark.models.selftrain`); its rows are named ``"NAME + unlabelled"``
        and record ``n_pseudo`` and whether the guard kept self-training (``used``).

    Returns
    -------
    dict
        ``runs``: one record per (fold, repeat, n, embedder, classifier) with
        its accuracy and times; ``summary``: per (embedder, classifier, n) the
        mean accuracy, its 95% confidence interval over repeats, and the
        number of runs; ``chance``: 1 / number of classes.
    """
    labels = np.asarray(labels)
    shots = sorted({int(n) for n in shots})
    if not shots or shots[0] < 1:
        raise ParameterError(f"The 'shots' parameter must be positive integers. Got {shots} instead.")
    if repeats < 1:
        raise ParameterError(f"The 'repeats' parameter must be a positive int. Got {repeats} instead.")
    fold_list = splits(labels, folds=folds, test_folds=test_folds, cv=cv, random_state=seed)
    tasks = [(fi, name, train, test, r) for fi, (name, train, test) in enumerate(fold_list) for r in range(repeats)]
    runs = []
    for fi, fold, train, test, r in track(tasks, description="curve (fold x repeat)", total=len(tasks), enabled=progress):
        draws = nested_draws(labels, train, shots, np.random.default_rng([seed, fi, r]))
        for n, idx in draws.items():
            for c in candidates:
                runs.append(_one_run(clip_sets[c.front_end], labels, idx, test, c.estimator, getattr(c, "copies", None))
                            | {"fold": fold, "repeat": r, "n": n, "embedder": c.front_end, "classifier": c.name})
                if self_training is not None:
                    rest = np.setdiff1d(train, idx)
                    runs.append(_self_trained_run(clip_sets[c.front_end], labels, idx, test, rest, c.estimator, self_training, seed)
                                | {"fold": fold, "repeat": r, "n": n, "embedder": c.front_end, "classifier": f"{c.name} + unlabelled"})
    tagged = is_multilabel(labels)
    if tagged:  # a scorer that knows nothing has an average precision of about each tag's prevalence
        truth = tag_matrix(labels, sorted({t for v in labels for t in split_tags(v)}))
        chance = float(truth.mean(axis=0).mean())
    else:
        chance = 1.0 / len(np.unique(labels))
    return {"runs": runs, "summary": summarise(runs), "chance": chance, "shots": shots, "metric": "mAP" if tagged else "accuracy",
            "repeats": repeats, "folds": [f[0] for f in fold_list]}


def _one_run(clips, labels, train_idx, test_idx, estimator, augmented=None) -> dict:
    t0 = time.perf_counter()
    model = clone(estimator)
    fit_augmented(model, clips, labels, train_idx, augmented)
    t1 = time.perf_counter()
    test = [clips[i] for i in test_idx]
    extra = {}
    if model.is_tagger:  # exact match as accuracy, and the mean average precision over the tags the test clips hold
        tags = [str(t) for t in model.classes_]
        proba = model.predict_proba(test)
        m = tag_metrics(tag_matrix(labels[test_idx], tags), proba, (proba >= model.thresholds_).astype(float), tags)
        extra = {"mAP": m["mAP"]}
    pred = model.predict(test)
    return {"accuracy": float(accuracy_score(labels[test_idx], pred)), **extra, "n_train": int(len(train_idx)),
            "fit_seconds": t1 - t0, "predict_seconds": time.perf_counter() - t1}


def _self_trained_run(clips, labels, train_idx, test_idx, rest_idx, estimator, settings, seed: int) -> dict:
    """A run of ``estimator`` self-trained with the clips ``rest_idx`` unlabelled."""
    from earmark.models.selftrain import self_train

    t0 = time.perf_counter()
    model, report = self_train(estimator, [clips[i] for i in train_idx], labels[train_idx], [clips[i] for i in rest_idx],
                               settings, random_state=seed)
    t1 = time.perf_counter()
    pred = model.predict([clips[i] for i in test_idx])
    wrong = sum(1 for i, lab in report.get("pseudo_labels", {}).items() if lab != str(labels[rest_idx[i]]))
    return {"accuracy": float(accuracy_score(labels[test_idx], pred)), "n_train": int(len(train_idx)),
            "n_unlabelled": int(len(rest_idx)), "n_pseudo": int(report["n_pseudo"]), "used": bool(report["used"]),
            "fit_seconds": t1 - t0, "predict_seconds": time.perf_counter() - t1} | ({"pseudo_wrong": wrong} if report["used"] else {})


def summarise(runs: list[dict]) -> list[dict]:
    """Mean accuracy and 95% CI per (embedder, classifier, n), in the order the runs name them (and mAP, ``mAP_mean``,
    ``mAP_ci95_low``/``_high``, when the runs have it).

    Folds of one repeat are averaged first (they share the repeat's draw
    seed stream, and together they are one estimate); the CI is a t-interval
    over the repeat means.
    """
    metrics = ["accuracy"] + (["mAP"] if runs and all("mAP" in r for r in runs) else [])
    groups: dict[tuple, dict[int, list[dict]]] = {}
    for run in runs:
        key = (run["embedder"], run["classifier"], run["n"])
        groups.setdefault(key, {}).setdefault(run["repeat"], []).append(run)
    emb_order = list(dict.fromkeys(k[0] for k in groups))
    clf_order = list(dict.fromkeys(k[1] for k in groups))
    rows = []
    for (emb, clf, n), per_repeat in sorted(groups.items(), key=lambda kv: (emb_order.index(kv[0][0]), clf_order.index(kv[0][1]), kv[0][2])):
        row = {"embedder": emb, "classifier": clf, "n": n}
        for metric in metrics:
            means = np.array([np.nanmean([r[metric] for r in v]) for v in per_repeat.values()])
            half = float(stats.t.ppf(0.975, len(means) - 1) * means.std(ddof=1) / np.sqrt(len(means))) if len(means) > 1 else float("nan")
            prefix = "" if metric == "accuracy" else f"{metric}_"
            row |= {f"{metric}_mean": float(means.mean()), f"{prefix}ci95_low": float(means.mean() - half),
                    f"{prefix}ci95_high": float(means.mean() + half)}
        rows.append(row | {"n_repeats": len(per_repeat), "n_runs": int(sum(len(v) for v in per_repeat.values()))})
    return rows


def mean_ci_text(row: dict, digits: int = 3, sep: str = " ", metric: str = "accuracy") -> str:
    """``"0.880 [0.873, 0.891]"``; with one repeat there is no interval: ``"0.880 (1 repeat)"``."""
    prefix = "" if metric == "accuracy" else f"{metric}_"
    mean = f"{row[f'{metric}_mean']:.{digits}f}"
    if not np.isfinite(row[f"{prefix}ci95_low"]):
        return f"{mean}{sep}(1 repeat)"
    return f"{mean}{sep}[{row[f'{prefix}ci95_low']:.{digits}f}, {row[f'{prefix}ci95_high']:.{digits}f}]"
