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
    rows, results, fits = [], {}, {}
    for cand in track(candidates, description="compare", total=len(candidates), enabled=progress):
        emb, clf = cand.front_end, cand.name
        fitted, reused = _members_fitted(cand, clip_sets, fits, getattr(cand, "copies", None), {(c.front_end, c.name): c for c in candidates})
        r = cross_validate(cand.estimator, clip_sets[emb], labels, folds=folds, test_folds=test_folds, cv=cv, random_state=seed,
                           augmented=getattr(cand, "copies", None), fitted=fitted)
        fits[(emb, clf)] = fitted
        key = f"{emb} / {clf}"
        results[key] = r
        n_folds = len(r["folds"])
        if reused:  # the members' own fits: their time is the ensemble's
            for f in r["folds"]:
                f["fit_seconds"] = sum(m["folds"][i]["fit_seconds"] for m in (results[f"{e} / {n}"] for e, n in reused)
                                       for i in range(len(m["folds"])) if m["folds"][i]["fold"] == f["fold"])
            r["reused_member_fits"] = True
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


def _members_fitted(cand, clip_sets, fits: dict, copies, by_name: dict) -> tuple[dict, list]:
    """Per fold, the ensemble ``cand`` made of its members' fits in this compare, when that is exactly what fitting it
    would give: ``combine=mean`` with no calibration or rejection, every member a candidate already run, and every
    member's part of the ensemble's windows (and augmented copies) equal, clip by clip, to the windows it was fitted
    on. Otherwise an empty dict (the ensemble is fitted fold by fold) and no members."""
    from earmark.models.ensemble import EnsembleClassifier, parse_members

    est = cand.estimator
    if not isinstance(est, EnsembleClassifier) or est.combine != "mean" or est.calibration != "none" or est.reject != "none":
        return {}, []
    members = [(front, text) for text, _, front in parse_members(est.members)]
    if not all(m in fits for m in members):
        return {}, []
    est._layout_ = est._layout()  # what _cut reads
    for k, (front, text) in enumerate(members):
        own, mine = clip_sets[front], clip_sets[cand.front_end]
        if len(own) != len(mine) or not all(np.array_equal(est._cut(a, k), b) for a, b in zip(mine, own, strict=True)):
            return {}, []
        theirs = getattr(by_name.get((front, text)), "copies", None)
        if theirs is None:  # a member that takes no copies was fitted without them, in the ensemble too
            continue
        if copies is None or not all(
                np.array_equal(est._cut(a, k), b) for ca, cb in zip(copies, theirs, strict=True) for a, b in zip(ca, cb, strict=True)):
            return {}, []
    shape = clip_sets[cand.front_end][0].shape[1:]
    folds = set.intersection(*(set(fits[m]) for m in members))
    return {f: est.assembled([fits[m][f] for m in members], shape) for f in folds}, members
