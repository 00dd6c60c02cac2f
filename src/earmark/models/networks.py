"""Small convolutional networks trained here on log-mel patches (PyTorch).

Every architecture takes a batch of patches ``(batch, n_mels, n_frames)`` and
returns class logits ``(batch, n_classes)``. Convolutions are padded and
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
"""

from __future__ import annotations

from collections.abc import Callable

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


ARCHITECTURES: dict[str, Callable] = {"sbcnn": sbcnn, "vgg-small": vgg_small, "timbre": timbre}


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
    n_mels, n_frames = (feature_shape[0], 1) if len(feature_shape) == 1 else feature_shape
    return ARCHITECTURES[name](int(n_mels), int(n_frames), int(n_classes))


def count_parameters(module) -> int:
    """Trainable parameters of a torch module."""
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad))
