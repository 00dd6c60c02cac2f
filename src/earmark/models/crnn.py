"""The ``crnn`` network: convolution blocks over frequency, then a bidirectional GRU over time."""

from __future__ import annotations

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
