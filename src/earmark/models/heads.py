"""scikit-learn classifiers on window embeddings, with clip-level aggregation."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from earmark.errors import ParameterError, check_choice
from earmark.models.aggregation import AGGREGATIONS, aggregate_clips
from earmark.threads import single_blas_thread

CLASSIFIERS = ("logreg", "svm", "knn", "rf", "mlp")


def make_head(name: str, *, random_state: int | None = 0, **params) -> Pipeline:
    """A standardising scikit-learn pipeline for classifier ``name``.

    ``knn`` is 1-nearest-neighbour unless ``n_neighbors`` is given (the
    baseline of the field); ``svm`` is an RBF SVM with probability outputs.
    """
    check_choice("classifier", name, CLASSIFIERS)
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(**{"max_iter": 2000, "C": 0.1, **params})
    elif name == "svm":
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC

        # Platt-scaled probabilities, the replacement for SVC(probability=True)
        clf = CalibratedClassifierCV(SVC(**{"C": 10.0, "random_state": random_state, **params}), ensemble=False, cv=3)
    elif name == "knn":
        from sklearn.neighbors import KNeighborsClassifier

        clf = KNeighborsClassifier(**{"n_neighbors": 1, **params})
    elif name == "rf":
        from sklearn.ensemble import RandomForestClassifier

        clf = RandomForestClassifier(**{"n_estimators": 300, "random_state": random_state, "n_jobs": -1, **params})
    else:
        from sklearn.neural_network import MLPClassifier

        clf = MLPClassifier(**{"hidden_layer_sizes": (256,), "max_iter": 500, "alpha": 1e-3, "random_state": random_state, **params})
    return make_pipeline(StandardScaler(), clf)


class EmbeddingClassifier(ClassifierMixin, BaseEstimator):
    """Classify clips from their window embeddings.

    Each clip is an array of window vectors ``(n_windows, dims)``; every window
    inherits its clip's label for training, and window probabilities are
    aggregated back to one prediction per clip. ``X`` may also be a 2-D array
    (one window per clip), so the estimator works in ``Pipeline`` and
    ``cross_val_score``.

    Parameters
    ----------
    classifier : {"logreg", "svm", "knn", "rf", "mlp"}
    aggregation : {"mean", "vote", "max"}
    classifier_params : dict or None
        Extra keyword arguments for the scikit-learn classifier.
    random_state : int or None

    Attributes
    ----------
    classes_ : np.ndarray [shape=(n_classes,)]
    head_ : sklearn.pipeline.Pipeline
    """

    def __init__(self, classifier: str = "logreg", *, aggregation: str = "mean", classifier_params: dict | None = None, random_state: int | None = 0) -> None:
        self.classifier = classifier
        self.aggregation = aggregation
        self.classifier_params = classifier_params
        self.random_state = random_state

    def fit(self, X, y) -> EmbeddingClassifier:
        """Fit on clips ``X`` (sequence of ``(n_windows, dims)`` arrays) with labels ``y``."""
        check_choice("aggregation", self.aggregation, AGGREGATIONS)
        clips = _as_clips(X)
        y = np.asarray(y)
        if len(clips) != len(y):
            raise ParameterError(f"X has {len(clips)} clips but y has {len(y)} labels; they must match.")
        self._encoder = LabelEncoder().fit(y)
        self.classes_ = self._encoder.classes_
        if len(self.classes_) < 2:
            raise ParameterError(f"Training needs at least 2 classes. Got {len(self.classes_)} ({list(self.classes_)}); add clips of another class.")
        windows = np.concatenate(clips)
        labels = np.repeat(self._encoder.transform(y), [len(c) for c in clips])
        self.head_ = make_head(self.classifier, random_state=self.random_state, **(self.classifier_params or {}))
        with single_blas_thread():  # 8x faster on these sizes, see earmark.threads
            self.head_.fit(windows, labels)
        self.n_features_in_ = windows.shape[1]
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Clip probabilities, shape ``(n_clips, n_classes)``, columns in ``classes_`` order."""
        check_is_fitted(self, "head_")
        clips = _as_clips(X)
        if not clips:
            return np.zeros((0, len(self.classes_)))
        windows = np.concatenate(clips)
        if windows.shape[1] != self.n_features_in_:
            raise ParameterError(f"Embeddings have {windows.shape[1]} dims but the classifier was trained on {self.n_features_in_}; use the same embedder.")
        window_proba = np.zeros((len(windows), len(self.classes_)))
        with single_blas_thread():
            window_proba[:, self.head_.classes_] = self.head_.predict_proba(windows)
        return aggregate_clips(window_proba, [len(c) for c in clips], self.aggregation)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each clip."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _as_clips(X) -> list[np.ndarray]:
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim != 2:
            raise ParameterError(f"X must be a 2-D array or a sequence of 2-D arrays. Got an array of shape {X.shape} instead.")
        return list(X[:, None, :].astype(np.float32))
    clips = [np.atleast_2d(np.asarray(c, dtype=np.float32)) for c in X]
    for i, c in enumerate(clips):
        if c.ndim != 2 or len(c) == 0 or not np.isfinite(c).all():
            raise ParameterError(f"Clip {i} of X must be a non-empty, finite (n_windows, dims) array. Got shape {c.shape}.")
    return clips
