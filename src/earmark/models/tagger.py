"""``lstm-tagger``: a recurrent tagger trained on weak (clip-level) labels, with transfer from a source task.

Diment & Virtanen's model (BACKGROUND.md section 3): 20 MFCCs per frame
(the ``mfcc-frames`` front end) -> 10% input dropout -> two LSTM layers of
100 units -> one sigmoid per tag and frame. Frame scores are pooled over
the clip (``aggregation``: linear softmax by default, or max, or mean) into
the clip score the weak label is compared with (binary cross-entropy), so
the frame scores localise events the model was never shown (``detect``).
An optional 1-D convolution front end (``conv_channels``) reads short
stretches of frames before the LSTMs.

Transfer from a tagger trained on a source task (``pretrained``: its model
file; its tags may differ, its front end must be the same):

- ``transfer="all"``: start from all its LSTM weights and fine-tune them all;
- ``"freeze-low"``: the same, with the first LSTM layer frozen;
- ``"parallel-low"``: its first layer, frozen, beside a fresh trainable
  first layer; their outputs are concatenated and feed a fresh upper layer.

The output layer is always new. The source's feature standardisation is
kept (its first layer expects it). A transferred model's file holds every
weight, so it loads without the source file; ``transfer_`` records where
the source came from.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from earmark.embeddings.cache import file_sha256
from earmark.errors import ParameterError, check_choice, check_positive
from earmark.models.base import MAX_WIDTH, ClipModel, Tensors, tensor_budget
from earmark.models.network import store_params, train_settings
from earmark.models.training import TrainSettings, train_network

log = logging.getLogger(__name__)

TRANSFERS = ("all", "freeze-low", "parallel-low")
POOLINGS = ("linsoft", "max", "mean")
_SCORE_BATCH = 8
class TaggerClassifier(ClipModel):
    """A recurrent tagger over frame features, trained on clip labels (see the module docstring).

    Parameters
    ----------
    aggregation : {"linsoft", "max", "mean"}
        How frame scores pool into the clip score, in training and prediction.
    hidden : int
        Units per LSTM layer (100).
    input_dropout : float
        Dropout on the input features (0.1).
    conv_channels : int
        Channels of an optional 1-D convolution front end (0: none).
    pretrained : str or None
        Model file of a tagger trained on a source task, to transfer from.
    transfer : {"all", "freeze-low", "parallel-low"}
    optimiser, max_epochs, batch_size, learning_rate, weight_decay, patience, validation_fraction, time_budget_s
        See :class:`earmark.models.training.TrainSettings` (RMSprop at 1e-3 as the paper).
    calibration, reject, reject_rate, checkpoint_dir, progress, random_state
        As for :class:`earmark.models.network.NetworkClassifier`.

    Attributes
    ----------
    network_ : torch.nn.Module
    history_ : dict
    transfer_ : dict
        The source model's file name, SHA-256 and tags, and the transfer used (empty when trained from scratch).
    """

    reads_sequence = True

    def __init__(self, *, aggregation: str = "linsoft", hidden: int = 100, input_dropout: float = 0.1, conv_channels: int = 0,
                 pretrained: str | None = None, transfer: str = "all", optimiser: str = "rmsprop", max_epochs: int = 100,
                 batch_size: int = 16, learning_rate: float = 1e-3, weight_decay: float = 0.0, patience: int = 15,
                 validation_fraction: float = 0.15, time_budget_s: float | None = None, checkpoint_dir: str | None = None,
                 calibration: str = "none", reject: str = "none", reject_rate: float = 0.05,
                 progress: bool = False, random_state: int | None = 0) -> None:
        store_params(self, locals())

    def _settings(self) -> TrainSettings:
        return train_settings(self, optimiser=self.optimiser)

    def check_params(self) -> None:
        check_choice("aggregation", self.aggregation, POOLINGS)
        self._check_open_set()
        check_choice("transfer", self.transfer, TRANSFERS)
        check_positive("hidden", self.hidden, kind=int, high=MAX_WIDTH)
        check_positive("conv_channels", self.conv_channels, kind=int, allow_zero=True, high=MAX_WIDTH)
        if not (isinstance(self.input_dropout, (int, float)) and 0 <= self.input_dropout < 1):
            raise ParameterError(f"The 'input_dropout' parameter must be a number in [0, 1). Got {self.input_dropout!r} instead.")
        self._settings()

    def _build(self, n_tags: int, n_features: int | None = None):
        from earmark.models.modules import LstmTagger

        return LstmTagger(n_features or self.feature_shape_[0], n_tags, hidden=self.hidden, input_dropout=float(self.input_dropout),
                          conv_channels=int(self.conv_channels), pooling=self.aggregation,
                          parallel=self.pretrained is not None and self.transfer == "parallel-low")

    def _fit(self, clips, y) -> None:
        import torch

        self.check_params()
        if len(self.feature_shape_) != 1:
            raise ParameterError(f"lstm-tagger reads one feature vector per frame; got windows of shape {self.feature_shape_} "
                                 "(use the mfcc-frames front end).")
        settings = self._settings()
        torch.manual_seed(settings.seed)
        self.network_ = self._build(len(self.classes_))
        self.transfer_ = {}
        source = self._load_source() if self.pretrained is not None else None
        if source is None:
            self._fit_standardiser(clips)
        else:
            self._transfer_from(source)
        x = self._sequences(clips)
        self.history_ = train_network(self.network_, x, np.asarray(y), np.arange(len(clips)), len(self.classes_), settings)
        if self.transfer_:
            self.history_["transfer"] = self.transfer_

    def _load_source(self) -> TaggerClassifier:
        """The source tagger of ``pretrained``, read as ``Model.load`` reads a file (sizes and tensor budget checked before
        any tensor is read, nothing executed), without its front end: only its tagger's input shape must match."""
        from earmark.errors import EarmarkError, one_line
        from earmark.persistence import read_model_file

        path = str(self.pretrained)
        if not Path(path).is_file():
            raise ParameterError(f"pretrained={path}: no such model file; train the source tagger first "
                                 "(earmark train SOURCE --model lstm-tagger --out SOURCE.earmark).")

        def rebuilt(meta: dict) -> TaggerClassifier:
            if meta["model"]["name"] != "lstm-tagger":
                raise ParameterError(f"holds a {meta['model']['name']} model, not an lstm-tagger; transfer needs a tagger "
                                     "trained on the source task.")
            source = TaggerClassifier(**meta["model"]["params"])
            source.check_params()
            return source

        try:
            meta, parts = read_model_file(path, budget=lambda meta: tensor_budget(meta, self.feature_shape_, rebuilt(meta)))
            source = rebuilt(meta).restore_parts(parts)
        except (EarmarkError, TypeError) as exc:
            raise ParameterError(f"pretrained={path}: {exc}") from None
        except (KeyError, ValueError, RuntimeError) as exc:
            raise ParameterError(f"pretrained={path}: its fitted state is incomplete or malformed ({one_line(exc)}); "
                                 "retrain the source tagger.") from None
        if source.feature_shape_ != self.feature_shape_ or source.hidden != self.hidden or source.conv_channels != self.conv_channels:
            raise ParameterError(f"pretrained={path}: its tagger reads {source.feature_shape_} features with {source.hidden} "
                                 f"units and conv_channels={source.conv_channels}; this one {self.feature_shape_}, {self.hidden}, "
                                 f"{self.conv_channels}. Train both with the same settings.")
        return source

    def _transfer_from(self, source: TaggerClassifier) -> None:
        """Copy the source's lower (and, unless parallel, upper) layers; freeze what the transfer freezes."""
        net, src = self.network_, source.network_
        self.mean_, self.scale_ = source.mean_.copy(), source.scale_.copy()
        if net.conv is not None:
            net.conv.load_state_dict(src.conv.state_dict())
        if self.transfer == "parallel-low":
            net.low_pretrained.load_state_dict(src.low.state_dict())
            frozen = [net.low_pretrained] + ([net.conv] if net.conv is not None else [])
        else:
            net.low.load_state_dict(src.low.state_dict())
            net.high.load_state_dict(src.high.state_dict())
            frozen = [net.low] + ([net.conv] if net.conv is not None else []) if self.transfer == "freeze-low" else []
        for part in frozen:
            for p in part.parameters():
                p.requires_grad_(False)
        digest = file_sha256(str(self.pretrained))
        self.transfer_ = {"transfer": self.transfer, "source": Path(str(self.pretrained)).name, "source_sha256": digest,
                          "source_tags": [str(t) for t in source.classes_], "frozen": [n for n, m in net.named_children() if m in frozen]}
        log.info("transfer %s from %s (tags %s)", self.transfer, self.pretrained, ", ".join(self.transfer_["source_tags"]))

    def _fit_standardiser(self, clips: list[np.ndarray]) -> None:
        """Each feature's mean and spread over every frame of the training clips."""
        frames = np.concatenate([c.reshape(len(c), -1) for c in clips])
        self.mean_, self.scale_ = frames.mean(axis=0).astype(np.float32), (frames.std(axis=0) + 1e-6).astype(np.float32)

    def _sequences(self, clips: list[np.ndarray]) -> np.ndarray:
        """Standardised clips padded to one length, with a last channel marking real frames: ``(n, frames, features + 1)``."""
        n = max(len(c) for c in clips)
        x = np.zeros((len(clips), n, self.feature_shape_[0] + 1), np.float32)
        for i, c in enumerate(clips):
            x[i, : len(c), :-1] = (c.reshape(len(c), -1) - self.mean_) / self.scale_
            x[i, : len(c), -1] = 1.0
        return x

    def _run(self, clips: list[np.ndarray], frames: bool):
        import torch

        self.network_.eval()
        out = []
        with torch.inference_mode():
            for i in range(0, len(clips), _SCORE_BATCH):  # one batch shape for every call, so a clip's scores never depend
                batch = clips[i : i + _SCORE_BATCH]       # on which others are scored with it (kernels are chosen by shape)
                x = self._sequences(batch + [batch[0][:1]] * (_SCORE_BATCH - len(batch)))
                if frames:
                    p = self.network_.frame_proba(torch.from_numpy(x))[0].numpy()
                    out += [p[j, : len(c)] for j, c in enumerate(batch)]
                else:
                    out.append(torch.sigmoid(self.network_(torch.from_numpy(x))).numpy()[: len(batch)])
        return out if frames else np.concatenate(out)

    def _normalised(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64)
        return p if self.is_tagger else p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)

    def _clip_proba(self, clips: list[np.ndarray]) -> np.ndarray:
        for c in clips:
            self._check_shape(c)
        return self._normalised(self._run(clips, frames=False))

    def _window_proba(self, windows: np.ndarray) -> np.ndarray:
        """Frame scores of one clip (its frames in order): the tagger reads them as one sequence."""
        return self._normalised(self._run([windows], frames=True)[0])

    def _parts(self) -> dict:
        weights = {k: v.detach().cpu().numpy() for k, v in self.network_.state_dict().items()}
        return {"weights": Tensors(weights), "standardise": Tensors(mean=self.mean_, scale=self.scale_), "history": self.history_}

    def _restore(self, parts: dict) -> None:
        import torch

        self.network_ = self._build(len(self.classes_))
        self.network_.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in parts["weights"].items()}, strict=True)
        self.network_.eval()
        self.mean_, self.scale_ = np.asarray(parts["standardise"]["mean"]), np.asarray(parts["standardise"]["scale"])
        self.history_ = parts.get("history", {})
        self.transfer_ = self.history_.get("transfer", {})

    def parameter_count(self, feature_shape: tuple[int, ...], n_classes: int) -> int | None:
        return sum(p.numel() for p in self._build(n_classes, int(np.prod(feature_shape))).parameters())
