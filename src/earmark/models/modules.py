"""Torch modules that are classes (the rest are ``nn.Sequential`` built in :mod:`earmark.models.networks`).

- :class:`CRNN`: convolution blocks over frequency, then a bidirectional GRU over time;
- :class:`KeywordCRNN`: a strided conv layer, then two GRU layers, for spoken keywords (``kws-crnn``);
- :class:`FinetuneNet`: a pretrained backbone split into frozen blocks and a trained tail with a new head;
- :class:`MeanFreqMaxTime`: the aiSFX pooling (mean over bands, max over frames);
- :class:`LstmTagger`: two LSTM layers over frame features, frame scores pooled to clip logits (``lstm-tagger``);
- :class:`SedCRNN`: convolution blocks over log-mel frames, a bidirectional GRU, one score per tag and frame (``sed-crnn``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class CRNN(nn.Module):
    """Patches ``(batch, n_mels, n_frames)`` -> logits ``(batch, n_classes)``; any patch size."""

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        layers, c_in = [], 1
        for c_out in (16, 32, 32):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d((4, 1), ceil_mode=True)]
            c_in = c_out
        self.conv = nn.Sequential(*layers, nn.AdaptiveAvgPool2d((1, None)))
        self.gru = nn.GRU(32, 32, batch_first=True, bidirectional=True)
        self.out = nn.Sequential(nn.Dropout(0.3), nn.Linear(64, n_classes))

    def forward(self, x):
        h = self.conv(x.unsqueeze(1)).squeeze(2).transpose(1, 2)  # (batch, frames, channels)
        seq, _ = self.gru(h)
        return self.out(seq.mean(dim=1))


class KeywordCRNN(nn.Module):
    """Arik et al.'s small-footprint keyword-spotting CRNN: one strided conv layer of 32 tall filters (20 bands x 5
    frames, stride 8 x 2) over 40 log-mel bands, two GRU layers of 64 units, the last step through a dense layer of 64;
    64k parameters for 12 classes."""

    def __init__(self, n_mels: int, n_classes: int) -> None:
        super().__init__()
        k_f = min(20, n_mels)
        self.conv = nn.Sequential(nn.Conv2d(1, 32, (k_f, 5), stride=(8, 2)), nn.BatchNorm2d(32), nn.ReLU())
        bands = (n_mels - k_f) // 8 + 1
        self.gru = nn.GRU(32 * bands, 64, num_layers=2, batch_first=True, dropout=0.1)
        self.out = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, n_classes))

    def forward(self, x):
        if x.shape[-1] < 5:  # shorter than one kernel (tiny inputs): zero-pad the time axis
            x = nn.functional.pad(x, (0, 5 - x.shape[-1]))
        h = self.conv(x.unsqueeze(1))  # (batch, 32, bands, frames)
        seq, _ = self.gru(h.flatten(1, 2).transpose(1, 2))
        return self.out(seq[:, -1])


class MeanFreqMaxTime(nn.Module):
    """``(batch, channels, frames, bands)`` -> ``(batch, channels)``: mean over bands, then max over frames."""

    def forward(self, x):
        return x.mean(dim=3).amax(dim=2)


class Tail(nn.Module):
    """The trained part of a fine-tuned network: its upper pretrained blocks, the pooling and the new head."""

    def __init__(self, blocks, pool: nn.Module, dims: int, n_classes: int, *, dropout: float, pretrained_lr_scale: float,
                 layer_decay: float = 1.0) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*blocks)
        self.pool = pool
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(dims, n_classes))
        self.pretrained_lr_scale = pretrained_lr_scale
        self.layer_decay = layer_decay

    def train(self, mode: bool = True):
        super().train(mode)
        for m in self.blocks.modules():  # pretrained batch-norm statistics stay fixed (few clips would skew them;
            if isinstance(m, nn.modules.batchnorm._BatchNorm):  # scale and shift still train)
                m.eval()
        return self

    def forward(self, x):
        return self.head(self.pool(self.blocks(x)))

    def param_groups(self, learning_rate: float) -> list[dict]:
        """Optimiser groups: the new head at ``learning_rate``; the top pretrained block at ``pretrained_lr_scale *
        learning_rate``, and each block below it ``layer_decay`` times its upper neighbour's rate (layer-wise
        learning-rate decay; 1: every pretrained block at the same rate)."""
        groups = [{"params": list(self.head.parameters()), "lr": learning_rate}]
        for depth, block in enumerate(reversed(list(self.blocks))):
            pretrained = [p for p in block.parameters() if p.requires_grad]
            if pretrained:
                groups.append({"params": pretrained, "lr": learning_rate * self.pretrained_lr_scale * self.layer_decay ** depth})
        return groups


class FinetuneNet(nn.Module):
    """Frozen lower blocks (always in eval mode, no gradients) followed by a trained :class:`Tail`."""

    def __init__(self, prepare: nn.Module, frozen_blocks, trained_blocks, pool: nn.Module, dims: int, n_classes: int, *,
                 dropout: float, pretrained_lr_scale: float, layer_decay: float = 1.0) -> None:
        super().__init__()
        self.has_frozen_blocks = bool(frozen_blocks)
        if trained_blocks:
            self.frozen = nn.Sequential(prepare, *frozen_blocks)
            self.tail = Tail(trained_blocks, pool, dims, n_classes, dropout=dropout, pretrained_lr_scale=pretrained_lr_scale,
                             layer_decay=layer_decay)
        else:  # head only: the pooling is frozen too, so cached outputs are vectors
            self.frozen = nn.Sequential(prepare, *frozen_blocks, pool)
            self.tail = Tail([], nn.Identity(), dims, n_classes, dropout=dropout, pretrained_lr_scale=pretrained_lr_scale)
        for p in self.frozen.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        self.frozen.eval()  # frozen batch-norm statistics stay as pretrained
        return self

    def forward(self, x):
        return self.tail(self.frozen(x))

    def param_groups(self, learning_rate: float) -> list[dict]:
        return self.tail.param_groups(learning_rate)

    def frozen_outputs(self, x, *, batch_size: int = 32):
        """The frozen part's output for windows ``x`` (numpy), as a float32 numpy array."""
        self.frozen.eval()
        out = []
        with torch.inference_mode():
            for i in range(0, len(x), batch_size):
                out.append(self.frozen(torch.from_numpy(x[i : i + batch_size])).numpy())
        return np.concatenate(out).astype(np.float32, copy=False)


class LstmTagger(nn.Module):
    """``(batch, frames, features + 1)`` (last channel: 1 on real frames, 0 on padding) -> clip logits ``(batch, tags)``.

    ``parallel`` adds a second first layer (``low_pretrained``) beside ``low``; their outputs are concatenated for ``high``.
    """

    def __init__(self, n_features: int, n_tags: int, *, hidden: int, input_dropout: float, conv_channels: int, pooling: str,
                 parallel: bool) -> None:
        super().__init__()
        self.pooling = pooling
        self.dropout = nn.Dropout(input_dropout)
        width = n_features
        self.conv = None
        if conv_channels:
            self.conv = nn.Sequential(nn.Conv1d(n_features, conv_channels, 5, padding=2), nn.ReLU())
            width = conv_channels
        self.low = nn.LSTM(width, hidden, batch_first=True)
        self.low_pretrained = nn.LSTM(width, hidden, batch_first=True) if parallel else None
        self.high = nn.LSTM(hidden * (2 if parallel else 1), hidden, batch_first=True)
        self.out = nn.Linear(hidden, n_tags)

    def frame_proba(self, x):
        """Per-frame tag probabilities ``(batch, frames, tags)`` (zero on padding) and the frame mask."""
        feats, mask = x[..., :-1], x[..., -1:]
        h = self.dropout(feats)
        if self.conv is not None:
            h = self.conv(h.transpose(1, 2)).transpose(1, 2)
        low, _ = self.low(h)
        if self.low_pretrained is not None:
            low = torch.cat([self.low_pretrained(h)[0], low], dim=2)
        high, _ = self.high(low)
        return torch.sigmoid(self.out(high)) * mask, mask

    def forward(self, x):
        return pooled_logits(*self.frame_proba(x), self.pooling)


def pooled_logits(p, mask, pooling: str):
    """Frame probabilities ``(batch, frames, tags)`` pooled over the real frames into clip logits ``(batch, tags)``."""
    if pooling == "max":
        pooled = p.amax(dim=1)
    elif pooling == "mean":
        pooled = p.sum(dim=1) / mask.sum(dim=1).clamp_min(1)
    else:  # linear softmax
        pooled = (p * p).sum(dim=1) / p.sum(dim=1).clamp_min(1e-6)
    pooled = pooled.clamp(1e-6, 1 - 1e-6)
    return torch.log(pooled) - torch.log1p(-pooled)  # logits, so the training loop's losses apply


class SedCRNN(nn.Module):
    """``(batch, frames, bands + 1)`` (last channel: the frame mask) -> frame logits ``(batch, frames, tags)`` when ``strong``,
    else clip logits ``(batch, tags)`` pooled from the frame scores (weak labels).

    The DCASE baseline's shape, scaled to a laptop: three blocks of 3x3 convolution, batch norm, ReLU and max pooling
    (over frequency by 4, 4, 2; over time by ``time_pool`` in the first block only), dropout, a bidirectional GRU, a
    linear layer per frame; the pooled frames' scores are repeated back to the input's frame rate.
    """

    def __init__(self, n_bands: int, n_tags: int, *, channels: tuple = (16, 32, 64), hidden: int = 64, time_pool: int = 2,
                 dropout: float = 0.2, pooling: str = "max", strong: bool = True) -> None:
        super().__init__()
        self.time_pool, self.pooling, self.strong = int(time_pool), pooling, bool(strong)
        layers, c_in, width = [], 1, n_bands
        for i, (c_out, f_pool) in enumerate(zip(channels, (4, 4, 2))):
            t_pool = self.time_pool if i == 0 else 1
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
                       nn.MaxPool2d((t_pool, f_pool), ceil_mode=True), nn.Dropout(dropout)]
            c_in, width = c_out, -(-width // f_pool)
        self.conv = nn.Sequential(*layers)
        self.gru = nn.GRU(c_in * width, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, n_tags)

    def frame_logits(self, x):
        """Frame logits ``(batch, frames, tags)`` at the input's frame rate, and the frame mask ``(batch, frames, 1)``."""
        feats, mask = x[..., :-1], x[..., -1:]
        n = feats.shape[1]
        h = self.conv(feats.unsqueeze(1))  # (batch, channels, frames / time_pool, bands / 32)
        h, _ = self.gru(h.permute(0, 2, 1, 3).flatten(2))
        logits = self.out(h).repeat_interleave(self.time_pool, dim=1)
        if logits.shape[1] < n:  # the last, partial pooled frame
            logits = torch.cat([logits, logits[:, -1:].expand(-1, n - logits.shape[1], -1)], dim=1)
        return logits[:, :n], mask

    def frame_proba(self, x):
        logits, mask = self.frame_logits(x)
        return torch.sigmoid(logits) * mask, mask

    def forward(self, x):
        if self.strong:
            return self.frame_logits(x)[0]
        return pooled_logits(*self.frame_proba(x), self.pooling)
