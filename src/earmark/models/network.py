"""Networks trained here as clip models: a PyTorch architecture behind the clip-model contract.

Windows are standardised with the training windows' mean and standard
deviation per mel band, scored by the network, and pooled to clip scores
by ``aggregation`` (mean by default), so the same model gives window scores
over time for ``detect`` and ``listen``. The fitted state is the weights
(safetensors), the standardisation (safetensors) and the training history
(JSON); nothing is pickled.
"""

from __future__ import annotations

import numpy as np

from earmark.augment import parse_augment
from earmark.models.base import ClipModel, Tensors
from earmark.models.networks import WAVEFORM, build_network, count_parameters
from earmark.models.training import TrainSettings, train_network


_SCORE_BATCH = 32


def store_params(estimator, values: dict) -> None:
    """Set every constructor argument in ``values`` (``locals()`` of ``__init__``) as an attribute, unchanged (scikit-learn's rule)."""
    for name, value in values.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def train_settings(est, **extra) -> TrainSettings:
    """The training settings held in an estimator's parameters (``max_epochs``, ``batch_size``, ... ``random_state``)."""
    return TrainSettings(max_epochs=est.max_epochs, batch_size=est.batch_size, learning_rate=est.learning_rate,
                         weight_decay=est.weight_decay, patience=est.patience, validation_fraction=est.validation_fraction,
                         time_budget_s=est.time_budget_s, seed=0 if est.random_state is None else int(est.random_state),
                         checkpoint_dir=None if est.checkpoint_dir is None else str(est.checkpoint_dir),
                         progress=bool(est.progress), **extra)


class NetworkClassifier(ClipModel):
    """A small network trained on window features (log-mel patches) with clip labels.

    Parameters
    ----------
    architecture : {"sbcnn", "vgg-small", "timbre", "crnn", "wavecnn"}
    aggregation : {"mean", "vote", "max"}
    augment : str or None
        Training-time augmentation, comma-separated (see :mod:`earmark.augment`):
        ``specaugment`` (a frequency band and a stretch of frames masked per
        patch), ``mixup`` (patches and labels mixed in pairs), and waveform
        transforms whose augmented copies ``train``/``evaluate`` pass to
        ``fit(..., augmented=)``. Never applied when scoring.
    max_epochs, batch_size, learning_rate, weight_decay, patience, validation_fraction, time_budget_s
        See :class:`earmark.models.training.TrainSettings`.
    checkpoint_dir : str or None
        Store a checkpoint here after every epoch; training the same network
        on the same data again resumes from it (see :mod:`earmark.models.checkpoint`).
    progress : bool
        Print a line per epoch (loss, accuracy, seconds) to stderr; every epoch is logged either way.
    calibration, reject, reject_rate
        Calibrated probabilities and a "none of these" threshold (see :mod:`earmark.models.openset`).
    random_state : int
        Seed of the initial weights, the validation split and the batch order.

    Attributes
    ----------
    network_ : torch.nn.Module
    history_ : dict
        Per-epoch loss and accuracy, why training stopped, seconds.
    """

    export_kind = "network"

    def __init__(self, architecture: str = "sbcnn", *, aggregation: str = "mean", augment: str | None = None, max_epochs: int = 40,
                 batch_size: int = 32,
                 learning_rate: float = 1e-3, weight_decay: float = 1e-4, patience: int = 8, validation_fraction: float = 0.15,
                 time_budget_s: float | None = None, checkpoint_dir: str | None = None,
                 calibration: str = "none", reject: str = "none", reject_rate: float = 0.05,
                 progress: bool = False, random_state: int | None = 0) -> None:
        store_params(self, locals())

    def _settings(self) -> TrainSettings:
        return train_settings(self, augment=tuple(parse_augment(self.augment)))

    def check_params(self) -> None:
        super().check_params()
        self._settings()

    def _build(self, feature_shape: tuple[int, ...], n_classes: int):
        """A fresh network for windows of ``feature_shape``."""
        return build_network(self.architecture, feature_shape, n_classes)

    def _fit(self, clips, y) -> None:
        self._fit_augmented(clips, y, [[] for _ in clips])

    def _fit_augmented(self, clips, y, copies) -> None:
        """Train on the clips and their augmented copies; a copy shares its clip's validation fate and never validates."""
        import torch

        settings = self._settings()
        torch.manual_seed(settings.seed)
        self.network_ = self._build(self.feature_shape_, len(self.classes_))
        originals = self._patches(np.concatenate(clips))
        self._fit_scale(originals)  # from the original clips only
        extra = [c for cs in copies for c in cs]
        windows = np.concatenate([originals, self._patches(np.concatenate(extra))]) if extra else originals
        n_windows = [len(c) for c in clips] + [len(c) for c in extra]
        owner = np.concatenate([np.arange(len(clips)), np.repeat(np.arange(len(clips)), [len(cs) for cs in copies])]).astype(int)
        labels = np.repeat(y[owner], n_windows, axis=0)
        clip_of = np.repeat(owner, n_windows)
        is_copy = np.repeat(np.arange(len(owner)) >= len(clips), n_windows)
        self.history_ = self._train(np.ascontiguousarray((windows - self.mean_) / self.scale_), labels, clip_of, settings, is_copy)

    def _fit_scale(self, windows: np.ndarray) -> None:
        """Standardisation from the training windows: one scale for a waveform, per mel band (per feature) otherwise."""
        if self.architecture in WAVEFORM:
            self.mean_, self.scale_ = np.zeros(1, np.float32), np.array([windows.std() + 1e-6], np.float32)
        else:
            self.mean_ = windows.mean(axis=(0, 2))[:, None].astype(np.float32)
            self.scale_ = (windows.std(axis=(0, 2)) + 1e-6)[:, None].astype(np.float32)

    def _train(self, x: np.ndarray, labels: np.ndarray, clip_of: np.ndarray, settings: TrainSettings, is_copy: np.ndarray) -> dict:
        return train_network(self.network_, x, labels, clip_of, len(self.classes_), settings, is_copy=is_copy)

    def _patches(self, windows: np.ndarray) -> np.ndarray:
        """Windows as ``(n, n_mels, n_frames)`` float32 (vectors become one-frame patches), or ``(n, n_samples)`` for waveforms."""
        if self.architecture in WAVEFORM:
            return np.asarray(windows, dtype=np.float32).reshape(len(windows), -1)
        shape = self.feature_shape_ if len(self.feature_shape_) == 2 else (self.feature_shape_[0], 1)
        return np.asarray(windows, dtype=np.float32).reshape(len(windows), *shape)

    def _standardise(self, windows: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray((self._patches(windows) - self.mean_) / self.scale_, dtype=np.float32)

    def _window_proba(self, windows: np.ndarray) -> np.ndarray:
        import torch

        x = self._standardise(windows)
        self.network_.eval()
        out = []
        with torch.inference_mode():
            for i in range(0, len(x), _SCORE_BATCH):  # every call sees one batch shape, so a window's scores never depend
                batch = x[i : i + _SCORE_BATCH]      # on which others are scored with it (kernels are chosen by shape)
                padded = np.zeros((_SCORE_BATCH, *batch.shape[1:]), np.float32)
                padded[: len(batch)] = batch
                logits = self.network_(torch.from_numpy(padded))
                out.append((torch.sigmoid(logits) if self.is_tagger else torch.softmax(logits, dim=1)).numpy()[: len(batch)])
        return np.concatenate(out).astype(np.float64)

    def _parts(self) -> dict:
        weights = {k: v.detach().cpu().numpy() for k, v in self.network_.state_dict().items()}
        return {"weights": Tensors(weights), "standardise": Tensors(mean=self.mean_, scale=self.scale_), "history": self.history_}

    def _restore(self, parts: dict) -> None:
        import torch

        self.network_ = self._build(self.feature_shape_, len(self.classes_))
        state = {k: torch.from_numpy(np.array(v)) for k, v in parts["weights"].items()}
        self.network_.load_state_dict(state, strict=True)
        self.network_.eval()
        self.mean_, self.scale_ = np.asarray(parts["standardise"]["mean"]), np.asarray(parts["standardise"]["scale"])
        self.history_ = parts.get("history", {})

    def parameter_count(self, feature_shape: tuple[int, ...], n_classes: int) -> int | None:
        return count_parameters(self._build(feature_shape, n_classes))
