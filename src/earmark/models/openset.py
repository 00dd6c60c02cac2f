"""Calibrated probabilities and "none of these": what :class:`OpenSet` adds to every clip model after training.

Both are fitted on **held-out** scores of the training clips (each clip scored
by a model trained without it, k-fold inside ``fit``), never on the clips a
model was trained on, whose scores are over-confident:

- calibration maps probabilities to ones that mean what they say:
  ``"temperature"`` (one temperature on the log-probabilities, or on the logits
  of a tagger's tags; Guo et al. 2017) or ``"isotonic"`` (a monotone map per
  class, rows renormalised; Zadrozny & Elkan 2002, as scikit-learn's
  ``CalibratedClassifierCV``);
- rejection gives every clip a score of how much it looks like the training
  classes, and a threshold below which the model answers "unknown":
  ``"proba"``, the highest (calibrated) class probability (Hendrycks & Gimpel
  2017), or ``"distance"``, the cosine similarity of the clip's standardised
  mean features to its nearest training clip (a nearest-neighbour novelty
  score, which also catches loud noise a classifier calls a class with
  confidence). The threshold rejects ``reject_rate`` of the held-out training
  clips, or, given negative clips (sounds of none of the classes), best
  separates the two (Youden's J).

:class:`OpenSet` is the mixin :class:`~earmark.models.base.ClipModel` inherits:
its three parameters, its fitting steps, its scores and its own parts of a
model file (``calibration``, ``novelty`` and the ``fitted`` part's
``reject_threshold``). The functions below are the arithmetic, on arrays.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.optimize import minimize_scalar

from earmark.errors import ParameterError, check_choice
from earmark.models.clips import as_clips
from earmark.persistence import Tensors

log = logging.getLogger(__name__)

CALIBRATIONS = ("none", "temperature", "isotonic")
REJECTIONS = ("none", "proba", "distance")
_EPS = 1e-7


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def apply_temperature(proba: np.ndarray, temperature: float, *, multilabel: bool) -> np.ndarray:
    """``proba`` with its logits divided by ``temperature`` (softmax over classes, or sigmoid per tag)."""
    if multilabel:
        return 1.0 / (1.0 + np.exp(-_logit(proba) / temperature))
    z = np.log(np.clip(proba, _EPS, 1.0)) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(proba: np.ndarray, target: np.ndarray, *, multilabel: bool) -> float:
    """The temperature in [0.05, 20] that minimises the negative log-likelihood of ``target``.

    ``target`` is class indices ``(n,)``, or a 0/1 tag matrix for a tagger.
    """
    def nll(log_t: float) -> float:
        p = np.clip(apply_temperature(proba, float(np.exp(log_t)), multilabel=multilabel), _EPS, 1 - _EPS)
        if multilabel:
            return float(-(target * np.log(p) + (1 - target) * np.log1p(-p)).mean())
        return float(-np.log(p[np.arange(len(p)), target]).mean())

    return float(np.exp(minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded").x))


def fit_isotonic(proba: np.ndarray, onehot: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per class, the knots ``(x, y)`` of a monotone map from its held-out probability to its frequency."""
    from sklearn.isotonic import IsotonicRegression

    out = []
    for j in range(proba.shape[1]):
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(proba[:, j], onehot[:, j])
        out.append((np.asarray(iso.X_thresholds_, np.float64), np.asarray(iso.y_thresholds_, np.float64)))
    return out


def apply_isotonic(proba: np.ndarray, knots, *, multilabel: bool) -> np.ndarray:
    """``proba`` through each class's isotonic map; rows renormalised unless tags are independent."""
    out = np.column_stack([np.interp(proba[:, j], x, y) for j, (x, y) in enumerate(knots)]) if len(proba) else proba.copy()
    if multilabel:
        return out
    total = out.sum(axis=1, keepdims=True)
    return np.where(total > 0, out / np.where(total > 0, total, 1.0), 1.0 / proba.shape[1])


def clip_vectors(clips) -> np.ndarray:
    """One vector per clip: the mean of its windows' flattened features."""
    return np.stack([c.reshape(len(c), -1).mean(axis=0) for c in clips]).astype(np.float64)


MAX_BANK_ROWS = 50_000  # training clips a bank keeps (evenly spaced beyond that), so a model file stays bounded


def fit_bank(vectors: np.ndarray) -> dict:
    """The training clips' vectors standardised, with the scaling, for :func:`similarity` (at most
    ``MAX_BANK_ROWS`` of them, evenly spaced)."""
    if len(vectors) > MAX_BANK_ROWS:
        vectors = vectors[np.linspace(0, len(vectors) - 1, MAX_BANK_ROWS).astype(int)]
    mean = vectors.mean(axis=0)
    scale = vectors.std(axis=0)
    scale = np.where(scale > 1e-8, scale, 1.0)
    return {"mean": mean, "scale": scale, "bank": (vectors - mean) / scale}


def _nearest(q: np.ndarray, bank: np.ndarray, *, skip_self: bool = False) -> np.ndarray:
    """Euclidean distance of each row of ``q`` to its nearest row of ``bank``, per dimension (RMS)."""
    out = np.empty(len(q))
    b2 = (bank**2).sum(axis=1)
    for i in range(0, len(q), 1024):  # bounded memory whatever the number of windows
        block = q[i : i + 1024]
        d2 = (block**2).sum(axis=1)[:, None] + b2[None, :] - 2 * block @ bank.T
        if skip_self:
            d2[np.arange(len(block)), np.arange(i, i + len(block))] = np.inf
        out[i : i + 1024] = np.sqrt(np.maximum(d2.min(axis=1), 0.0) / bank.shape[1])
    return out


def similarity(bank: dict, vectors: np.ndarray) -> np.ndarray:
    """Minus the distance of each vector (standardised like the bank) to its nearest training clip (higher: more known)."""
    return -_nearest((vectors - bank["mean"]) / bank["scale"], bank["bank"])


def leave_one_out_similarity(bank: dict) -> np.ndarray:
    """Each training clip's :func:`similarity` to its nearest *other* training clip."""
    return -_nearest(bank["bank"], bank["bank"], skip_self=True)


def choose_threshold(known: np.ndarray, negatives: np.ndarray | None, rate: float) -> float:
    """The score below which a clip is unknown.

    Without negatives: the ``rate`` quantile of the held-out known scores (so
    about ``rate`` of known clips are rejected). With negatives: the cut that
    maximises the known clips' acceptance minus the negatives' acceptance.
    """
    known = np.sort(np.asarray(known, np.float64))
    if negatives is None or len(negatives) == 0:
        return float(np.quantile(known, rate)) if rate > 0 else float(known[0])
    negatives = np.asarray(negatives, np.float64)
    cands = np.unique(np.concatenate([known, negatives]))
    cands = np.concatenate([cands, [cands[-1] + 1e-9]])
    j = (known[None, :] >= cands[:, None]).mean(1) - (negatives[None, :] >= cands[:, None]).mean(1)
    best = np.flatnonzero(j >= j.max() - 1e-12)
    return float(cands[best[0]])


class OpenSet:
    """Calibration and "none of these" for a clip model: parameters, fitting steps, scores and parts.

    Parameters (declared by each model's ``__init__``, scikit-learn's rule; a
    model that declares none has neither):

    calibration : {"none", "temperature", "isotonic"}
    reject : {"none", "proba", "distance"}
    reject_rate : float in [0, 0.5)
        Share of held-out training clips the "unknown" threshold rejects (when no negatives are given).

    Attributes
    ----------
    calibrator_ : Tensors or None
    novelty_ : Tensors or None
        The standardised training-clip bank of ``reject="distance"``.
    reject_threshold_ : float or None
    """

    calibration: str = "none"
    reject: str = "none"
    reject_rate: float = 0.05

    # what the model provides: classes_, multilabel_, is_tagger, feature_shape_, predict_proba, fit, set_params

    def _check_open_set(self) -> None:
        check_choice("calibration", self.calibration, CALIBRATIONS)
        check_choice("reject", self.reject, REJECTIONS)
        rate = self.reject_rate
        if not (isinstance(rate, (int, float)) and not isinstance(rate, bool) and 0 <= rate < 0.5):
            raise ParameterError(f"The 'reject_rate' parameter must be a number in [0, 0.5) (the share of known clips the "
                                 f"'unknown' threshold may reject). Got {rate!r} instead.")

    def _check_open_set_labels(self, multilabel: bool) -> None:
        if multilabel and self.reject == "proba":
            raise ParameterError("reject='proba' is for single-label models; a tagger already answers 'none of these' when no tag "
                                 "reaches its threshold (reject='distance' adds a novelty check).")

    def _check_open_set_frames(self) -> None:
        if self.calibration != "none" or self.reject != "none":
            raise ParameterError("calibration and reject are fitted on clip scores of clip-labelled models; leave them out "
                                 "when training on strong (frame) labels.")

    def _reset_open_set(self) -> None:
        self.calibrator_, self.novelty_, self.reject_threshold_ = None, None, None

    def _fit_calibration_step(self, clips, y, target, copies) -> np.ndarray | None:
        """Fit the calibration (if asked) on held-out scores; returns those scores, calibrated, when a later step needs them."""
        if self.calibration == "none" and self.reject != "proba":
            return None
        held = self._held_out_proba(clips, y, target, copies)
        if self.calibration == "none":
            return held
        onehot = target if self.multilabel_ else np.eye(len(self.classes_))[target]
        if self.calibration == "temperature":
            t = fit_temperature(held, target, multilabel=self.multilabel_)
            self.calibrator_ = Tensors(temperature=np.array([t]))
            log.info("calibration: temperature %.3f", t)
        else:
            knots = fit_isotonic(held, onehot)
            self.calibrator_ = Tensors({f"{a}{j}": v for j, xy in enumerate(knots) for a, v in zip("xy", xy)})
        return self._calibrate(held)

    def _held_out_proba(self, clips, y, target, copies) -> np.ndarray:
        """Every training clip's probabilities from a model fitted without it (k-fold, k <= 5; uncalibrated)."""
        from sklearn.base import clone
        from sklearn.model_selection import KFold, StratifiedKFold

        why = "calibration" if self.calibration != "none" else "reject='proba'"
        if self.multilabel_:
            k = min(5, len(clips))
            folds = KFold(k, shuffle=True, random_state=0).split(clips) if k >= 2 else []
        else:
            k = min(5, int(np.bincount(target).min()))
            folds = StratifiedKFold(k, shuffle=True, random_state=0).split(np.zeros(len(y)), target) if k >= 2 else []
        if k < 2:
            raise ParameterError(f"{why} needs held-out scores, so at least 2 training clips of every class; add clips, "
                                 "or train without it.")
        log.info("%s: scoring the training clips with %d models fitted without them", why, k)
        held = np.zeros((len(clips), len(self.classes_)))
        index = {c: j for j, c in enumerate(self.classes_)}
        for train, test in folds:
            part = clone(self).set_params(calibration="none", reject="none")
            part.fit([clips[i] for i in train], y[train], augmented=None if copies is None else [copies[i] for i in train])
            cols = [index[c] for c in part.classes_]
            held[np.ix_(test, cols)] = part.predict_proba([clips[i] for i in test])
        return held

    def _calibrate(self, proba: np.ndarray) -> np.ndarray:
        cal = getattr(self, "calibrator_", None)
        if not cal:
            return proba
        if "temperature" in cal:
            return apply_temperature(proba, float(cal["temperature"][0]), multilabel=self.is_tagger)
        knots = [(cal[f"x{j}"], cal[f"y{j}"]) for j in range(len(self.classes_))]
        return apply_isotonic(proba, knots, multilabel=self.is_tagger)

    def _fit_rejection(self, clips, held, negatives) -> None:
        if self.reject == "none":
            return
        negatives = as_clips(negatives) if negatives is not None and len(negatives) else []
        for c in negatives:
            if c.shape[1:] != self.feature_shape_:
                raise ParameterError(f"negatives hold windows of shape {c.shape[1:]}; the training clips have {self.feature_shape_}.")
        if self.reject == "distance":
            self.novelty_ = Tensors(fit_bank(clip_vectors(clips)))
            known = leave_one_out_similarity(self.novelty_)
        else:
            known = held.max(axis=1)
        neg = self._known_scores(negatives) if negatives else None
        self.reject_threshold_ = choose_threshold(known, neg, float(self.reject_rate))
        log.info("'unknown' below %s %.4f (%s)", self.reject, self.reject_threshold_,
                 f"{len(negatives)} negative clips" if negatives else f"rejects {self.reject_rate:.0%} of held-out training clips")

    @property
    def rejects(self) -> bool:
        """True when fitted with a "none of these" threshold."""
        return getattr(self, "reject_threshold_", None) is not None

    def known_scores(self, clips, proba: np.ndarray | None = None) -> np.ndarray:
        """How much each clip looks like the training classes (below ``reject_threshold_``: unknown).

        ``proba``, the clips' calibrated probabilities, saves recomputing them
        for ``reject="proba"``. A window scores as a one-window clip.
        """
        if not self.rejects:
            raise ParameterError(f"{type(self).__name__} was fitted without reject; fit it with reject='proba' or 'distance'.")
        return self._known_scores(clips, proba)

    def _known_scores(self, clips, proba: np.ndarray | None = None) -> np.ndarray:
        if self.reject == "distance":
            return similarity(self.novelty_, clip_vectors(as_clips(clips)))
        return (self.predict_proba(clips) if proba is None else proba).max(axis=1)

    # --- its parts of a model file --------------------------------------------------------
    OWN_PARTS = ("calibration", "novelty")

    def _open_set_parts(self) -> tuple[dict, dict]:
        """``(parts, fitted)``: the named parts it adds, and what it adds to the ``fitted`` JSON part."""
        parts, fitted = {}, {}
        if getattr(self, "calibrator_", None):
            parts["calibration"] = self.calibrator_
        if self.rejects:
            fitted["reject_threshold"] = float(self.reject_threshold_)
            if self.novelty_ is not None:
                parts["novelty"] = self.novelty_
        return parts, fitted

    def _restore_open_set(self, parts: dict, fitted: dict) -> None:
        self.calibrator_ = _tensors(parts.get("calibration"), "calibration") if self.calibration != "none" else None
        if self.calibrator_ is not None and "temperature" not in self.calibrator_ and \
                not all(f"{a}{j}" in self.calibrator_ for j in range(len(self.classes_)) for a in "xy"):
            raise ParameterError(f"the 'calibration' part lacks the isotonic map of some of the {len(self.classes_)} classes.")
        threshold = fitted.get("reject_threshold")
        self.reject_threshold_ = None if self.reject == "none" else float(threshold)
        self.novelty_ = _tensors(parts.get("novelty"), "novelty") if self.reject == "distance" else None
        if self.novelty_ is not None and not {"mean", "scale", "bank"} <= set(self.novelty_):
            raise ParameterError("the 'novelty' part lacks its training-clip bank; retrain.")


def _tensors(part, name: str) -> Tensors:
    if not isinstance(part, dict) or not part:
        raise ParameterError(f"the model was fitted with {name} but its '{name}' part is missing.")
    return Tensors({k: np.asarray(v, np.float64) for k, v in part.items()})
