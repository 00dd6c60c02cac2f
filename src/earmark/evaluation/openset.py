"""How honest a model's probabilities are, and how well it tells its classes from everything else.

- :func:`reliability`: the reliability diagram's bins (mean confidence against
  accuracy of the top class) and the expected calibration error (ECE, Guo et
  al. 2017: the bins' |accuracy - confidence| weighted by their share of clips);
- :func:`open_set_metrics`: with clips of classes the model never saw,
  the AUROC of known against unknown by the model's rejection score, and the
  open-set correct classification rate: the share of known clips both accepted
  and classified right at the score cut that accepts 5% of the unknowns.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

ECE_BINS = 15


def reliability(confidence, correct, *, bins: int = ECE_BINS) -> dict:
    """Equal-width confidence bins: ``bins`` (lower edge, upper edge, mean confidence, accuracy, clips) and ``ece``."""
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        m = which == b
        if not m.any():
            continue
        conf, acc = float(confidence[m].mean()), float(correct[m].mean())
        ece += m.mean() * abs(acc - conf)
        rows.append({"low": float(edges[b]), "high": float(edges[b + 1]), "confidence": conf, "accuracy": acc, "n": int(m.sum())})
    return {"ece": float(ece) if len(confidence) else float("nan"), "bins": rows}


def open_set_metrics(known_scores, unknown_scores, correct, *, false_accept: float = 0.05,
                     threshold: float | None = None) -> dict:
    """Known-against-unknown figures from rejection scores (higher: more like the training classes).

    Parameters
    ----------
    known_scores, unknown_scores : array-like
        Scores of test clips of the trained classes, and of clips of other sounds.
    correct : array-like of bool
        Whether each known clip's top class is right.
    threshold : float or None
        The model's own threshold, if it has one: its acceptance rates are added.
    """
    known, unknown, correct = (np.asarray(known_scores, np.float64), np.asarray(unknown_scores, np.float64),
                               np.asarray(correct, bool))
    out = {"n_known": int(len(known)), "n_unknown": int(len(unknown)), "false_accept": false_accept}
    if not len(known) or not len(unknown):
        return out | {"auroc": float("nan"), "ccr": float("nan")}
    out["auroc"] = float(roc_auc_score(np.r_[np.ones(len(known)), np.zeros(len(unknown))], np.r_[known, unknown]))
    cut = float(np.quantile(unknown, 1.0 - false_accept, method="higher"))  # unknowns strictly above it: at most the share
    out["ccr"] = float(((known > cut) & correct).mean())
    out["known_accepted"] = float((known > cut).mean())
    if threshold is not None:
        out["threshold"] = float(threshold)
        out["at_threshold"] = {"known_accepted": float((known >= threshold).mean()),
                               "unknown_accepted": float((unknown >= threshold).mean()),
                               "ccr": float(((known >= threshold) & correct).mean())}
    return out
