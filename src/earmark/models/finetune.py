"""``finetune:<backbone>``: a pretrained network with a new head, fine-tuned here on clip labels.

The backbone's blocks are split in two: the lower blocks stay frozen (their
weights and batch-norm statistics untouched) and the upper ones train with
a lower learning rate than the new head (``pretrained_lr_scale``).
``train`` picks the split: ``"head"`` trains the new head only, ``"last"``
the last block and the head, ``"all"`` everything, a number that many top
blocks. ``layer_decay`` lowers each trained block's rate below the one
above it (layer-wise learning-rate decay), and ``lp_epochs`` first trains
the new head alone on the frozen network (LP-FT: linear probing, then
fine-tuning, so a random head does not pull the pretrained blocks about).

When lower blocks are frozen and no augmentation acts on the network's
input (``specaugment``), their output is computed once per fit and the
epochs run on the upper blocks only, so fine-tuning the top costs a
fraction of a full pass. Waveform augmentation does not stop this: its
augmented copies are featurised before training (see :mod:`earmark.augment`).

A backbone is one :class:`Backbone` entry in :data:`BACKBONES` (its front end,
a loader of its pretrained torch module, the names of its blocks in order,
and the pooling that turns the last block's output into a vector), and one
``register_model("finetune:NAME", ...)`` line. ``aisfx`` is the one torch
backbone shipped; BirdNET runs on TensorFlow Lite and the speech and
speaker embedders on ONNX, so they are not fine-tunable here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from earmark.errors import ParameterError, check_choice, check_fraction, check_number
from earmark.models.network import NetworkClassifier, store_params
from earmark.models.training import TrainSettings, train_network

TRAIN_MODES = ("head", "last", "all")


@dataclass(frozen=True)
class Backbone:
    """A pretrained torch network that can be fine-tuned.

    Attributes
    ----------
    front_end : str
        Registered front end whose windows are the network's input.
    load : callable
        ``load() -> torch.nn.Module`` with the pretrained weights.
    blocks : tuple of str
        Names of the network's blocks, in order.
    prepare, pool : callable
        ``prepare() -> Module`` maps a batch of windows to the first block's
        input; ``pool() -> Module`` maps the last block's output to ``(batch, dims)``.
    dims : int
        Width of the pooled output.
    input_shape : tuple of int or None
        Shape of one window (None: any).
    """

    front_end: str
    load: Callable
    blocks: tuple[str, ...]
    prepare: Callable
    pool: Callable
    dims: int
    input_shape: tuple[int, ...] | None = None


def _aisfx_load():
    from earmark.embeddings.aisfx_net import load_aisfx_net

    return load_aisfx_net()


def _aisfx_prepare():
    from torch import nn

    return nn.Unflatten(1, (1, 100))  # (batch, 100 frames, 96 bands) -> (batch, 1, 100, 96)


def _aisfx_pool():
    from earmark.models.modules import MeanFreqMaxTime

    return MeanFreqMaxTime()


BACKBONES: dict[str, Backbone] = {
    "aisfx": Backbone(front_end="aisfx-mel", load=_aisfx_load, blocks=("conv_block1", "conv_block2", "conv_block3", "conv_block4"),
                      prepare=_aisfx_prepare, pool=_aisfx_pool, dims=512, input_shape=(100, 96)),
}


def build_finetune_net(backbone: Backbone, n_classes: int, train: str, dropout: float, pretrained_lr_scale: float,
                       layer_decay: float = 1.0):
    """The pretrained ``backbone`` split into a frozen part and a trained tail with a new ``n_classes`` head."""
    from earmark.models.modules import FinetuneNet

    net = backbone.load()
    blocks = [getattr(net, b) for b in backbone.blocks]
    n_trained = {"head": 0, "last": 1, "all": len(blocks)}[train] if not str(train).isdigit() else min(int(train), len(blocks))
    return FinetuneNet(backbone.prepare(), blocks[: len(blocks) - n_trained], blocks[len(blocks) - n_trained :], backbone.pool(),
                       backbone.dims, n_classes, dropout=dropout, pretrained_lr_scale=pretrained_lr_scale, layer_decay=layer_decay)


def linear_probe(net, x: np.ndarray, labels: np.ndarray, clip_of: np.ndarray, n_classes: int, settings: TrainSettings,
                 *, epochs: int, is_copy: np.ndarray) -> dict:
    """LP-FT's first phase (Kumar et al. 2022): train only ``net``'s new head, on the pooled output of its pretrained
    blocks as they are (every block frozen, computed once), for ``epochs``; the head starts the fine-tuning from there,
    so the blocks are not pulled about by a random head. Returns the phase's training history."""
    import torch
    from torch import nn

    from dataclasses import replace

    tail = net.tail
    tail.eval()
    inputs = net.frozen_outputs(x, batch_size=settings.batch_size)
    with torch.inference_mode():
        pooled = np.concatenate([tail.pool(tail.blocks(torch.from_numpy(inputs[i : i + settings.batch_size]))).numpy()
                                 for i in range(0, len(inputs), settings.batch_size)]).astype(np.float32)

    class _Head(nn.Module):  # the tail's own head, trained in place
        def __init__(self) -> None:
            super().__init__()
            self.head = tail.head

        def forward(self, v):
            return self.head(v)

    probe = replace(settings, max_epochs=epochs, augment=(), checkpoint_dir=None)
    history = train_network(_Head(), pooled, labels, clip_of, n_classes, probe, is_copy=is_copy)
    net.eval()
    return history


class FinetuneClassifier(NetworkClassifier):
    """A pretrained backbone with a new head, fine-tuned on window features with clip labels.

    Parameters
    ----------
    backbone : str
        A key of :data:`BACKBONES` (``"aisfx"``).
    train : {"head", "last", "all"}
        What trains: the new head only, the last block and the head, or everything.
    pretrained_lr_scale : float
        Learning rate of the pretrained blocks as a fraction of ``learning_rate`` (the head's).
    dropout : float
        Dropout before the new head.
    lp_epochs : int
        LP-FT: first train the new head alone for this many epochs on the frozen network's pooled output, then
        fine-tune from there (0: the head starts at random with the blocks).
    layer_decay : float
        Layer-wise learning-rate decay: each trained block below the top one learns at this fraction of its upper
        neighbour's rate (with ``train="all"`` or a number of blocks).
    aggregation, augment, max_epochs, batch_size, learning_rate, weight_decay, patience, validation_fraction, time_budget_s, calibration, reject, reject_rate, checkpoint_dir, progress, random_state
        As :class:`~earmark.models.network.NetworkClassifier` (fewer epochs by default: the features are pretrained).
    """

    def __init__(self, backbone: str = "aisfx", *, train: str = "last", pretrained_lr_scale: float = 0.1, dropout: float = 0.3,
                 lp_epochs: int = 0, layer_decay: float = 1.0,
                 aggregation: str = "mean", augment: str | None = None, max_epochs: int = 15, batch_size: int = 32,
                 learning_rate: float = 1e-3, weight_decay: float = 1e-4, patience: int = 5, validation_fraction: float = 0.15,
                 time_budget_s: float | None = None, checkpoint_dir: str | None = None,
                 calibration: str = "none", reject: str = "none", reject_rate: float = 0.05,
                 progress: bool = False, random_state: int | None = 0) -> None:
        store_params(self, locals())

    @property
    def architecture(self) -> str:
        return f"finetune:{self.backbone}"

    def check_params(self) -> None:
        super().check_params()
        check_choice("backbone", self.backbone, BACKBONES)
        blocks = len(BACKBONES[self.backbone].blocks)
        if self.train not in TRAIN_MODES and not (isinstance(self.train, int) and not isinstance(self.train, bool) and 0 <= self.train <= blocks):
            raise ParameterError(f"Model 'finetune:{self.backbone}' option train={self.train} must be one of {', '.join(TRAIN_MODES)} "
                                 f"(head only, the last block and the head, everything) or a number of top blocks, 0 to {blocks}.")
        check_fraction("pretrained_lr_scale", self.pretrained_lr_scale)
        check_fraction("layer_decay", self.layer_decay)
        check_number("lp_epochs", self.lp_epochs, low=0, high=1000, integer=True)
        if not isinstance(self.dropout, (int, float)) or isinstance(self.dropout, bool) or not 0 <= self.dropout < 1:
            raise ParameterError(f"The 'dropout' parameter must be a number in [0, 1). Got {self.dropout!r} instead.")

    def _build(self, feature_shape: tuple[int, ...], n_classes: int):
        self.check_params()
        spec = BACKBONES[self.backbone]
        if spec.input_shape is not None and tuple(feature_shape) != spec.input_shape:
            raise ParameterError(f"Model 'finetune:{self.backbone}' takes {spec.front_end!r} windows of shape {spec.input_shape}; "
                                 f"got windows of shape {tuple(feature_shape)}. Train it on the {spec.front_end!r} front end.")
        return build_finetune_net(spec, n_classes, str(self.train), self.dropout, self.pretrained_lr_scale, self.layer_decay)

    def _patches(self, windows: np.ndarray) -> np.ndarray:
        return np.asarray(windows, dtype=np.float32).reshape(len(windows), *self.feature_shape_)

    def _fit_scale(self, windows: np.ndarray) -> None:
        # the backbone was trained on its front end's own normalisation: windows go in as they are
        self.mean_, self.scale_ = np.zeros(1, np.float32), np.ones(1, np.float32)

    def _train(self, x: np.ndarray, labels: np.ndarray, clip_of: np.ndarray, settings: TrainSettings, is_copy: np.ndarray) -> dict:
        net = self.network_
        probe = {}
        if self.lp_epochs and len(net.tail.blocks):
            probe = {"linear_probe": linear_probe(net, x, labels, clip_of, len(self.classes_), settings, epochs=self.lp_epochs,
                                                  is_copy=is_copy)}
        return self._fine_tune(net, x, labels, clip_of, settings, is_copy) | probe

    def _fine_tune(self, net, x, labels, clip_of, settings: TrainSettings, is_copy) -> dict:
        if not net.has_frozen_blocks or any(a.startswith("specaugment") for a in settings.augment):
            return train_network(net, x, labels, clip_of, len(self.classes_), settings, is_copy=is_copy)
        # the frozen blocks' output, once: the epochs run on the trained tail only
        history = train_network(net.tail, net.frozen_outputs(x, batch_size=settings.batch_size), labels, clip_of,
                                len(self.classes_), settings, is_copy=is_copy)
        net.eval()
        return history | {"frozen_outputs_cached": True}

    def parameter_count(self, feature_shape: tuple[int, ...], n_classes: int) -> int | None:
        from earmark.models.networks import count_parameters

        spec = BACKBONES[self.backbone]
        return count_parameters(self._build(spec.input_shape or feature_shape, n_classes))
