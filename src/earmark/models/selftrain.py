"""Learning from recordings nobody labelled: self-training with a held-out guard.

Any clip model is first fitted on the labelled clips; it then labels the
unlabelled clips it is surest of, and is fitted again on both, for a few
rounds (Yarowsky 1995; scikit-learn's ``SelfTrainingClassifier`` does the
same over table rows, this works on clips of windows and any clip model):

- each round, for every class, the unlabelled clips predicted as that class
  with probability at or above ``threshold`` are ranked and at most
  ``per_class`` of the most confident are taken, so no class can flood the
  training set (default: the largest labelled class's count, or the
  unlabelled clips per class spread over the rounds if that is more, so a
  big pool is used up gradually and a small one one class-sized step at a
  time);
- a pseudo-label, once given, is kept; rounds stop when none is added.

**The guard**: the labelled clips are split in ``folds`` (stratified); in
each, the plain model and the self-trained one (from the same unlabelled
clips) are fitted on the other folds and scored on it. Self-training is kept
only if it is better on those held-out labelled clips (accuracy, then log
loss); otherwise the plain model is returned and the report says why. So
unlabelled recordings of other sounds, or a threshold that lets wrong
pseudo-labels in, cost time but not accuracy.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.base import clone

from earmark.errors import ParameterError, check_fraction, check_number

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SelfTraining:
    """How unlabelled clips are used (see the module docstring).

    Attributes
    ----------
    threshold : float
        Least probability of a pseudo-label.
    rounds : int
        Rounds of labelling and refitting.
    per_class : int or None
        Most pseudo-labels added per class and round (``None``: the largest labelled class's count, or the
        unlabelled clips per class divided by ``rounds`` if that is more).
    folds : int
        Folds of the held-out guard over the labelled clips (at most the smallest class's count).
    guard : bool
        Keep the plain model when self-training does not help on held-out labelled clips.
    """

    threshold: float = 0.5
    rounds: int = 5
    per_class: int | None = None
    folds: int = 3
    guard: bool = True

    def check(self) -> SelfTraining:
        check_fraction("threshold", self.threshold)
        check_number("rounds", self.rounds, low=1, high=50, integer=True)
        if self.per_class is not None:
            check_number("per_class", self.per_class, low=1, high=1_000_000, integer=True)
        check_number("folds", self.folds, low=2, high=20, integer=True)
        return self


def pseudo_labels(proba: np.ndarray, taken: np.ndarray, *, threshold: float, per_class: int) -> np.ndarray:
    """Indices of not yet ``taken`` rows of ``proba`` to label now: per predicted class, the most confident at or above
    ``threshold``, at most ``per_class`` of them."""
    best, conf = proba.argmax(axis=1), proba.max(axis=1)
    out = []
    for k in range(proba.shape[1]):
        cand = np.flatnonzero((best == k) & (conf >= threshold) & ~taken)
        out.append(cand[np.argsort(-conf[cand], kind="stable")][:per_class])
    return np.sort(np.concatenate(out)) if out else np.zeros(0, int)


def _fit_rounds(estimator, clips, y, unlabelled, settings: SelfTraining):
    """The self-trained model and its pseudo-labels (``{unlabelled index: label}``), without the guard."""
    y = np.asarray(y)
    model = clone(estimator).fit(clips, y)
    labelled = int(max(np.unique(y, return_counts=True)[1]))
    taken = np.zeros(len(unlabelled), bool)
    labels = np.empty(len(unlabelled), dtype=object)
    history = []
    for r in range(settings.rounds):
        if taken.all():
            break
        proba = model.predict_proba(unlabelled)
        per_class = settings.per_class or max(labelled, -(-len(unlabelled) // (len(model.classes_) * settings.rounds)))
        new = pseudo_labels(proba, taken, threshold=settings.threshold, per_class=per_class)
        if not len(new):
            break
        taken[new] = True
        labels[new] = model.classes_[proba[new].argmax(axis=1)]
        history.append(int(len(new)))
        log.info("self-training round %d: %d pseudo-labels (%d in all)", r + 1, len(new), int(taken.sum()))
        idx = np.flatnonzero(taken)
        model = clone(estimator).fit(list(clips) + [unlabelled[i] for i in idx], np.concatenate([y, labels[idx].astype(y.dtype)]))
    return model, {int(i): str(labels[i]) for i in np.flatnonzero(taken)}, history


def _score(model, clips, y) -> tuple[float, float]:
    """(accuracy, mean log probability of the true class) on labelled clips."""
    proba = model.predict_proba(clips)
    col = {c: j for j, c in enumerate(model.classes_)}
    true = np.array([proba[i, col[v]] if v in col else 0.0 for i, v in enumerate(y)])
    return float(np.mean(model.classes_[proba.argmax(axis=1)] == y)), float(np.mean(np.log(np.clip(true, 1e-7, 1.0))))


def self_train(estimator, clips, y, unlabelled, settings: SelfTraining | None = None, *, random_state: int = 0):
    """Fit ``estimator`` on labelled ``clips``/``y`` and, where it helps, on pseudo-labelled ``unlabelled`` clips.

    Returns
    -------
    (ClipModel, dict)
        The fitted model (self-trained, or plain when the guard kept it) and a
        report: ``used`` (bool), ``reason``, ``n_unlabelled``, ``n_pseudo`` and
        ``pseudo_per_class`` (of the model returned), ``pseudo_labels`` (unlabelled
        clip index -> label given), ``rounds`` (pseudo-labels added per round), ``guard`` (held-out accuracy and log probability of
        the plain and the self-trained model per fold, and their means).

    Raises
    ------
    ParameterError
        For a setting out of range, or labels with several tags per clip (taggers are not self-trained).
    """
    from sklearn.model_selection import StratifiedKFold

    from earmark.models.clips import is_multilabel

    settings = (settings or SelfTraining()).check()
    y = np.asarray(y)
    if is_multilabel(y):
        raise ParameterError("Unlabelled recordings train single-label models; these labels hold several tags per clip. "
                             "Leave the unlabelled recordings out.")
    report = {"settings": asdict(settings), "n_unlabelled": len(unlabelled), "used": False}
    if not len(unlabelled):
        return clone(estimator).fit(clips, y), report | {"reason": "no unlabelled clips", "n_pseudo": 0}
    guard = None
    if settings.guard:
        counts = np.unique(y, return_counts=True)[1]
        k = min(settings.folds, int(counts.min()))
        if k < 2:
            plain = clone(estimator).fit(clips, y)
            return plain, report | {"n_pseudo": 0, "reason": "the held-out check needs at least 2 labelled clips of every "
                                                             "class; the plain model is kept"}
        folds = StratifiedKFold(k, shuffle=True, random_state=random_state).split(np.zeros(len(y)), y)
        rows = []
        for train, test in folds:
            part = [clips[i] for i in train]
            held = [clips[i] for i in test]
            plain = _score(clone(estimator).fit(part, y[train]), held, y[test])
            trained = _score(_fit_rounds(estimator, part, y[train], unlabelled, settings)[0], held, y[test])
            rows.append({"plain_accuracy": plain[0], "plain_log_prob": plain[1],
                         "self_trained_accuracy": trained[0], "self_trained_log_prob": trained[1]})
        mean = {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
        guard = {"folds": rows, **{f"mean_{k}": v for k, v in mean.items()}}
        better = (mean["self_trained_accuracy"], mean["self_trained_log_prob"]) > (mean["plain_accuracy"], mean["plain_log_prob"])
        if not better:
            log.info("unlabelled clips: self-training did not help on held-out labelled clips (accuracy %.3f against "
                        "%.3f plain); the plain model is kept", mean["self_trained_accuracy"], mean["plain_accuracy"])
            return clone(estimator).fit(clips, y), report | {
                "guard": guard, "n_pseudo": 0,
                "reason": f"not kept: held-out accuracy {mean['self_trained_accuracy']:.3f} self-trained against "
                          f"{mean['plain_accuracy']:.3f} plain (log probability {mean['self_trained_log_prob']:.3f} against "
                          f"{mean['plain_log_prob']:.3f})"}
    model, labels, history = _fit_rounds(estimator, clips, y, unlabelled, settings)
    per_class = {str(c): int(n) for c, n in zip(*np.unique(list(labels.values()), return_counts=True))} if labels else {}
    reason = ("kept: better on held-out labelled clips" if guard else "kept (no held-out check asked for)")
    log.info("unlabelled clips: %d of %d pseudo-labelled in %d rounds; %s", len(labels), len(unlabelled), len(history), reason)
    return model, report | {"used": True, "reason": reason, "guard": guard, "n_pseudo": len(labels),
                            "pseudo_per_class": per_class, "rounds": history, "pseudo_labels": labels}
