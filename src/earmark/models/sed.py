"""``sed-crnn``: sound event detection with one score per tag every 20 ms, trained on strong or weak labels.

The DCASE baselines' recipe (BACKGROUND.md section 3) at a laptop's size:
64 log-mel bands every 20 ms (the ``mel-frames`` front end), three
convolution blocks, a bidirectional GRU and one sigmoid per tag and frame
(:class:`earmark.models.modules.SedCRNN`; time pooled by 2 inside, so the
scores change every 40 ms and are repeated to the 20-ms frames).

- **Strong labels** (each event's onset and offset: ``train --labels`` over
  Audacity or Raven label tracks, or the tracks ``earmark mix`` writes beside
  its scenes): ``fit(clips, y, frame_labels=...)``, one tag set per frame,
  binary cross-entropy per frame.
- **Weak labels** (which tags a clip holds, ``;``-joined): the frame scores
  are pooled per clip (``aggregation``: max by default, or linear softmax,
  or mean) and compared with the clip's tags, as :mod:`earmark.models.tagger`.

``detect`` reads the frame scores unchanged (each frame is a window); a long
recording is scored in 60-s stretches with 10 s of context on each side, so
memory stays bounded whatever its length.
"""

from __future__ import annotations

import numpy as np

from earmark.errors import ParameterError, check_choice, check_positive
from earmark.models.base import MAX_WIDTH
from earmark.models.network import store_params
from earmark.models.tagger import POOLINGS, TaggerClassifier
from earmark.models.training import train_network

CHUNK_FRAMES = 3000  # 60 s of 20-ms frames scored at once
CONTEXT_FRAMES = 500  # 10 s each side, dropped after scoring


class SedClassifier(TaggerClassifier):
    """A frame-level event detector over log-mel frames (see the module docstring).

    Parameters
    ----------
    hidden : int
        GRU units per direction (64).
    time_pool : int
        Frames pooled in time inside the network (2: a score every 40 ms at the front end's 20-ms hop).
    dropout : float
        Dropout after each convolution block (0.2).
    aggregation : {"max", "linsoft", "mean"}
        How frame scores pool into a clip's tag scores (weak-label training and clip prediction).
    optimiser, max_epochs, batch_size, learning_rate, weight_decay, patience, validation_fraction, time_budget_s
        See :class:`earmark.models.training.TrainSettings`.
    calibration, reject, reject_rate, checkpoint_dir, progress, random_state
        As for :class:`earmark.models.network.NetworkClassifier`.

    Attributes
    ----------
    network_ : torch.nn.Module
    history_ : dict
        The training history; ``labels`` says whether it learnt from strong (frame) or weak (clip) labels.
    """

    learns_frames = True

    def __init__(self, *, hidden: int = 64, time_pool: int = 2, dropout: float = 0.2, aggregation: str = "max",
                 optimiser: str = "adamw", max_epochs: int = 60, batch_size: int = 16, learning_rate: float = 1e-3,
                 weight_decay: float = 1e-4, patience: int = 10, validation_fraction: float = 0.15,
                 time_budget_s: float | None = None, checkpoint_dir: str | None = None, calibration: str = "none",
                 reject: str = "none", reject_rate: float = 0.05, progress: bool = False, random_state: int | None = 0) -> None:
        store_params(self, locals())

    # the tagger's transfer settings do not apply here
    pretrained = None
    transfer = "all"
    conv_channels = 0

    def check_params(self) -> None:
        check_choice("aggregation", self.aggregation, POOLINGS)
        check_choice("optimiser", self.optimiser, ("adamw", "rmsprop"))
        self._check_open_set()
        check_positive("hidden", self.hidden, kind=int, high=MAX_WIDTH)
        check_positive("time_pool", self.time_pool, kind=int, high=8)
        if not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1):
            raise ParameterError(f"The 'dropout' parameter must be a number in [0, 1). Got {self.dropout!r} instead.")
        self._settings()

    def _build(self, n_tags: int, n_features: int | None = None, strong: bool = True):
        from earmark.models.modules import SedCRNN

        return SedCRNN(n_features or self.feature_shape_[0], n_tags, hidden=int(self.hidden), time_pool=int(self.time_pool),
                       dropout=float(self.dropout), pooling=self.aggregation, strong=strong)

    def _start(self, clips, strong: bool):
        import torch

        self.check_params()
        if len(self.feature_shape_) != 1:
            raise ParameterError(f"sed-crnn reads one band vector per frame; got windows of shape {self.feature_shape_} "
                                 "(use the mel-frames front end).")
        settings = self._settings()
        torch.manual_seed(settings.seed)
        self.network_ = self._build(len(self.classes_), strong=strong)
        self.transfer_ = {}
        self._fit_standardiser(clips)
        return settings, self._sequences(clips)

    def _fit(self, clips, y) -> None:
        """Weak labels: the clip's tags against its pooled frame scores."""
        settings, x = self._start(clips, strong=False)
        self.history_ = train_network(self.network_, x, np.asarray(y), np.arange(len(clips)), len(self.classes_), settings)
        self.history_["labels"] = "weak"

    def _fit_frames(self, clips, y, frame_targets: list[np.ndarray]) -> None:
        """Strong labels: each frame's tags against its score."""
        settings, x = self._start(clips, strong=True)
        target = np.zeros(x.shape[:2] + (len(self.classes_),), np.float32)
        for i, t in enumerate(frame_targets):
            target[i, : len(t)] = t
        self.history_ = train_network(self.network_, x, target, np.arange(len(clips)), len(self.classes_), settings)
        self.history_["labels"] = "strong"
        self.network_.strong = True

    def _frames(self, windows: np.ndarray) -> np.ndarray:
        """Frame probabilities of one sequence, scored alone, in bounded stretches with context."""
        import torch

        self.network_.eval()
        n, out = len(windows), []
        with torch.inference_mode():
            for start in range(0, n, CHUNK_FRAMES):
                a, b = max(0, start - CONTEXT_FRAMES), min(n, start + CHUNK_FRAMES + CONTEXT_FRAMES)
                p = self.network_.frame_proba(torch.from_numpy(self._sequences([windows[a:b]])))[0].numpy()[0]
                out.append(p[start - a : start - a + min(CHUNK_FRAMES, n - start)])
        return np.concatenate(out).astype(np.float64)

    def _clip_proba(self, clips: list[np.ndarray]) -> np.ndarray:
        import torch

        from earmark.models.modules import pooled_logits

        rows = []
        for c in clips:
            self._check_shape(c)
            p = torch.from_numpy(self._frames(c)[None])
            rows.append(torch.sigmoid(pooled_logits(p, torch.ones(p.shape[:2] + (1,), dtype=p.dtype), self.aggregation))[0].numpy())
        return self._normalised(np.stack(rows))

    def _window_proba(self, windows: np.ndarray) -> np.ndarray:
        """Frame scores of one clip or recording (its frames in order)."""
        return self._normalised(self._frames(windows))

    def parameter_count(self, feature_shape: tuple[int, ...], n_classes: int) -> int | None:
        return sum(p.numel() for p in self._build(n_classes, int(np.prod(feature_shape))).parameters())
