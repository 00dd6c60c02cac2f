"""Full-data comparison of embedders x classifiers under one protocol."""

from __future__ import annotations

import numpy as np

from earmark.evaluation.cv import cross_validate
from earmark.progress import track


def compare(
    clip_sets: dict[str, list[np.ndarray]],
    labels,
    candidates,
    *,
    dims: dict[str, int],
    folds=None,
    test_folds=None,
    cv: int = 5,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """Cross-validate every candidate model on the same folds.

    ``candidates`` hold ``front_end`` (a key of ``clip_sets``), ``name`` and
    an unfitted ``estimator``, as for :func:`earmark.evaluation.fewshot.learning_curve`.

    Returns
    -------
    dict
        ``rows``: one per combination (accuracy, balanced accuracy and
        macro-F1 mean and std over folds, fit and predict seconds per fold,
        dims, per-class F1; on multi-label data also ``mAP_mean``/``_std`` and
        ``macro_auc_mean``/``_std``, and per-tag F1 in place of per-class);
        ``best``: the index of the row with the highest mean accuracy (mAP
        on multi-label data, ``metric``); ``results``: the full
        :func:`cross_validate` result per combination, keyed
        ``"embedder / classifier"``.
    """
    rows, results = [], {}
    for cand in track(candidates, description="compare", total=len(candidates), enabled=progress):
        emb, clf = cand.front_end, cand.name
        r = cross_validate(cand.estimator, clip_sets[emb], labels, folds=folds, test_folds=test_folds, cv=cv, random_state=seed,
                           augmented=getattr(cand, "copies", None))
        key = f"{emb} / {clf}"
        results[key] = r
        n_folds = len(r["folds"])
        rows.append({
            "embedder": emb, "classifier": clf, "dims": dims[emb],
            **{k: r[k] for k in ("accuracy_mean", "accuracy_std", "balanced_accuracy_mean", "balanced_accuracy_std", "macro_f1_mean", "macro_f1_std")},
            "fit_seconds_per_fold": sum(f["fit_seconds"] for f in r["folds"]) / n_folds,
            "predict_seconds_per_fold": sum(f["predict_seconds"] for f in r["folds"]) / n_folds,
            "f1_per_class": {c: v["f1"] for c, v in r.get("per_tag", r["per_class"]).items()},
            **{k: r[k] for k in ("mAP_mean", "mAP_std", "macro_auc_mean", "macro_auc_std") if k in r},
        })
    metric = "mAP" if rows and "mAP_mean" in rows[0] else "accuracy"
    best = int(np.argmax([row[f"{metric}_mean"] for row in rows]))
    return {"rows": rows, "best": best, "results": results, "metric": metric}
