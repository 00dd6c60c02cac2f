"""Trainable models by name: ``get_model("logreg")``, ``register_model(...)``.

A registry entry names a factory of :class:`~earmark.models.base.ClipModel`
estimators, what kind of model it is, and its front end: ``None`` for a
head that runs on whichever embedder the user picks (``--embedder``), or
the name of the front end the model always needs. Adding a model is one
module and one :func:`register_model` call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import inspect
from functools import partial

from earmark.errors import ParameterError, did_you_mean
from earmark.plugins import Registry
from earmark.models.base import ClipModel
from earmark.models.heads import CLASSIFIERS, EmbeddingClassifier
from earmark.models.finetune import BACKBONES, FinetuneClassifier
from earmark.models.network import NetworkClassifier
from earmark.models.metric import MetricEmbedding
from earmark.models.sed import SedClassifier
from earmark.models.tagger import TaggerClassifier

DEFAULT_MODEL = "logreg"


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its name, factory, kind and front end."""

    name: str
    factory: Callable[..., ClipModel]
    kind: str
    front_end: str | Callable[[dict], str] | None = None
    description: str = ""

    def front_end_for(self, params: dict) -> str | None:
        """The front end this model runs on with ``params`` (an ensemble's depends on its members); ``None``: the
        embedder the user picks."""
        return self.front_end(params) if callable(self.front_end) else self.front_end


MODELS: dict[str, ModelSpec] = Registry()  # the plug-ins' models join on first read (earmark.plugins)


def register_model(name: str, factory: Callable[..., ClipModel], *, kind: str, front_end: str | Callable[[dict], str] | None = None,
                   description: str = "", replace: bool = False) -> ModelSpec:
    """Make ``factory`` available as model ``name`` everywhere (train, evaluate, curve, compare, model files).

    Raises
    ------
    ParameterError
        If ``name`` is taken (unless ``replace``) or is not a plain name.
    """
    if not name or any(ch in name for ch in ",+ /"):
        raise ParameterError(f"Model name {name!r} must be non-empty without commas, '+', spaces or slashes.")
    if dict.__contains__(MODELS, name) and not replace:  # (not through the plug-ins: they may be registering)
        raise ParameterError(f"A model named {name!r} is already registered; pick another name.")
    MODELS[name] = spec = ModelSpec(name, factory, kind, front_end, description)
    return spec


def unregister_model(name: str) -> None:
    """Remove model ``name`` (for tests and plug-ins that register temporarily)."""
    MODELS.pop(name, None)


# what newcomers call the models (scikit-learn's and the field's names), for "did you mean"
ALIASES = {"tree": "rf", "trees": "rf", "forest": "rf", "random-forest": "rf", "randomforest": "rf", "lr": "logreg",
           "logistic": "logreg", "logistic-regression": "logreg", "logisticregression": "logreg", "svc": "svm",
           "nn": "knn", "1-nn": "knn", "nearest-neighbour": "knn", "nearest-neighbor": "knn", "kneighbors": "knn",
           "neural-network": "mlp", "perceptron": "mlp", "finetune": "finetune:aisfx", "fine-tune": "finetune:aisfx"}


def model_spec(name: str) -> ModelSpec:
    """The registry entry for ``name``.

    Raises
    ------
    ParameterError
        Listing the registered names if ``name`` is unknown.
    """
    if name not in MODELS:
        raise ParameterError(f"The 'model' parameter must be one of {', '.join(MODELS)}. Got {name!r} instead."
                             f"{did_you_mean(name, MODELS, ALIASES)} See 'earmark models'.")
    return MODELS[name]


def get_model(name: str, **params) -> ClipModel:
    """A fresh, unfitted estimator of model ``name`` with ``params`` set."""
    return set_model_params(model_spec(name).factory(), name, params)


def set_model_params(estimator: ClipModel, name: str, params: dict) -> ClipModel:
    """Set ``params`` on ``estimator`` (called ``name`` in messages); unknown keys are refused, listing the known ones."""
    if params:
        accepted = estimator.get_params(deep=False)
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise ParameterError(f"Model {name!r} takes no parameter {', '.join(map(repr, unknown))}; it takes {', '.join(sorted(accepted))}.")
        estimator.set_params(**params)
    return estimator


def split_models(value: str) -> list[str]:
    """``"sbcnn,sbcnn[augment=pitch,mixup; max_epochs=20]"`` -> the two model texts (commas inside brackets kept)."""
    return [v.strip() for v in _split_outside_brackets(value, ",") if v.strip()]


def parse_model(text: str) -> tuple[str, dict]:
    """``"sbcnn[augment=specaugment,mixup; max_epochs=20]"`` -> ``("sbcnn", {"augment": "specaugment,mixup", "max_epochs": 20})``.

    Options go in brackets after the name, separated by ``;``; numbers,
    ``true``/``false`` and ``none`` are read as such, anything else is text.

    Raises
    ------
    ParameterError
        For unbalanced brackets or an option without ``=``.
    """
    text = text.strip()
    if "[" not in text and "]" not in text:
        return text, {}
    name, _, rest = text.partition("[")
    if not rest.endswith("]") or not _balanced(rest[:-1]):
        raise ParameterError(f"Model {text!r} must be NAME[option=value; option=value] with one pair of brackets at the end.")
    params = {}
    for item in _split_outside_brackets(rest[:-1], ";"):
        if not item.strip():
            continue
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ParameterError(f"Model {text!r}: option {item.strip()!r} must be written option=value.")
        params[key.strip()] = _value(value.strip())
    return name.strip(), params


def _balanced(text: str) -> bool:
    """True when every bracket in ``text`` closes, in order (an ensemble's members carry their own options)."""
    depth = 0
    for ch in text:
        depth += (ch == "[") - (ch == "]")
        if depth < 0:
            return False
    return depth == 0


def _split_outside_brackets(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` where no bracket is open."""
    out, depth, cur = [], 0, []
    for ch in text:
        depth += (ch == "[") - (ch == "]")
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    return out + ["".join(cur)]


def _value(text: str):
    lowered = text.lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def model_name(estimator: ClipModel) -> str:
    """The registered name whose factory builds estimators like ``estimator``.

    A factory that is a class matches its instances; a ``partial(cls, value)``
    (the heads, the networks) matches instances of ``cls`` whose first
    constructor parameter holds ``value``.
    """
    for spec in MODELS.values():
        factory = spec.factory
        if isinstance(factory, partial):
            first = next(iter(inspect.signature(factory.func).parameters))  # the constructor's first parameter
            if type(estimator) is factory.func and factory.args and estimator.get_params(deep=False).get(first) == factory.args[0]:
                return spec.name
        elif factory is type(estimator):
            return spec.name
    raise ParameterError(f"{type(estimator).__name__} is not a registered model; register it with earmark.models.register_model.")


_HEADS = {
    "logreg": "logistic regression (C = 0.1) on standardised embeddings",
    "svm": "RBF support-vector machine (C = 10), Platt-scaled",
    "knn": "1-nearest neighbour, the field's baseline",
    "rf": "random forest, 300 trees",
    "mlp": "one hidden layer of 256 units",
}
for _name in CLASSIFIERS:
    register_model(_name, partial(EmbeddingClassifier, _name), kind="embedding head", description=_HEADS[_name])

_NETWORKS = {
    "sbcnn": "Salamon & Bello's SB-CNN: three 5x5 conv layers, max-pooling, a dense layer (trained here)",
    "vgg-small": "five 3x3 conv layers with batch norm and 2x2 max-pooling (trained here)",
    "timbre": "one conv layer of tall filters over 90% of the mel bands, max-pooled (trained here)",
    "crnn": "conv blocks over frequency, then a bidirectional GRU over time (trained here)",
    "kws-crnn": "a small keyword-spotting CRNN (Arik et al. 2017): a strided conv layer, two GRU layers, on 1-s 40-band "
                "log-mel patches at 16 kHz (trained here)",
    "wavecnn": "raw-waveform 1-D CNN in the style of M5, on 8 kHz samples (trained here)",
}
_NETWORK_FRONT_ENDS = {"wavecnn": "wave", "kws-crnn": "kws-mel"}
for _name, _what in _NETWORKS.items():
    register_model(_name, partial(NetworkClassifier, _name), kind="network", front_end=_NETWORK_FRONT_ENDS.get(_name, "logmel"),
                   description=_what)

for _name, _backbone in BACKBONES.items():
    register_model(f"finetune:{_name}", partial(FinetuneClassifier, _name), kind="fine-tuned network", front_end=_backbone.front_end,
                   description=f"the pretrained {_name} network with a new head; its last block and the head trained here")

register_model("lstm-tagger", TaggerClassifier, kind="recurrent tagger", front_end="mfcc-frames",
               description="Diment & Virtanen's weak-label tagger: 2 LSTM layers of 100 units on 20 MFCCs per frame, frame scores "
                           "pooled per clip; transfer from a source tagger (pretrained=, transfer=all|freeze-low|parallel-low)")

register_model("sed-crnn", SedClassifier, kind="event detector", front_end="mel-frames",
               description="a DCASE-style CRNN over 64 log-mel bands every 20 ms: one score per tag and frame, trained on "
                           "strong labels (train --labels: each event's onset and offset) or on clip tags (weak)")
register_model("metric", MetricEmbedding, kind="metric embedding",
               description="a projection of the embedder's vectors trained with triplet loss and a batch-hard miner (or "
                           "ArcFace): unseen classes, such as new voices, are told apart by cosine (embed_clips)")
