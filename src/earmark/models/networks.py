"""Small networks trained here on log-mel patches or raw waveforms (PyTorch).

Every architecture takes a batch of patches ``(batch, n_mels, n_frames)`` (or,
for ``wavecnn``, of samples ``(batch, n_samples)``) and returns class logits
``(batch, n_classes)``. Convolutions are padded and
pooling is adaptive where the paper's fixed sizes would need a fixed input,
so any patch size works (a clip shorter than one window is padded to one by
the front end; scikit-learn's checks feed single feature vectors, taken as
``n_frames = 1``). Parameter counts are those of the papers' input sizes.

- ``sbcnn``: Salamon & Bello (2017), three 5x5 convolutions (24, 48, 48
  filters) with (4, 2) max-pooling after the first two, a 64-unit dense
  layer, dropout 0.5; about 241k parameters at 128 x 128.
- ``vgg-small``: five 3x3 convolutions (16-64 filters) with batch norm and
  2x2 max-pooling, global average pooling; about 53k parameters.
- ``timbre``: one convolution whose filters span 90% of the mel bands and 7
  frames (Pons et al.'s timbral filters), max-pooled over frequency and
  time; about 10k parameters.
- ``crnn``: three 3x3 convolution blocks pooling over frequency only, then a
  bidirectional GRU over the frames and the mean of its outputs over time;
  about 28k parameters.
- ``wavecnn``: a raw-waveform 1-D CNN in the style of M5 (Dai et al. 2017):
  an 80-sample first filter with stride 4, three more convolutions with
  pooling, global average pooling; about 93k parameters. It takes windows of
  samples (the ``wave`` front end), not patches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from earmark.errors import ParameterError


def _torch():
    import torch
    from torch import nn

    return torch, nn


def sbcnn(n_mels: int, n_frames: int, n_classes: int):
    torch, nn = _torch()
    return nn.Sequential(
        nn.Unflatten(1, (1, n_mels)),
        nn.Conv2d(1, 24, 5, padding=2), nn.MaxPool2d((4, 2), ceil_mode=True), nn.ReLU(),
        nn.Conv2d(24, 48, 5, padding=2), nn.MaxPool2d((4, 2), ceil_mode=True), nn.ReLU(),
        nn.Conv2d(48, 48, 5, padding=2), nn.ReLU(),
        nn.AdaptiveMaxPool2d((2, 25)), nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(48 * 2 * 25, 64), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(64, n_classes),
    )


def vgg_small(n_mels: int, n_frames: int, n_classes: int):
    torch, nn = _torch()
    layers, c_in = [nn.Unflatten(1, (1, n_mels))], 1
    for c_out in (16, 24, 32, 48, 64):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)]
        c_in = c_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(64, n_classes))


def timbre(n_mels: int, n_frames: int, n_classes: int):
    torch, nn = _torch()
    tall = max(1, int(round(0.9 * n_mels)))
    return nn.Sequential(
        nn.Unflatten(1, (1, n_mels)),
        nn.Conv2d(1, 12, (tall, 7), padding=(0, 3)), nn.BatchNorm2d(12), nn.ReLU(),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(12, n_classes),
    )


def crnn(n_mels: int, n_frames: int, n_classes: int):
    from earmark.models.modules import CRNN  # a module-level class (picklable), imported with torch only when needed

    return CRNN(n_classes)


def kws_crnn(n_mels: int, n_frames: int, n_classes: int):
    from earmark.models.modules import KeywordCRNN

    return KeywordCRNN(n_mels, n_classes)


def wavecnn(n_samples: int, _unused: int, n_classes: int):
    torch, nn = _torch()

    def block(c_in, c_out, k, stride=1):
        return [nn.Conv1d(c_in, c_out, k, stride=stride, padding=k // 2), nn.BatchNorm1d(c_out), nn.ReLU(), nn.MaxPool1d(4, ceil_mode=True)]

    return nn.Sequential(
        nn.Unflatten(1, (1, n_samples)),
        *block(1, 64, 80, stride=4), *block(64, 64, 3), *block(64, 128, 3), *block(128, 128, 3),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(128, n_classes),
    )


ARCHITECTURES: dict[str, Callable] = {"sbcnn": sbcnn, "vgg-small": vgg_small, "timbre": timbre, "crnn": crnn, "kws-crnn": kws_crnn, "wavecnn": wavecnn}
WAVEFORM = {"wavecnn"}  # architectures that take raw samples ``(batch, n_samples)``


def build_network(name: str, feature_shape: tuple[int, ...], n_classes: int):
    """A fresh network ``name`` for windows of ``feature_shape`` (``(n_mels, n_frames)`` or ``(n,)``).

    Raises
    ------
    ParameterError
        For an unknown architecture or a feature shape of more than two axes.
    """
    if name not in ARCHITECTURES:
        raise ParameterError(f"The 'architecture' parameter must be one of {', '.join(ARCHITECTURES)}. Got {name!r} instead.")
    if len(feature_shape) not in (1, 2):
        raise ParameterError(f"Network {name!r} takes (n_mels, n_frames) patches or vectors. Got windows of shape {feature_shape}.")
    if name in WAVEFORM:
        return ARCHITECTURES[name](int(np.prod(feature_shape)), 1, int(n_classes))
    n_mels, n_frames = (feature_shape[0], 1) if len(feature_shape) == 1 else feature_shape
    return ARCHITECTURES[name](int(n_mels), int(n_frames), int(n_classes))


def count_parameters(module) -> int:
    """Trainable parameters of a torch module."""
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad))
