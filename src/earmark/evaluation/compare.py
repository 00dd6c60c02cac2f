"""Full-data comparison of embedders x classifiers under one protocol."""

from __future__ import annotations

import numpy as np

from earmark.evaluation.cv import cross_validate
from earmark.progress import track


def compare(
    clip_sets: dict[str, list[np.ndarray]],
    labels,
    *,
    dims: dict[str, int],
    classifiers=("knn", "logreg"),
    folds=None,
    test_folds=None,
    cv: int = 5,
    aggregation: str = "mean",
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """Cross-validate every embedder x classifier on the same folds.

    Returns
    -------
    dict
        ``rows``: one per combination (accuracy, balanced accuracy and
        macro-F1 mean and std over folds, fit and predict seconds per fold,
        dims, per-class F1); ``best``: the index of the row with the highest
        mean accuracy; ``results``: the full :func:`cross_validate` result
        per combination, keyed ``"embedder / classifier"``.
    """
    combos = [(e, c) for e in clip_sets for c in classifiers]
    rows, results = [], {}
    for emb, clf in track(combos, description="compare", total=len(combos), enabled=progress):
        r = cross_validate(clip_sets[emb], labels, folds=folds, test_folds=test_folds, cv=cv, classifier=clf,
                           aggregation=aggregation, random_state=seed)
        key = f"{emb} / {clf}"
        results[key] = r
        n_folds = len(r["folds"])
        rows.append({
            "embedder": emb, "classifier": clf, "dims": dims[emb],
            **{k: r[k] for k in ("accuracy_mean", "accuracy_std", "balanced_accuracy_mean", "balanced_accuracy_std", "macro_f1_mean", "macro_f1_std")},
            "fit_seconds_per_fold": sum(f["fit_seconds"] for f in r["folds"]) / n_folds,
            "predict_seconds_per_fold": sum(f["predict_seconds"] for f in r["folds"]) / n_folds,
            "f1_per_class": {c: v["f1"] for c, v in r["per_class"].items()},
        })
    best = int(np.argmax([row["accuracy_mean"] for row in rows]))
    return {"rows": rows, "best": best, "results": results}
