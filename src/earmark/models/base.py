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
  scores of the training clips: the :class:`~earmark.models.openset.OpenSet`
  mixin, with its own steps and parts (a model declares the three
  parameters in its ``__init__``, scikit-learn's rule, or has neither);
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
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from earmark.errors import ParameterError, check_choice
from earmark.models.aggregation import AGGREGATIONS, aggregate_clips
from earmark.models.clips import TAG_SEPARATOR, as_clips, best_thresholds, is_multilabel, split_tags, tabular, tag_matrix
from earmark.models.openset import MAX_BANK_ROWS, OpenSet
from earmark.persistence import Tensors

__all__ = ["MAX_EPOCHS", "MAX_WIDTH", "TAG_SEPARATOR", "ClipModel", "Tensors", "as_clips", "best_thresholds", "is_multilabel",
           "split_tags", "tag_matrix", "tensor_budget"]

log = logging.getLogger(__name__)

MAX_WIDTH = 8192  # the widest layer (units, channels, dimensions) a model here may ask for
MAX_EPOCHS = 100_000


class ClipModel(OpenSet, ClassifierMixin, BaseEstimator, metaclass=ABCMeta):
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

    def check_labels(self, labels) -> None:
        """Raise :class:`ParameterError` if this model cannot learn from ``labels``; cheap, so callers run it before any
        audio work (``fit`` runs it too)."""
        self._check_open_set_labels(is_multilabel(labels))

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
        if tabular(X):
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
        self._reset_open_set()
        self.check_labels(y)
        copies = None if augmented is None else _copies(augmented, clips, self.feature_shape_)
        if frame_labels is not None:
            self._fit_frames(clips, target, [tag_matrix(np.asarray(f, dtype=object), tags) for f in frame_labels])
        elif copies is None:
            self._fit(clips, target)
        else:
            self._fit_augmented(clips, target, copies)
        held = self._fit_calibration_step(clips, y, target, copies)
        if self.multilabel_:
            self.thresholds_ = best_thresholds(self.predict_proba(clips), target)
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
        self._check_open_set_frames()
        if len(frame_labels) != len(clips) or any(len(f) != len(c) for f, c in zip(frame_labels, clips)):
            raise ParameterError("frame_labels must give every clip one label per window "
                                 f"(clips of {[len(c) for c in clips[:3]]}... windows; got {[len(f) for f in frame_labels[:3]]}...).")

    def window_proba(self, clip) -> np.ndarray:
        """Class probabilities of every window of one clip, shape ``(n_windows, n_classes)`` (calibrated if fitted so)."""
        check_is_fitted(self, "classes_")
        (clip,) = as_clips([clip])
        return self._calibrate(self._checked_proba(clip))

    def predict_proba(self, X) -> np.ndarray:
        """Clip probabilities, shape ``(n_clips, n_classes)``, columns in ``classes_`` order."""
        check_is_fitted(self, "classes_")
        if tabular(X):
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
        own, fitted = self._open_set_parts()
        parts["fitted"] |= fitted
        return parts | own

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
        self._restore_open_set(parts, fitted)
        self._restore({k: v for k, v in parts.items() if k != "fitted" and k not in self.OWN_PARTS})
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def tensor_budget(meta: dict, feature_shape: tuple[int, ...], estimator: ClipModel) -> int:
    """The most bytes of tensor data a model of this description can hold: its architecture's parameters (twice over,
    for buffers and optimiser-free extras), standardisation and calibration arrays, and the open-set bank of one
    vector per training clip and negative; all as float64, with 1 MiB to spare."""
    features = int(np.prod(feature_shape))
    n_classes = len(meta["classes"])
    try:
        params = estimator.parameter_count(tuple(feature_shape), n_classes) or 0
    except Exception:  # noqa: BLE001 - an architecture that cannot be built is refused by restore, with its reason
        params = 0
    info = meta.get("info") if isinstance(meta.get("info"), dict) else {}
    data = info.get("data") if isinstance(info.get("data"), dict) else {}
    open_set = info.get("open_set") if isinstance(info.get("open_set"), dict) else {}
    rows = sum(v for v in (data.get("n_files"), open_set.get("n_negatives")) if isinstance(v, int) and v > 0)
    rows = min(rows, MAX_BANK_ROWS)
    elements = 2 * params + 4 * features + n_classes * (features + 2048) + (rows + 2) * features
    return 8 * elements + (1 << 20)


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
