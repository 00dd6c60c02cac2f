"""``metric``: an embedding learned with metric learning, so that classes never seen in training are told apart.

A projection of a frozen front end's window vectors (``speaker`` or
``speech`` embeddings, MFCC statistics), its output unit-normalised, is
trained with pytorch-metric-learning. By default (``projection="linear"``)
it is one square matrix that starts as the identity on the unit-length
input vectors, so training starts from the front end's own cosine
similarity and refines it (with ~100 training speakers a fresh network
forgets more than it learns; measured in ``benchmarks/bench_speakers.py``);
``projection="mlp"`` is two dense layers from scratch on standardised
inputs. The loss is the triplet loss
on cosine similarity with a batch-hard miner (each anchor against its
hardest positive and hardest negative in the batch; Hermans et al. 2017),
over batches holding ``per_class`` windows of each of several classes
(drawn with the estimator's own seeded generator), or an additive angular margin softmax
(``loss="arcface"``, sub-centre ArcFace). For voices: the classes are
speakers, and a voice enrolled later is compared by cosine similarity of
:meth:`MetricEmbedding.embed_clips` vectors (see :mod:`earmark.voices`).

As a clip model it classifies among its training classes by cosine to
their centroids (``_window_proba``), so it saves, loads and evaluates like
any other; what it is for is ``embed_clips``.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from earmark.errors import ParameterError, check_choice, check_positive
from earmark.models.base import MAX_EPOCHS, MAX_WIDTH, ClipModel, Tensors, is_multilabel
from earmark.models.network import store_params

log = logging.getLogger(__name__)

LOSSES = ("triplet", "arcface")
PROJECTIONS = ("linear", "mlp")
_SCALE = 10.0  # cosine-to-centroid logits are multiplied by this before the softmax


class MetricEmbedding(ClipModel):
    """A projection of window vectors trained with metric learning (see the module docstring).

    Parameters
    ----------
    projection : {"linear", "mlp"}
        An identity-initialised square matrix on unit-length inputs, or two dense layers from scratch.
    dims : int
        Size of the learned embedding with ``projection="mlp"`` (128); a linear projection keeps the input's size.
    hidden : int
        Units of the hidden layer of ``projection="mlp"`` (256).
    loss : {"triplet", "arcface"}
    margin : float
        Triplet margin on cosine similarity (0.2); ArcFace uses its own default (28.6 degrees).
    per_class : int
        Windows of each class in a batch (4).
    max_epochs, batch_size, learning_rate, weight_decay, random_state, progress
        Training: Adam, a fixed number of epochs (5; one epoch: about as many windows as the training set holds).
    aggregation, calibration, reject, reject_rate
        As every clip model.

    Attributes
    ----------
    network_ : torch.nn.Module
    centroids_ : np.ndarray [shape=(n_classes, dims)]
        Unit mean embedding of each training class.
    history_ : dict
        Loss per epoch and seconds.
    """

    def __init__(self, *, projection: str = "linear", dims: int = 128, hidden: int = 256, loss: str = "triplet", margin: float = 0.2,
                 per_class: int = 4, max_epochs: int = 5, batch_size: int = 128, learning_rate: float = 1e-3, weight_decay: float = 0.0,
                 aggregation: str = "mean", calibration: str = "none", reject: str = "none", reject_rate: float = 0.05,
                 progress: bool = False, random_state: int | None = 0) -> None:
        store_params(self, locals())

    def check_params(self) -> None:
        super().check_params()
        check_choice("loss", self.loss, LOSSES)
        check_choice("projection", self.projection, PROJECTIONS)
        for name in ("dims", "hidden", "per_class", "batch_size"):
            check_positive(name, getattr(self, name), kind=int, high=MAX_WIDTH * 8)
        check_positive("max_epochs", self.max_epochs, kind=int, high=MAX_EPOCHS)
        check_positive("margin", self.margin)
        check_positive("learning_rate", self.learning_rate)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        if self.batch_size < 2 * self.per_class:
            raise ParameterError(f"The 'batch_size' parameter ({self.batch_size}) must hold at least two classes of "
                                 f"per_class={self.per_class} windows.")

    def _build(self, n_in: int):
        import torch
        from torch import nn

        if self.projection == "linear":
            net = nn.Linear(n_in, n_in, bias=False)
            with torch.no_grad():
                net.weight.copy_(torch.eye(n_in))
            return net
        return nn.Sequential(nn.Linear(n_in, self.hidden), nn.BatchNorm1d(self.hidden), nn.ReLU(), nn.Linear(self.hidden, self.dims))

    @property
    def embedding_size(self) -> int:
        return int(self.centroids_.shape[1]) if hasattr(self, "centroids_") else int(self.dims)

    def _inputs(self, windows: np.ndarray) -> np.ndarray:
        x = np.asarray(windows, np.float32).reshape(len(windows), -1)
        if self.projection == "linear":
            return _unit(x.astype(np.float64)).astype(np.float32)
        return ((x - self.mean_) / self.scale_).astype(np.float32)

    def check_labels(self, labels) -> None:
        super().check_labels(labels)
        if is_multilabel(labels):
            raise ParameterError("metric learns from one class per clip (a speaker, say); multi-label data (labels with ';') "
                                 "has no such class.")

    def _fit(self, clips, y) -> None:
        import torch
        from pytorch_metric_learning import losses, miners

        self.check_params()
        windows = np.concatenate([c.reshape(len(c), -1) for c in clips]).astype(np.float32)
        labels = np.repeat(np.asarray(y), [len(c) for c in clips])
        self.mean_, self.scale_ = windows.mean(axis=0), windows.std(axis=0) + 1e-6
        x = torch.from_numpy(self._inputs(windows))
        t = torch.from_numpy(labels.astype(np.int64))
        torch.manual_seed(0 if self.random_state is None else int(self.random_state))
        self.network_ = self._build(x.shape[1])
        if self.loss == "triplet":
            from pytorch_metric_learning.distances import CosineSimilarity

            loss_fn = losses.TripletMarginLoss(margin=float(self.margin), distance=CosineSimilarity())
            miner = miners.BatchHardMiner(distance=CosineSimilarity())
        else:
            size = x.shape[1] if self.projection == "linear" else int(self.dims)
            loss_fn, miner = losses.SubCenterArcFaceLoss(num_classes=len(self.classes_), embedding_size=size), None
        params = list(self.network_.parameters()) + list(loss_fn.parameters())
        opt = torch.optim.Adam(params, lr=float(self.learning_rate), weight_decay=float(self.weight_decay))
        rng = np.random.default_rng(0 if self.random_state is None else int(self.random_state))
        history, t0 = [], time.perf_counter()
        for epoch in range(int(self.max_epochs)):
            self.network_.train()
            total, batches = 0.0, 0
            for order in _m_per_class_batches(labels, int(self.per_class), int(self.batch_size), rng):
                idx = torch.from_numpy(order)
                emb = torch.nn.functional.normalize(self.network_(x[idx]), dim=1)
                loss = loss_fn(emb, t[idx], miner(emb, t[idx])) if miner is not None else loss_fn(emb, t[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, batches = total + float(loss.detach()), batches + 1
            history.append({"epoch": epoch + 1, "loss": total / max(batches, 1)})
            if self.progress:
                log.info("metric epoch %d: loss %.4f", epoch + 1, history[-1]["loss"])
        self.history_ = {"epochs": history, "seconds": time.perf_counter() - t0, "loss": self.loss}
        emb = self._embed_windows(windows)
        self.centroids_ = np.stack([_unit(emb[labels == k].mean(axis=0)) for k in range(len(self.classes_))])

    def _embed_windows(self, windows: np.ndarray) -> np.ndarray:
        import torch

        self.network_.eval()
        with torch.inference_mode():
            out = self.network_(torch.from_numpy(self._inputs(windows))).numpy()
        return _unit(out.astype(np.float64))

    def embed_clips(self, clips) -> np.ndarray:
        """One unit-length embedding per clip: the normalised mean of its windows' embeddings, ``(n_clips, dims)``."""
        from sklearn.utils.validation import check_is_fitted

        from earmark.models.base import as_clips

        check_is_fitted(self, "network_")
        clips = as_clips(clips)
        for c in clips:
            self._check_shape(c)
        return np.stack([_unit(self._embed_windows(c).mean(axis=0)) for c in clips]) if clips else np.zeros((0, self.embedding_size))

    def _window_proba(self, windows: np.ndarray) -> np.ndarray:
        z = _SCALE * self._embed_windows(windows) @ self.centroids_.T
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def _parts(self) -> dict:
        weights = {k: v.detach().cpu().numpy() for k, v in self.network_.state_dict().items()}
        return {"weights": Tensors(weights), "standardise": Tensors(mean=self.mean_, scale=self.scale_),
                "centroids": Tensors(centroids=self.centroids_), "history": self.history_}

    def _restore(self, parts: dict) -> None:
        import torch

        self.mean_ = np.asarray(parts["standardise"]["mean"], np.float32)
        self.scale_ = np.asarray(parts["standardise"]["scale"], np.float32)
        self.network_ = self._build(len(self.mean_))
        self.network_.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in parts["weights"].items()}, strict=True)
        self.network_.eval()
        self.centroids_ = np.asarray(parts["centroids"]["centroids"], np.float64)
        size = len(self.mean_) if self.projection == "linear" else int(self.dims)
        if self.centroids_.shape != (len(self.classes_), size):
            raise ParameterError(f"the 'centroids' part has shape {self.centroids_.shape}, expected ({len(self.classes_)}, {size}).")
        self.history_ = parts.get("history", {})

    def parameter_count(self, feature_shape: tuple[int, ...], n_classes: int) -> int | None:
        n = int(np.prod(feature_shape))
        if self.projection == "linear":
            return n * n
        return (n + 1) * self.hidden + 2 * self.hidden + (self.hidden + 1) * self.dims


def _m_per_class_batches(labels: np.ndarray, m: int, batch_size: int, rng: np.random.Generator):
    """One epoch of batches (about as many windows as ``labels`` holds), each of ``m`` windows from each of
    ``batch_size // m`` classes (at least two), so every anchor has positives and negatives to mine."""
    classes = np.unique(labels)
    per_batch = max(2, min(len(classes), batch_size // m))
    members = {c: np.flatnonzero(labels == c) for c in classes}
    for _ in range(max(1, len(labels) // (per_batch * m))):
        chosen = rng.choice(classes, per_batch, replace=False)
        yield np.concatenate([rng.choice(members[c], m, replace=len(members[c]) < m) for c in chosen])


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
