"""The clip-model contract every trainable earmark model follows.

A *clip* is what a front end (an embedder or feature extractor) makes of one
recording: an array ``(n_windows, *feature_shape)``, one row of features per
analysis window. A clip model is a scikit-learn classifier over clips:

- ``fit(clips, y)`` learns from clips and one label per clip; a label may
  hold several tags joined by ``;`` (an empty label: none of them), which
  makes the model a multi-label tagger (``multilabel_``): one independent
  probability per tag, and ``predict`` gives the tags at or above their
  thresholds (``thresholds_``, tuned for F1 on the training clips);
- ``window_proba(clip)`` scores every window, ``(n_windows, n_classes)``
  (what ``detect`` and ``listen`` use);
- ``predict_proba(clips)`` pools window scores into one row per clip
  (``aggregation``: mean by default);
- ``classes_``, ``sklearn.base.clone`` and ``get_params`` work as usual;
- ``calibration`` (``"temperature"``, ``"isotonic"``) and ``reject``
  (``"proba"``, ``"distance"``, with ``reject_rate``) make ``fit`` also learn
  calibrated probabilities and a "none of these" threshold from held-out
  scores of the training clips (see :mod:`earmark.models.openset`);
  ``known_scores`` and ``rejects`` let callers answer "unknown";
- ``fitted_parts()`` / ``restore_parts(parts)`` save and restore the fitted
  state as named parts (:class:`Tensors` go to safetensors, scikit-learn
  objects to skops, anything else to JSON), so a model file never pickles.

``X`` may also be a 2-D array (each row one clip of one window), so every
clip model runs in ``Pipeline``, ``cross_val_score`` and scikit-learn's own
estimator checks.

A new model subclasses :class:`ClipModel`, implements ``_fit``,
``_window_proba``, ``_parts`` and ``_restore``, and is registered with one
line in :mod:`earmark.models.registry`.
"""

from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod

import numpy as np
from scipy.sparse import issparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from earmark.errors import ParameterError, check_choice
from earmark.models import openset
from earmark.models.aggregation import AGGREGATIONS, aggregate_clips
from earmark.models.openset import CALIBRATIONS, REJECTIONS

log = logging.getLogger(__name__)


TAG_SEPARATOR = ";"
MAX_WIDTH = 8192  # the widest layer (units, channels, dimensions) a model here may ask for
MAX_EPOCHS = 100_000


def split_tags(label) -> list[str]:
    """The tags of one label: ``"dog;rain"`` -> ``["dog", "rain"]``, ``""`` -> ``[]``."""
    return sorted({t.strip() for t in str(label).split(TAG_SEPARATOR) if t.strip()})


def is_multilabel(labels) -> bool:
    """True if any label holds several tags or none (multi-label data), False for one class per clip."""
    return any(TAG_SEPARATOR in str(v) or not str(v).strip() for v in labels)


def tag_matrix(labels, tags) -> np.ndarray:
    """``(n_labels, n_tags)`` 0/1 indicator of each label's tags, columns in ``tags`` order."""
    index = {t: j for j, t in enumerate(tags)}
    out = np.zeros((len(labels), len(tags)), np.float32)
    for i, label in enumerate(labels):
        for t in split_tags(label):
            if t in index:
                out[i, index[t]] = 1.0
    return out


def best_thresholds(proba: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per tag, the threshold with the best F1 on (``proba``, ``truth``): midpoints between scores, ties nearest 0.5."""
    out = np.full(proba.shape[1], 0.5)
    for j in range(proba.shape[1]):
        p, t = proba[:, j], truth[:, j] > 0
        if not t.any() or t.all():
            continue
        s = np.unique(p)
        cands = np.concatenate([(s[:-1] + s[1:]) / 2, [0.5]]) if len(s) > 1 else np.array([0.5])
        pred = p[None, :] >= cands[:, None]
        tp = (pred & t).sum(1)
        f1 = 2 * tp / np.maximum(pred.sum(1) + t.sum(), 1)
        best = np.flatnonzero(f1 >= f1.max() - 1e-12)
        out[j] = cands[best[np.argmin(np.abs(cands[best] - 0.5))]]
    return out


class Tensors(dict):
    """A named part made of arrays only: stored as safetensors in a model file."""


class ClipModel(ClassifierMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of clip models (see the module docstring for the contract).

    Subclasses keep ``__init__`` to storing parameters, and must accept an
    ``aggregation`` parameter (``"mean"``, ``"vote"`` or ``"max"``).

    Attributes
    ----------
    classes_ : np.ndarray [shape=(n_classes,)]
    feature_shape_ : tuple of int
        Shape of one window's features seen in ``fit``.
    n_features_in_ : int
        Number of values per window (the product of ``feature_shape_``).
    """

    aggregation: str = "mean"
    calibration: str = "none"
    reject: str = "none"
    reject_rate: float = 0.05

    # --- what a subclass implements -------------------------------------------------
    @abstractmethod
    def _fit(self, clips: list[np.ndarray], y: np.ndarray) -> None:
        """Learn from ``clips`` and encoded labels ``y`` (ints in ``range(n_classes)``)."""

    @abstractmethod
    def _window_proba(self, windows: np.ndarray) -> np.ndarray:
        """Class probabilities of stacked windows ``(n, *feature_shape_)``, shape ``(n, n_classes)``."""

    @abstractmethod
    def _parts(self) -> dict:
        """The fitted state as named parts (``Tensors``, scikit-learn objects, JSON values)."""

    @abstractmethod
    def _restore(self, parts: dict) -> None:
        """Set the fitted state from the parts :meth:`_parts` returned."""

    def _fit_augmented(self, clips: list[np.ndarray], y: np.ndarray, copies: list[list[np.ndarray]]) -> None:
        """Learn with augmented ``copies`` of each clip (``copies[i]`` are versions of ``clips[i]``).

        The default trains on the copies as extra clips with their original's
        label; a model with a validation split overrides this to keep the
        copies of a validation clip out of training.
        """
        extra = [c for cs in copies for c in cs]
        self._fit(clips + extra, np.concatenate([y, np.repeat(y, [len(cs) for cs in copies], axis=0)]).astype(y.dtype))

    def check_params(self) -> None:
        """Raise :class:`ParameterError` for a bad parameter value, before any audio work (``fit`` checks again)."""
        check_choice("aggregation", self.aggregation, AGGREGATIONS)
        self._check_open_set()

    def _check_open_set(self) -> None:
        check_choice("calibration", self.calibration, CALIBRATIONS)
        check_choice("reject", self.reject, REJECTIONS)
        rate = self.reject_rate
        if not (isinstance(rate, (int, float)) and not isinstance(rate, bool) and 0 <= rate < 0.5):
            raise ParameterError(f"The 'reject_rate' parameter must be a number in [0, 0.5) (the share of known clips the "
                                 f"'unknown' threshold may reject). Got {rate!r} instead.")

    def check_labels(self, labels) -> None:
        """Raise :class:`ParameterError` if this model cannot learn from ``labels``; cheap, so callers run it before any
        audio work (``fit`` runs it too)."""
        if is_multilabel(labels) and self.reject == "proba":
            raise ParameterError("reject='proba' is for single-label models; a tagger already answers 'none of these' when no tag "
                                 "reaches its threshold (reject='distance' adds a novelty check).")

    def parameter_count(self, feature_shape: tuple[int, ...], n_classes: int) -> int | None:
        """Learned parameters for windows of ``feature_shape`` and ``n_classes`` (None: grows with the data)."""
        return None

    # --- the contract ---------------------------------------------------------------
    def fit(self, X, y, augmented=None, negatives=None, frame_labels=None) -> ClipModel:
        """Fit on clips ``X`` (a sequence of ``(n_windows, *shape)`` arrays, or a 2-D array) with labels ``y``.

        ``augmented``, if given, holds for each clip a list of augmented
        versions of it (clips of the same feature shape, see
        :mod:`earmark.augment`); they train with the clip's label and are
        never used for validation. ``negatives``, clips of sounds that are
        none of the classes, only set the "unknown" threshold (``reject``).
        ``frame_labels`` (strong labels, for a model that ``learns_frames``)
        gives each clip one label per window (``;``-joined tags, ``""`` for
        none); the model becomes a tagger of every tag they name.

        Raises
        ------
        ParameterError
            If ``y`` is missing, continuous or has one class, or ``X`` and ``y`` differ in length.
        """
        check_choice("aggregation", self.aggregation, AGGREGATIONS)
        self._check_open_set()
        if y is None:
            raise ParameterError(f"{type(self).__name__} requires y to be passed, but the target y is None; "
                                 "call fit(X, y) with one label per clip.")
        if _tabular(X):
            X, y = validate_data(self, X, y)
            clips = list(X[:, None, :])
        else:
            clips = as_clips(X)
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if len(clips) != len(y):
            raise ParameterError(f"X has {len(clips)} clips but y has {len(y)} labels; they must match.")
        shapes = {c.shape[1:] for c in clips}
        if len(shapes) != 1:
            raise ParameterError(f"Every clip's windows must have the same feature shape. Got {sorted(shapes)}.")
        if frame_labels is not None:
            self._check_frame_labels(clips, frame_labels, augmented)
        self.multilabel_ = is_multilabel(y) or frame_labels is not None
        if self.multilabel_:
            tags = sorted({t for label in y for t in split_tags(label)} |
                          {t for frames in (frame_labels or []) for label in set(frames) for t in split_tags(label)})
            if not tags:
                raise ParameterError("Every label is empty (no tags); a tagger needs clips that hold at least one tag.")
            self.classes_ = np.array(tags)
            target = tag_matrix(y, tags)
        else:
            encoder = LabelEncoder().fit(y)
            if len(encoder.classes_) < 2:
                raise ParameterError(
                    f"Training needs at least 2 classes. Got 1 class ({', '.join(map(str, encoder.classes_.tolist()))}); "
                    "add clips of another class, or leave the label empty for clips that hold none of the tags."
                )
            self.classes_ = encoder.classes_
            target = encoder.transform(y)
        self.feature_shape_ = tuple(int(d) for d in shapes.pop())
        self.n_features_in_ = int(np.prod(self.feature_shape_))
        self.thresholds_ = np.full(len(self.classes_), 0.5)
        self.calibrator_, self.novelty_, self.reject_threshold_ = None, None, None
        self.check_labels(y)
        copies = None if augmented is None else _copies(augmented, clips, self.feature_shape_)
        if frame_labels is not None:
            self._fit_frames(clips, target, [tag_matrix(np.asarray(f, dtype=object), tags) for f in frame_labels])
        elif copies is None:
            self._fit(clips, target)
        else:
            self._fit_augmented(clips, target, copies)
        held = None
        if self.calibration != "none" or self.reject == "proba":
            held = self._held_out_proba(clips, y, target, copies)
        if self.calibration != "none":
            self._fit_calibration(held, target)
            held = self._calibrate(held)
        if self.multilabel_:
            self.thresholds_ = best_thresholds(self.predict_proba(clips), target)
        if self.reject != "none":
            self._fit_rejection(clips, held, negatives)
        return self

    learns_frames = False  # True for a model that can learn from one label per window (strong labels)
    reads_sequence = False  # True for a model whose window scores depend on the windows around them (a recurrent tagger)
    # how earmark.export builds this model's graph: "head" (a scikit-learn head over the front end's features, converted
    # by skl2onnx; the C export takes some of them), "network" (its torch module, traced); None: it cannot be exported yet
    export_kind: str | None = None

    def _fit_frames(self, clips: list[np.ndarray], y: np.ndarray, frame_targets: list[np.ndarray]) -> None:
        """Learn from each window's tags (``frame_targets[i]``: ``(n_windows, n_tags)`` 0/1); models that ``learns_frames``."""
        raise NotImplementedError

    def _check_frame_labels(self, clips, frame_labels, augmented) -> None:
        if not self.learns_frames:
            raise ParameterError(f"{type(self).__name__} learns from one label per clip; strong labels (one per window) "
                                 "need a frame-level model such as sed-crnn.")
        if augmented is not None:
            raise ParameterError("augmented copies and frame labels cannot be combined (a copy's frames would need labels too).")
        if self.calibration != "none" or self.reject != "none":
            raise ParameterError("calibration and reject are fitted on clip scores of clip-labelled models; leave them out "
                                 "when training on strong (frame) labels.")
        if len(frame_labels) != len(clips) or any(len(f) != len(c) for f, c in zip(frame_labels, clips)):
            raise ParameterError("frame_labels must give every clip one label per window "
                                 f"(clips of {[len(c) for c in clips[:3]]}... windows; got {[len(f) for f in frame_labels[:3]]}...).")

    # --- calibration and "none of these" ------------------------------------------------
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

    def _fit_calibration(self, held: np.ndarray, target: np.ndarray) -> None:
        onehot = target if self.multilabel_ else np.eye(len(self.classes_))[target]
        if self.calibration == "temperature":
            t = openset.fit_temperature(held, target, multilabel=self.multilabel_)
            self.calibrator_ = Tensors(temperature=np.array([t]))
            log.info("calibration: temperature %.3f", t)
        else:
            knots = openset.fit_isotonic(held, onehot)
            self.calibrator_ = Tensors({f"{a}{j}": v for j, xy in enumerate(knots) for a, v in zip("xy", xy)})

    def _calibrate(self, proba: np.ndarray) -> np.ndarray:
        cal = getattr(self, "calibrator_", None)
        if not cal:
            return proba
        if "temperature" in cal:
            return openset.apply_temperature(proba, float(cal["temperature"][0]), multilabel=self.is_tagger)
        knots = [(cal[f"x{j}"], cal[f"y{j}"]) for j in range(len(self.classes_))]
        return openset.apply_isotonic(proba, knots, multilabel=self.is_tagger)

    def _fit_rejection(self, clips, held, negatives) -> None:
        negatives = as_clips(negatives) if negatives is not None and len(negatives) else []
        for c in negatives:
            if c.shape[1:] != self.feature_shape_:
                raise ParameterError(f"negatives hold windows of shape {c.shape[1:]}; the training clips have {self.feature_shape_}.")
        if self.reject == "distance":
            self.novelty_ = Tensors(openset.fit_bank(openset.clip_vectors(clips)))
            known = openset.leave_one_out_similarity(self.novelty_)
        else:
            known = held.max(axis=1)
        neg = self._known_scores(negatives) if negatives else None
        self.reject_threshold_ = openset.choose_threshold(known, neg, float(self.reject_rate))
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
            return openset.similarity(self.novelty_, openset.clip_vectors(as_clips(clips)))
        return (self.predict_proba(clips) if proba is None else proba).max(axis=1)

    def window_proba(self, clip) -> np.ndarray:
        """Class probabilities of every window of one clip, shape ``(n_windows, n_classes)`` (calibrated if fitted so)."""
        check_is_fitted(self, "classes_")
        (clip,) = as_clips([clip])
        return self._calibrate(self._checked_proba(clip))

    def predict_proba(self, X) -> np.ndarray:
        """Clip probabilities, shape ``(n_clips, n_classes)``, columns in ``classes_`` order."""
        check_is_fitted(self, "classes_")
        if _tabular(X):
            clips = list(validate_data(self, X, reset=False)[:, None, :])
        else:
            clips = as_clips(X)
        if not clips:
            return np.zeros((0, len(self.classes_)))
        return self._calibrate(self._clip_proba(clips))

    def _clip_proba(self, clips: list[np.ndarray]) -> np.ndarray:
        """Clip probabilities of checked clips: window scores pooled by ``aggregation`` (a sequence model overrides this)."""
        proba = self._checked_proba(np.concatenate(clips))
        return aggregate_clips(proba, [len(c) for c in clips], self.aggregation, multilabel=self.is_tagger)

    @property
    def is_tagger(self) -> bool:
        """True when fitted on multi-label data (independent tag probabilities)."""
        return bool(getattr(self, "multilabel_", False))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each clip; for a tagger, its tags at or above their thresholds joined by ``;``."""
        proba = self.predict_proba(X)
        if self.is_tagger:
            return np.array([TAG_SEPARATOR.join(self.classes_[row >= self.thresholds_]) for row in proba], dtype=object)
        return self.classes_[proba.argmax(axis=1)]

    def _checked_proba(self, windows: np.ndarray) -> np.ndarray:
        self._check_shape(windows)
        return self._window_proba(windows)

    def _check_shape(self, windows: np.ndarray) -> None:
        if windows.shape[1:] != self.feature_shape_:
            raise ParameterError(
                f"X has {windows.shape[1:]} features per window, but {type(self).__name__} is expecting "
                f"{self.feature_shape_} features as input; use the front end it was trained with."
            )

    # --- persistence ------------------------------------------------------------------
    def fitted_parts(self) -> dict:
        """Named parts of the fitted state, plus ``"fitted"``: classes and shapes as JSON."""
        check_is_fitted(self, "classes_")
        parts = dict(self._parts())
        parts["fitted"] = {"classes": self.classes_.tolist(), "feature_shape": list(self.feature_shape_)}
        if self.is_tagger:
            parts["fitted"] |= {"multilabel": True, "thresholds": [float(t) for t in self.thresholds_]}
        if getattr(self, "calibrator_", None):
            parts["calibration"] = self.calibrator_
        if self.rejects:
            parts["fitted"]["reject_threshold"] = float(self.reject_threshold_)
            if self.novelty_ is not None:
                parts["novelty"] = self.novelty_
        return parts

    def restore_parts(self, parts: dict) -> ClipModel:
        """Set the fitted state from :meth:`fitted_parts` output; returns ``self``."""
        fitted = parts["fitted"]
        self.classes_ = np.asarray(fitted["classes"])
        self.feature_shape_ = tuple(int(d) for d in fitted["feature_shape"])
        self.n_features_in_ = int(np.prod(self.feature_shape_))
        self.multilabel_ = bool(fitted.get("multilabel", False))
        self.thresholds_ = np.asarray(fitted.get("thresholds", [0.5] * len(self.classes_)), dtype=np.float64)
        if self.thresholds_.shape != self.classes_.shape:
            raise ParameterError(f"the 'fitted' part has {len(self.thresholds_)} thresholds for {len(self.classes_)} tags.")
        self.calibrator_ = _tensors(parts.get("calibration"), "calibration") if self.calibration != "none" else None
        if self.calibrator_ is not None and "temperature" not in self.calibrator_ and \
                not all(f"{a}{j}" in self.calibrator_ for j in range(len(self.classes_)) for a in "xy"):
            raise ParameterError(f"the 'calibration' part lacks the isotonic map of some of the {len(self.classes_)} classes.")
        threshold = fitted.get("reject_threshold")
        self.reject_threshold_ = None if self.reject == "none" else float(threshold)
        self.novelty_ = _tensors(parts.get("novelty"), "novelty") if self.reject == "distance" else None
        if self.novelty_ is not None and not {"mean", "scale", "bank"} <= set(self.novelty_):
            raise ParameterError("the 'novelty' part lacks its training-clip bank; retrain.")
        self._restore({k: v for k, v in parts.items() if k not in ("fitted", "calibration", "novelty")})
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _tensors(part, name: str) -> Tensors:
    if not isinstance(part, dict) or not part:
        raise ParameterError(f"the model was fitted with {name} but its '{name}' part is missing.")
    return Tensors({k: np.asarray(v, np.float64) for k, v in part.items()})


def _copies(augmented, clips: list[np.ndarray], shape: tuple[int, ...]) -> list[list[np.ndarray]]:
    """``augmented`` checked: one list of copies per clip, each copy a finite ``(n_windows, *shape)`` array."""
    augmented = list(augmented)
    if len(augmented) != len(clips):
        raise ParameterError(f"augmented has {len(augmented)} entries but X has {len(clips)} clips; give one list of copies per clip.")
    out = []
    for i, cs in enumerate(augmented):
        copies = as_clips(list(cs)) if len(cs) else []
        for c in copies:
            if c.shape[1:] != shape:
                raise ParameterError(f"An augmented copy of clip {i} has windows of shape {c.shape[1:]}; the clips have {shape}.")
        out.append(copies)
    return out


def _tabular(X) -> bool:
    """True for a 2-D table (each row a one-window clip), as scikit-learn passes; False for a sequence of clips."""
    if issparse(X):
        return True
    if isinstance(X, np.ndarray):
        return X.ndim <= 2 and not (X.dtype == object and X.ndim == 1)
    if isinstance(X, (list, tuple)):
        return not X or np.ndim(X[0]) < 2
    return hasattr(X, "__array__") or hasattr(X, "shape")


def as_clips(X) -> list[np.ndarray]:
    """Clips from ``X``: a 2-D array gives one single-window clip per row; else each item is a clip.

    Raises
    ------
    ParameterError
        For empty, non-finite or shapeless clips.
    """
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim < 2:
            raise ValueError(
                f"Expected 2D array, got {X.ndim}D array instead. Reshape your data either using array.reshape(-1, 1) "
                "if your data has a single feature or array.reshape(1, -1) if it contains a single sample."
            )
        if X.ndim == 2:
            X = X[:, None, :]
    if isinstance(X, str):
        raise ParameterError("X must be clips of window features, not a string; pass audio files to Model.predict instead.")
    try:
        clips = [np.asarray(c, dtype=np.float32) for c in X]
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"X must be a sequence of (n_windows, *shape) arrays of numbers ({exc}).") from None
    if not clips:
        if isinstance(X, np.ndarray):
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
        return clips
    for i, c in enumerate(clips):
        if c.ndim == 1:
            clips[i] = c = c[None, :]
        if c.ndim < 2 or len(c) == 0 or c.shape[1] == 0:
            raise ValueError(f"Clip {i} of X must be a non-empty (n_windows, *shape) array. Got shape {c.shape}; 0 feature(s) is not allowed.")
        if not np.isfinite(c).all():
            raise ValueError(f"Clip {i} of X contains NaN or infinity; clean the features first.")
    return clips
