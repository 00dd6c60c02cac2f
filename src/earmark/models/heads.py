"""scikit-learn classifiers on window embeddings: the embedding heads."""

from __future__ import annotations

import inspect
import json

import numpy as np
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from earmark.errors import ParameterError, check_choice, check_number
from earmark.models.base import MAX_WIDTH, ClipModel, Tensors
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
    hidden = (params or {}).get("hidden_layer_sizes")
    if hidden is not None:  # the one size a head's file can claim: bounded, so no model file can ask for gigabytes
        sizes = [hidden] if isinstance(hidden, int) else hidden
        if not isinstance(sizes, (list, tuple)) or not 1 <= len(sizes) <= 8:
            raise ParameterError(f"The 'hidden_layer_sizes' parameter must be 1 to 8 layer sizes. Got {hidden!r} instead.")
        for size in sizes:
            check_number("hidden_layer_sizes", size, low=1, high=MAX_WIDTH, integer=True)
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


# A standardised logistic regression or MLP, the heads most models use, is
# stored as its arrays and a JSON description rather than through skops:
# loading skops walks all of scikit-learn's estimators (0.5 s of every
# ``earmark predict``), and arrays load in microseconds. Rebuilding sets the
# fitted attributes that prediction, export and refitting read.
_ARRAY_HEADS = {"LogisticRegression": "logreg", "MLPClassifier": "mlp"}


def head_state(head) -> tuple[Tensors, dict] | None:
    """``(arrays, config)`` for a fitted standardise + logreg/mlp pipeline, or None for any other head."""
    if not isinstance(head, Pipeline) or len(head.steps) != 2 or type(head.steps[0][1]) is not StandardScaler:
        return None
    scaler, clf = head.steps[0][1], head.steps[1][1]
    kind = _ARRAY_HEADS.get(type(clf).__name__)
    params = clf.get_params(deep=False)
    tuples = sorted(k for k, v in params.items() if isinstance(v, tuple))  # hidden_layer_sizes: JSON makes them lists
    if kind is None or _untuple(json.loads(json.dumps(params, default=repr)), tuples) != params:  # e.g. class_weight with int keys
        return None
    arrays = {"scaler.mean": scaler.mean_, "scaler.scale": scaler.scale_, "scaler.var": scaler.var_, "classes": clf.classes_}
    config = {"estimator": kind, "params": params, "tuple_params": tuples, "scaler_params": scaler.get_params(deep=False),
              "steps": [name for name, _ in head.steps], "n_samples_seen": int(np.max(scaler.n_samples_seen_)),
              "n_iter": np.asarray(clf.n_iter_).tolist()}
    if kind == "logreg":
        arrays |= {"coef": clf.coef_, "intercept": clf.intercept_}
    else:
        arrays |= {f"coef.{i}": w for i, w in enumerate(clf.coefs_)} | {f"intercept.{i}": b for i, b in enumerate(clf.intercepts_)}
        config |= {"out_activation": clf.out_activation_, "n_outputs": int(clf.n_outputs_), "loss": float(clf.loss_)}
    if arrays["classes"].dtype.kind not in "iub":
        return None  # heads are trained on class indices; anything else keeps skops
    return Tensors({k: np.asarray(v) for k, v in arrays.items()}), config


def _untuple(params: dict, names: list[str]) -> dict:
    return {k: tuple(v) if k in names and isinstance(v, list) else v for k, v in params.items()}


def head_from_state(arrays: dict, config: dict | None) -> Pipeline:
    """The pipeline :func:`head_state` described, with its fitted attributes set."""
    # fresh copies: arrays read from a file are views at whatever alignment the
    # file gave them, and BLAS picks its kernels (and so its last-bit rounding)
    # by alignment: the same head must give the same scores in every process
    arrays = {k: np.array(v, copy=True) for k, v in arrays.items()}
    try:
        kind, n_features = config["estimator"], len(arrays["scaler.mean"])
        cls, _ = _estimator_class(kind)
        scaler = StandardScaler(**config["scaler_params"])
        scaler.mean_, scaler.scale_, scaler.var_ = arrays["scaler.mean"], arrays["scaler.scale"], arrays["scaler.var"]
        scaler.n_samples_seen_, scaler.n_features_in_ = config["n_samples_seen"], n_features
        clf = cls(**_untuple(config["params"], config.get("tuple_params", [])))
        clf.classes_, clf.n_features_in_ = arrays["classes"], n_features
        clf.n_iter_ = np.asarray(config["n_iter"]) if kind == "logreg" else int(config["n_iter"])
        if kind == "logreg":
            clf.coef_, clf.intercept_ = arrays["coef"], arrays["intercept"]
        else:
            from sklearn.preprocessing import LabelBinarizer

            layers = sum(1 for k in arrays if k.startswith("coef."))
            clf.coefs_ = [arrays[f"coef.{i}"] for i in range(layers)]
            clf.intercepts_ = [arrays[f"intercept.{i}"] for i in range(layers)]
            clf.n_layers_, clf.n_outputs_, clf.out_activation_ = layers + 1, config["n_outputs"], config["out_activation"]
            clf.loss_, clf._label_binarizer = config["loss"], LabelBinarizer().fit(clf.classes_)
            if any(w.shape[0] != b.shape[0] for w, b in zip(clf.coefs_[1:], clf.intercepts_)) or clf.coefs_[0].shape[0] != n_features:
                raise ValueError("layer shapes do not chain")
        return Pipeline(list(zip(config["steps"], (scaler, clf))))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ParameterError(f"the 'head_arrays' and 'head_config' parts do not describe a head ({type(exc).__name__}: {exc}).") from None


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

    export_kind = "head"

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
        state = head_state(self.head_)
        if state is None:  # svm, knn, rf, one-vs-rest taggers, or parameters JSON cannot hold: skops
            return {"head": self.head_}
        arrays, config = state
        return {"head_arrays": arrays, "head_config": config}

    def _restore(self, parts: dict) -> None:
        if "head_arrays" in parts:
            self.head_ = head_from_state(parts["head_arrays"], parts.get("head_config"))
            return
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
