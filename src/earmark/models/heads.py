"""scikit-learn classifiers on window embeddings: the embedding heads."""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from earmark.errors import ParameterError, check_choice
from earmark.models.base import ClipModel
from earmark.threads import single_blas_thread

CLASSIFIERS = ("logreg", "svm", "knn", "rf", "mlp")


def _estimator_class(name: str):
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression, {"max_iter": 2000, "C": 0.1}
    if name == "svm":
        from sklearn.svm import SVC

        return SVC, {"C": 10.0}
    if name == "knn":
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier, {"n_neighbors": 1}
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier, {"n_estimators": 300, "n_jobs": -1}
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier, {"hidden_layer_sizes": (256,), "max_iter": 500, "alpha": 1e-3}


def check_head_params(name: str, params: dict | None) -> dict:
    """Return ``params`` if classifier ``name`` accepts every key, else raise :class:`ParameterError`."""
    check_choice("classifier", name, CLASSIFIERS)
    cls, _ = _estimator_class(name)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(params or {}) - accepted)
    if unknown:
        raise ParameterError(
            f"The 'classifier_params' parameter holds {', '.join(map(repr, unknown))}, which {cls.__name__} ({name}) "
            f"does not take; use some of: {', '.join(sorted(accepted))}."
        )
    return dict(params or {})


def make_head(name: str, *, random_state: int | None = 0, **params) -> Pipeline:
    """A standardising scikit-learn pipeline for classifier ``name``.

    ``knn`` is 1-nearest-neighbour unless ``n_neighbors`` is given (the
    baseline of the field); ``svm`` is an RBF SVM with Platt-scaled
    probabilities (``CalibratedClassifierCV``).
    """
    check_head_params(name, params)
    cls, defaults = _estimator_class(name)
    if "random_state" in inspect.signature(cls.__init__).parameters:
        defaults = {**defaults, "random_state": random_state}
    clf = cls(**{**defaults, **params})
    if name == "svm":
        from sklearn.calibration import CalibratedClassifierCV

        clf = CalibratedClassifierCV(clf, ensemble=False, cv=3)
    return make_pipeline(StandardScaler(), clf)


class EmbeddingClassifier(ClipModel):
    """Classify clips from their window embeddings with a scikit-learn classifier.

    Every window inherits its clip's label for training; window
    probabilities are aggregated back to one prediction per clip. On
    multi-label data the classifier becomes one-vs-rest, one binary
    classifier per tag.

    Parameters
    ----------
    classifier : {"logreg", "svm", "knn", "rf", "mlp"}
    aggregation : {"mean", "vote", "max"}
    classifier_params : dict or None
        Extra keyword arguments for the scikit-learn classifier.
    augment : str or None
        Waveform augmentation of the training clips (``"pitch,noise,copies=4"``,
        see :mod:`earmark.augment`): augmented copies are embedded and added to
        the training set by ``train``, ``evaluate``, ``curve`` and ``compare``.
    calibration, reject, reject_rate
        Calibrated probabilities and a "none of these" threshold (see :mod:`earmark.models.openset`).
    random_state : int or None

    Attributes
    ----------
    classes_ : np.ndarray [shape=(n_classes,)]
    head_ : sklearn.pipeline.Pipeline
    """

    def __init__(self, classifier: str = "logreg", *, aggregation: str = "mean", classifier_params: dict | None = None,
                 augment: str | None = None, calibration: str = "none", reject: str = "none", reject_rate: float = 0.05,
                 random_state: int | None = 0) -> None:
        self.classifier = classifier
        self.aggregation = aggregation
        self.classifier_params = classifier_params
        self.augment = augment
        self.calibration = calibration
        self.reject = reject
        self.reject_rate = reject_rate
        self.random_state = random_state

    def check_params(self) -> None:
        super().check_params()
        check_head_params(self.classifier, self.classifier_params)
        from earmark.augment import SPECTRAL, augment_options, parse_augment

        parse_augment(self.augment)
        on_inputs = [n for n in augment_options(self.augment) if n in SPECTRAL]
        if on_inputs:
            raise ParameterError(f"The 'augment' parameter's {' and '.join(on_inputs)} work on a network's input patches; an embedding "
                                 "head takes waveform augmentation (shift, stretch, pitch, gain, noise, background=DIR).")

    def _fit(self, clips, y) -> None:
        self.check_params()
        windows = np.concatenate(clips).reshape(sum(len(c) for c in clips), -1)
        labels = np.repeat(y, [len(c) for c in clips], axis=0)
        self.head_ = make_head(self.classifier, random_state=self.random_state, **(self.classifier_params or {}))
        if self.is_tagger and labels.shape[1] == 1:  # one tag: one binary classifier (present or not)
            labels = labels[:, 0]
        elif self.is_tagger:  # one binary classifier per tag
            from sklearn.multiclass import OneVsRestClassifier

            name, clf = self.head_.steps[-1]
            self.head_.steps[-1] = (name, OneVsRestClassifier(clf))
        with single_blas_thread():  # 8x faster on these sizes, see earmark.threads
            self.head_.fit(windows, labels)

    def _window_proba(self, windows: np.ndarray) -> np.ndarray:
        proba = np.zeros((len(windows), len(self.classes_)))
        with single_blas_thread():
            scores = self.head_.predict_proba(windows.reshape(len(windows), -1))
        if self.is_tagger and len(self.classes_) == 1:
            present = np.flatnonzero(self.head_.classes_ == 1)
            return scores[:, present].astype(np.float64) if len(present) else np.zeros((len(windows), 1))
        if self.is_tagger:
            return np.asarray(scores, dtype=np.float64)
        proba[:, self.head_.classes_] = scores
        return proba

    def _parts(self) -> dict:
        return {"head": self.head_}

    def _restore(self, parts: dict) -> None:
        head = parts["head"]
        if not isinstance(head, Pipeline) or not hasattr(head, "predict_proba"):
            raise ParameterError(f"the 'head' part is a {type(head).__name__}, not a fitted scikit-learn pipeline.")
        self.head_ = head

    def parameter_count(self, feature_shape: tuple[int, ...], n_classes: int) -> int | None:
        n_features = int(np.prod(feature_shape))
        if self.classifier == "logreg":
            return (n_features + 1) * (n_classes if n_classes > 2 else 1) + 2 * n_features
        if self.classifier == "mlp":
            hidden = (self.classifier_params or {}).get("hidden_layer_sizes", (256,))
            sizes = [n_features, *hidden, n_classes]
            return sum((a + 1) * b for a, b in zip(sizes, sizes[1:])) + 2 * n_features
        return None  # knn keeps the training windows, svm its support vectors, rf its trees
