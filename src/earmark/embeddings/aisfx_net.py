"""The aiSFX embedding network (Ma & Lerch, ISMIR 2022), re-implemented in PyTorch.

Architecture: four VGG-style blocks (two 3x3 conv + batch norm + ReLU, then
2x2 max pooling on the first three), mean over frequency, max over time.
Input ``(batch, frames, mels)`` = ``(B, 100, 96)``; output ``(B, 512)``.

The weights ship as ``weights/aisfx.safetensors`` (CC BY 4.0, (c) 2022 A.B. Ma
and A. Lerch), converted from the ``aisfx==0.1.2`` PyPI package by
``scripts/convert_aisfx_weights.py``. Loading them reads plain tensors and runs
no pickle code.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

WEIGHTS_PATH = Path(__file__).with_name("weights") / "aisfx.safetensors"
CHANNELS = (64, 128, 256, 512)


class ConvBlock(nn.Module):
    """Two 3x3 convolutions, each followed by batch norm and ReLU, then max pooling."""

    def __init__(self, in_channels: int, out_channels: int, *, pool: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        if self.pool > 1:
            x = F.max_pool2d(x, self.pool)
        return x


class AisfxNet(nn.Module):
    """aiSFX ``EmbeddingNet('max', 3, 1, 64)``: log-mel blocks to 512-d embeddings."""

    def __init__(self) -> None:
        super().__init__()
        ins = (1,) + CHANNELS[:-1]
        pools = (2, 2, 2, 1)
        for i, (cin, cout, pool) in enumerate(zip(ins, CHANNELS, pools), start=1):
            self.add_module(f"conv_block{i}", ConvBlock(cin, cout, pool=pool))

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """Embed spectrogram blocks.

        Parameters
        ----------
        spec : torch.Tensor [shape=(batch, frames, mels)]

        Returns
        -------
        torch.Tensor [shape=(batch, 512)]
        """
        x = spec.unsqueeze(1)
        x = self.conv_block1(x)
        x = self.conv_block2(x)
        x = self.conv_block3(x)
        x = self.conv_block4(x)
        return x.mean(dim=3).amax(dim=2)


def load_aisfx_net(path: Path = WEIGHTS_PATH) -> AisfxNet:
    """Build the network and load its safetensors weights, in eval mode."""
    from safetensors.torch import load_file

    net = AisfxNet()
    state = load_file(str(path))
    net.load_state_dict(state, strict=True)
    net.eval()
    return net
