"""``ensemble``: a clip model that combines other models' clip probabilities.

Members may be any single-label clip models on any front ends: embedding
heads, networks trained here, fine-tuned networks. They are written
``MODEL`` or ``MODEL@FRONT_END`` (a head's front end; ``aisfx`` if left out),
with their own options in brackets::

    ensemble[members=logreg@aisfx, svm@speech, finetune:aisfx[augment=gain,noise]; combine=stack]

The ensemble's front end is the fusion of its members' distinct front ends
in the order they first appear (``aisfx+speech+aisfx-mel``, see
:mod:`earmark.embeddings.fusion`): each window holds every part, the first
member's front end sets the timeline, and each member is given its own part
of every window, reshaped to its front end's feature shape. Each member
pools its own windows into clip probabilities (its own ``aggregation``);
the ensemble combines those:

- ``mean``: the members' probabilities averaged;
- ``weighted``: a weighted average, the weights chosen to minimise the log
  loss of **held-out** probabilities of the training clips (every clip
  scored by members fitted without it, ``folds``-fold);
- ``stack``: a logistic regression on the members' held-out log
  probabilities (stacking; Wolpert 1992), so no clip's own label ever
  reaches the combiner through a member that saw it.

The same combination applies to window scores (``detect``, ``listen``).
The fitted state is every member's parts under ``members/K/`` and the
combiner as arrays; nothing is pickled. The module registers ``ensemble``
itself (it builds its members through the registry, so the registry cannot
import it); :mod:`earmark.models` imports it.
"""

from __future__ import annotations

import logging

import numpy as np

from earmark.errors import ParameterError, check_choice, check_number
from earmark.models.base import ClipModel, Tensors
from earmark.models.network import store_params
from earmark.models.registry import get_model, model_spec, parse_model, register_model, set_model_params, split_models

log = logging.getLogger(__name__)

COMBINERS = ("mean", "weighted", "stack")
MAX_MEMBERS = 16
_EPS = 1e-7


def parse_members(text) -> list[tuple[str, str, str]]:
    """``"logreg@aisfx, finetune:aisfx[max_epochs=5]"`` -> ``[(model text, registry name, front end), ...]``.

    Raises
    ------
    ParameterError
        For an empty list, too many members, an unknown model or front end,
        a front end given to a model that has its own, or a member that
        cannot be ensembled (another ensemble, a sequence or frame model).
    """
    from earmark.embeddings import DEFAULT_EMBEDDER

    if not isinstance(text, str) or not split_models(text):
        raise ParameterError("An ensemble's members= must list the models to combine, e.g. "
                             "ensemble[members=logreg@aisfx, finetune:aisfx].")
    out = []
    for item in split_models(text):
        model, at, front = _split_front_end(item)
        model, front = model.strip(), front.strip()
        try:
            base = parse_model(model)[0]
            spec = model_spec(base)
        except ParameterError as exc:
            raise ParameterError(f"Ensemble member {item!r}: {exc}") from None
        if spec.kind == "ensemble":
            raise ParameterError(f"Ensemble member {item!r}: an ensemble cannot hold another; list its members instead.")
        own = spec.front_end if isinstance(spec.front_end, str) else None
        if own and at and front != own:
            raise ParameterError(f"Ensemble member {item!r}: {base} always runs on {own}; write it without '@{front}'.")
        if "[" in front or "]" in front:
            raise ParameterError(f"Ensemble member {item!r}: the front end comes last and the model's options go before it: "
                                 f"{model}[{front.partition('[')[2].rstrip(']')}]@{front.partition('[')[0]}.")
        if at and not front:
            raise ParameterError(f"Ensemble member {item!r}: name a front end after '@' (e.g. {base}@aisfx).")
        out.append((model, base, own or front or DEFAULT_EMBEDDER))
    if len(out) > MAX_MEMBERS:
        raise ParameterError(f"An ensemble's members= lists {len(out)} models; an ensemble takes at most {MAX_MEMBERS}.")
    if len(out) < 2:
        raise ParameterError(f"An ensemble's members= lists {len(out)} model; an ensemble combines at least 2 "
                             "(members=logreg@aisfx, svm@speech).")
    return out


def _split_front_end(item: str) -> tuple[str, str, str]:
    """``"svm[C=1]@speech"`` -> ``("svm[C=1]", "@", "speech")``: at the last ``@`` outside brackets, if any."""
    depth, at = 0, -1
    for i, ch in enumerate(item):
        depth += (ch == "[") - (ch == "]")
        if ch == "@" and depth == 0:
            at = i
    return (item[:at], "@", item[at + 1:]) if at >= 0 else (item, "", "")


def ensemble_front_end(params: dict) -> str:
    """The front end an ensemble with ``params`` runs on: its members' distinct front ends joined by ``+``."""
    members = params.get("members", EnsembleClassifier().members)
    return "+".join(dict.fromkeys(front for _, _, front in parse_members(members)))


class EnsembleClassifier(ClipModel):
    """Several clip models, each on its own front end, combined into one.

    Parameters
    ----------
    members : str
        The models, comma-separated: ``MODEL`` or ``MODEL@FRONT_END``, each with its options in brackets.
    combine : {"mean", "weighted", "stack"}
        How the members' clip probabilities combine (see the module docstring).
    folds : int
        Folds of the held-out scores that ``weighted`` and ``stack`` learn from (at most the smallest class's count).
    C : float
        Inverse regularisation of the stacking logistic regression.
    aggregation : {"mean", "vote", "max"}
        Kept for the contract; each member pools its own windows.
    calibration, reject, reject_rate
        As every clip model (:mod:`earmark.models.openset`), on the combined probabilities.
    checkpoint_dir : str or None
        Given to every member that checkpoints its training (networks), so an interrupted training resumes from
        its last epoch when run again.
    progress : bool
        Given to every member that prints its epochs.
    random_state : int or None
        Seed of the held-out folds and of every member that takes one.
    """

    def __init__(self, members: str = "logreg@aisfx, svm@aisfx", *, combine: str = "mean", folds: int = 5, C: float = 1.0,
                 aggregation: str = "mean", calibration: str = "none", reject: str = "none", reject_rate: float = 0.05,
                 checkpoint_dir: str | None = None, progress: bool = False, random_state: int | None = 0) -> None:
        store_params(self, locals())

    # --- members ---------------------------------------------------------------------
    def _specs(self) -> list[tuple[str, str, str]]:
        return parse_members(self.members)

    def _new_members(self) -> list[ClipModel]:
        out = []
        for model, base, _ in self._specs():
            est = set_model_params(get_model(base), base, parse_model(model)[1])
            takes = est.get_params(deep=False)
            shared = {"random_state": self.random_state, "checkpoint_dir": self.checkpoint_dir, "progress": self.progress or None}
            est.set_params(**{k: v for k, v in shared.items() if k in takes and v is not None})
            out.append(est)
        return out

    def _layout(self) -> list[tuple[int, int, tuple[int, ...]]] | None:
        """For each member: the start and end columns of its front end's part in a fused window, and its shape
        (``None`` when every member runs on the same front end: each is given the windows as they are)."""
        from earmark.embeddings import get_embedder

        fronts = list(dict.fromkeys(front for _, _, front in self._specs()))
        if len(fronts) == 1:
            return None
        shapes = {f: tuple(get_embedder(f).feature_shape) for f in fronts}
        starts, col = {}, 0
        for f in fronts:
            starts[f] = col
            col += int(np.prod(shapes[f]))
        return [(starts[f], starts[f] + int(np.prod(shapes[f])), shapes[f]) for _, _, f in self._specs()]

    def _cut(self, windows: np.ndarray, k: int) -> np.ndarray:
        """Member ``k``'s part of stacked fused windows, in its front end's shape."""
        if self._layout_ is None:
            return windows
        a, b, shape = self._layout_[k]
        flat = windows.reshape(len(windows), -1)
        return flat[:, a:b].reshape(len(windows), *shape)

    def _member_clips(self, clips: list[np.ndarray], k: int) -> list[np.ndarray]:
        return [self._cut(c, k) for c in clips]

    @property
    def augment(self) -> str | None:
        """The members' waveform augmentation (they must share one): ``train`` and ``evaluate`` make augmented copies of
        the clips with it, and each member that asks for it is fitted with its part of them."""
        from earmark.augment import waveform_part

        asking = [(m, est.augment) for m, est in zip(self.members_text(), self._new_members())
                  if waveform_part(getattr(est, "augment", None)) is not None]
        if len({repr(waveform_part(a)) for _, a in asking}) > 1:
            raise ParameterError("Ensemble members ask for different waveform augmentations ("
                                 + "; ".join(m for m, _ in asking)
                                 + "); the copies are made once for all of them, so give them the same augment= value.")
        return asking[0][1] if asking else None

    def members_text(self) -> list[str]:
        return [model for model, _, _ in self._specs()]

    # --- the contract ------------------------------------------------------------------
    def check_params(self) -> None:
        super().check_params()
        check_choice("combine", self.combine, COMBINERS)
        check_number("folds", self.folds, low=2, high=20, integer=True)
        check_number("C", self.C, low=1e-6, high=1e6)
        for est in self._new_members():
            if getattr(est, "reads_sequence", False) or getattr(est, "learns_frames", False):
                raise ParameterError(f"Ensemble member {type(est).__name__} scores windows in sequence; ensembles take clip "
                                     "models that score each window alone (heads, networks, fine-tuned networks).")
            est.check_params()
        self.augment  # noqa: B018 - one waveform augmentation for all members, checked before any audio work

    def check_labels(self, labels) -> None:
        from earmark.models.clips import is_multilabel

        if is_multilabel(labels):
            raise ParameterError("An ensemble combines single-label models; these labels hold several tags per clip. "
                                 "Train one tagger (logreg, sbcnn, ...) instead.")
        super().check_labels(labels)

    def _fit(self, clips, y) -> None:
        self._fit_members(clips, y, None)

    def _fit_augmented(self, clips, y, copies) -> None:
        self._fit_members(clips, y, copies)

    def _fit_members(self, clips, y, copies) -> None:
        self.check_params()
        self._layout_ = self._layout()
        self.combiner_ = self._fit_combiner(clips, y, copies) if self.combine != "mean" else None
        self.members_ = []
        for k, est in enumerate(self._new_members()):
            log.info("ensemble: fitting member %d of %d (%s)", k + 1, len(self._specs()), self._specs()[k][0])
            self.members_.append(self._fit_one(est, clips, y, copies, k, np.arange(len(clips))))

    def _fit_one(self, est, clips, y, copies, k, rows) -> ClipModel:
        from earmark.augment import waveform_part

        sub = [self._cut(clips[i], k) for i in rows]
        wanted = copies is not None and waveform_part(getattr(est, "augment", None)) is not None
        extra = {"augmented": [[self._cut(c, k) for c in copies[i]] for i in rows]} if wanted else {}
        return est.fit(sub, y[rows], **extra)

    def assembled(self, members: list[ClipModel], feature_shape: tuple[int, ...]) -> EnsembleClassifier:
        """A fitted copy of this ``combine='mean'`` ensemble made of ``members`` already fitted (each on its part of
        the same clips; what :func:`earmark.evaluation.compare.compare` reuses). Their classes must agree."""
        from sklearn.base import clone

        if self.combine != "mean" or len(members) != len(self._specs()):
            raise ParameterError("Only a combine=mean ensemble is made of fitted members, one per member it lists.")
        classes = [np.asarray(m.classes_) for m in members]
        if any(not np.array_equal(c, classes[0]) for c in classes):
            raise ParameterError("The fitted members know different classes; fit them on the same clips.")
        out = clone(self)
        out.classes_, out.feature_shape_ = classes[0], tuple(int(d) for d in feature_shape)
        out.n_features_in_ = int(np.prod(out.feature_shape_))
        out.multilabel_, out.thresholds_ = False, np.full(len(out.classes_), 0.5)
        out._reset_open_set()
        out._layout_, out.combiner_, out.members_ = out._layout(), None, list(members)
        return out

    def held_out_proba(self, clips, y, copies=None) -> list[np.ndarray]:
        """Each member's probabilities of every training clip from a copy fitted without it (stratified k-fold)."""
        from sklearn.model_selection import StratifiedKFold

        k = min(int(self.folds), int(np.bincount(y).min()))
        if k < 2:
            raise ParameterError(f"combine={self.combine} learns from held-out scores, so it needs at least 2 training clips "
                                 "of every class; add clips, or use combine=mean.")
        n_classes = int(y.max()) + 1
        held = [np.zeros((len(clips), n_classes)) for _ in self._specs()]
        folds = StratifiedKFold(k, shuffle=True, random_state=0 if self.random_state is None else self.random_state)
        log.info("ensemble: held-out scores of %d clips from %d folds per member", len(clips), k)
        for train, test in folds.split(np.zeros(len(y)), y):
            for m, est in enumerate(self._new_members()):
                fitted = self._fit_one(est, clips, y, copies, m, train)
                held[m][np.ix_(test, fitted.classes_.astype(int))] = fitted.predict_proba(self._member_clips([clips[i] for i in test], m))
        return held

    def _fit_combiner(self, clips, y, copies) -> Tensors:
        held = self.held_out_proba(clips, y, copies)
        if self.combine == "weighted":
            weights = best_weights(held, y)
            log.info("ensemble: weights %s from held-out log loss", np.round(weights, 3).tolist())
            return Tensors(weights=weights)
        from sklearn.linear_model import LogisticRegression

        stacker = LogisticRegression(C=float(self.C), max_iter=2000).fit(stack_features(held), y)
        return Tensors(coef=stacker.coef_, intercept=stacker.intercept_)

    def combine_proba(self, member_proba: list[np.ndarray]) -> np.ndarray:
        """The combination of the members' probabilities (``(n, n_classes)`` each, columns in class order)."""
        if self.combine == "mean":
            return np.mean(member_proba, axis=0)
        if self.combine == "weighted":
            return np.tensordot(self.combiner_["weights"], np.asarray(member_proba), axes=1)
        logits = stack_features(member_proba) @ self.combiner_["coef"].T + self.combiner_["intercept"]
        if logits.shape[1] == 1:  # two classes: scikit-learn's one column for the second class
            logits = np.hstack([-logits / 2, logits / 2])
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def _clip_proba(self, clips: list[np.ndarray]) -> np.ndarray:
        for c in clips:
            self._check_shape(c)
        return self.combine_proba([m.predict_proba(self._member_clips(clips, k)) for k, m in enumerate(self.members_)])

    def _window_proba(self, windows: np.ndarray) -> np.ndarray:
        return self.combine_proba([m.window_proba(self._cut(windows, k)) for k, m in enumerate(self.members_)])

    def parameter_count(self, feature_shape: tuple[int, ...], n_classes: int) -> int | None:
        layout = self._layout()
        shapes = [feature_shape] * len(self._specs()) if layout is None else [shape for _, _, shape in layout]
        return sum(est.parameter_count(shape, n_classes) or 0 for est, shape in zip(self._new_members(), shapes, strict=True))

    # --- persistence -----------------------------------------------------------------------
    def _parts(self) -> dict:
        parts = {"combiner": self.combiner_} if self.combiner_ is not None else {}
        for k, m in enumerate(self.members_):
            parts |= {f"members/{k}/{name}": value for name, value in m.fitted_parts().items()}
        return parts

    def _restore(self, parts: dict) -> None:
        self.check_params()
        self._layout_ = self._layout()
        self.combiner_ = parts.get("combiner")
        if self.combine != "mean" and self.combiner_ is None:
            raise ParameterError(f"the file holds no 'combiner' part for combine={self.combine}.")
        self.members_ = []
        for k, est in enumerate(self._new_members()):
            prefix = f"members/{k}/"
            own = {name[len(prefix):]: value for name, value in parts.items() if name.startswith(prefix)}
            if "fitted" not in own:
                raise ParameterError(f"the file holds no parts of member {k} ({self._specs()[k][0]}).")
            self.members_.append(est.restore_parts(own))
            if self._layout_ is not None and tuple(est.feature_shape_) != self._layout_[k][2]:
                raise ParameterError(f"member {k} expects windows {tuple(est.feature_shape_)}, its front end gives {self._layout_[k][2]}.")


def stack_features(member_proba: list[np.ndarray]) -> np.ndarray:
    """The stacker's input: every member's log probabilities side by side."""
    return np.hstack([np.log(np.clip(p, _EPS, 1.0)) for p in member_proba])


def best_weights(member_proba: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to 1 that minimise the log loss of the weighted mean of ``member_proba`` on ``y``."""
    from scipy.optimize import minimize

    stacked = np.asarray([p[np.arange(len(y)), y] for p in member_proba])  # (members, clips): each member's p(true class)

    def loss(z):
        w = np.exp(z - z.max())
        w /= w.sum()
        return -np.mean(np.log(np.clip(w @ stacked, _EPS, 1.0)))

    z = minimize(loss, np.zeros(len(member_proba)), method="Nelder-Mead" if len(member_proba) <= 2 else "L-BFGS-B").x
    w = np.exp(z - z.max())
    return w / w.sum()


register_model("ensemble", EnsembleClassifier, kind="ensemble", front_end=ensemble_front_end,
               description="other models combined (members=logreg@aisfx, finetune:aisfx; combine=mean|weighted|stack): "
                           "their clip probabilities averaged, weighted or stacked on held-out scores of the training clips")
