"""Torch modules that re-state a front end and a network in operations ONNX can hold.

Each exportable front end has one entry in :data:`FRONT_GRAPHS`: a builder
that returns a :class:`FrontGraph` (a module from a batch of sample windows
to the front end's window features and their levels, plus the framing the
runner needs to cut those windows from a file). The modules compute the
same numbers as the front ends in :mod:`earmark.embeddings` (tested to a
stated tolerance): Hann frames, an FFT, the same mel basis, the same
scaling. ``aisfx`` normalises by the *file's* peak, so its graph takes that
peak as a second input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from earmark.embeddings.base import Embedder
from earmark.errors import ParameterError
from earmark.features.mel import _window, mel_filterbank


@dataclass(frozen=True)
class FrontGraph:
    """A front end as a module, and how a file is cut into its input windows.

    ``framing`` is what the stand-alone runner reads: for ``"stft-blocks"``
    the keys ``n_fft``, ``frame_hop``, ``block_frames`` and ``block_hop``
    (frames are centred: ``n_fft // 2`` zeros at both ends); for
    ``"samples"`` the keys ``window`` and ``hop`` (in samples).
    """

    module: nn.Module
    window_samples: int
    framing: dict
    uses_peak: bool = False


class _Levels(nn.Module):
    """Mean power of a window's frames in dBFS, as :func:`earmark.embeddings.base.block_levels` measures it."""

    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        power = (audio.unfold(1, self.n_fft, self.hop) ** 2).mean(dim=2).mean(dim=1)
        return 10.0 * torch.log10(torch.clamp(power, min=1e-12))


class MelBlocks(nn.Module):
    """Sample windows ``(batch, (frames - 1) * hop + n_fft)`` to mel power ``(batch, frames, n_mels)``."""

    def __init__(self, *, sr: int, n_fft: int, hop: int, n_mels: int, **mel_kwargs) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.from_numpy(np.array(_window("hann", n_fft, n_fft))))
        basis = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, **mel_kwargs)
        self.register_buffer("basis", torch.from_numpy(np.ascontiguousarray(basis.T)))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = torch.fft.rfft(audio.unfold(1, self.n_fft, self.hop) * self.window, dim=-1)
        return (spec.real**2 + spec.imag**2) @ self.basis


class _AisfxFront(nn.Module):
    def __init__(self, with_network: bool) -> None:
        super().__init__()
        from earmark.embeddings import aisfx

        self.mel = MelBlocks(sr=aisfx.AisfxEmbedder.sample_rate, n_fft=aisfx.N_FFT, hop=aisfx.HOP, n_mels=aisfx.N_MELS,
                             fmin=0.0, fmax=22050.0, htk=True, norm=1.0)
        self.levels = _Levels(aisfx.N_FFT, aisfx.HOP)
        self.spec_max = aisfx.SPEC_MAX
        if with_network:
            from earmark.embeddings.aisfx_net import load_aisfx_net

            self.net = load_aisfx_net()
        else:
            self.net = None

    def forward(self, audio: torch.Tensor, peak: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        gain = 1e4 / torch.clamp(peak, min=1e-30) ** 2  # peak normalisation scales power by 1/peak^2
        spec = torch.log10(self.mel(audio) * gain[:, :, None] + 1.0) / self.spec_max
        return (spec if self.net is None else self.net(spec)), self.levels(audio)


class _LogMelFront(nn.Module):
    def __init__(self, front) -> None:
        super().__init__()
        self.mel = MelBlocks(sr=front.sample_rate, n_fft=front.n_fft, hop=front.hop_length, n_mels=front.n_mels)
        self.levels = _Levels(front.n_fft, front.hop_length)
        # a tensor, not a Python float: the exporter's optimiser drops "+ 1e-10" written as a constant (log10(0) = -inf)
        self.register_buffer("amin", torch.tensor([1e-10], dtype=torch.float32))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        db = 10.0 * torch.log10(self.mel(audio) + self.amin)
        return db.transpose(1, 2), self.levels(audio)


class _WaveFront(nn.Module):
    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return audio, 10.0 * torch.log10(torch.clamp((audio**2).mean(dim=1), min=1e-12))


def _blocks(n_fft: int, hop: int, block: int, block_hop: int) -> tuple[int, dict]:
    framing = {"kind": "stft-blocks", "n_fft": n_fft, "frame_hop": hop, "block_frames": block, "block_hop": block_hop}
    return (block - 1) * hop + n_fft, framing


def _aisfx(front, *, with_network: bool = True) -> FrontGraph:
    from earmark.embeddings import aisfx

    n, framing = _blocks(aisfx.N_FFT, aisfx.HOP, aisfx.BLOCK, front._hop_frames)
    return FrontGraph(_AisfxFront(with_network), n, {**framing, "peak_normalise": True}, uses_peak=True)


def _logmel(front) -> FrontGraph:
    n, framing = _blocks(front.n_fft, front.hop_length, front.n_frames, front._hop_frames)
    return FrontGraph(_LogMelFront(front), n, framing)


def _wave(front) -> FrontGraph:
    hop = int(round(front.hop_s * front.sample_rate))
    return FrontGraph(_WaveFront(), front.dims, {"kind": "samples", "window": front.dims, "hop": hop})


FRONT_GRAPHS: dict[str, Callable[[Embedder], FrontGraph]] = {
    "aisfx": _aisfx,
    "aisfx-mel": lambda front: _aisfx(front, with_network=False),
    "logmel": _logmel,
    "kws-mel": _logmel,
    "wave": _wave,
}


def front_graph(front: Embedder) -> FrontGraph:
    """The :class:`FrontGraph` of a front end, or :class:`ParameterError` naming those that export."""
    if front.name not in FRONT_GRAPHS:
        raise ParameterError(f"Front end {front.name!r} cannot be exported to ONNX yet; models on {', '.join(sorted(FRONT_GRAPHS))} can "
                             "(retrain on one of them, e.g. the default aisfx).")
    return FRONT_GRAPHS[front.name](front)


class StaticAdaptivePool(nn.Module):
    """Adaptive max or average pooling written as slices, for a fixed input size (ONNX has no adaptive max pooling).

    The bins are PyTorch's: bin ``i`` of ``n`` over a length ``L`` spans
    ``floor(i L / n)`` to ``ceil((i + 1) L / n)``. ``None`` in ``output_size``
    keeps that axis.
    """

    def __init__(self, output_size, *, reduce: str) -> None:
        super().__init__()
        self.output_size = (output_size,) if isinstance(output_size, int) or output_size is None else tuple(output_size)
        self.reduce = reduce

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sizes = self.output_size * (x.dim() - 2) if len(self.output_size) == 1 else self.output_size
        for axis, n in zip(range(x.dim() - len(sizes), x.dim()), sizes):
            if n is None:
                continue
            length = x.shape[axis]
            parts = []
            for i in range(n):
                lo, hi = (i * length) // n, -(-((i + 1) * length) // n)
                part = x.narrow(axis, lo, hi - lo)
                parts.append(part.amax(dim=axis, keepdim=True) if self.reduce == "max" else part.mean(dim=axis, keepdim=True))
            x = torch.cat(parts, dim=axis)
        return x


def exportable(net: nn.Module) -> nn.Module:
    """A copy of ``net`` with adaptive pooling replaced by :class:`StaticAdaptivePool` (same numbers)."""
    import copy

    net = copy.deepcopy(net)
    for name, child in list(net.named_modules()):
        kind = type(child).__name__
        if kind.startswith("AdaptiveMaxPool") or kind.startswith("AdaptiveAvgPool"):
            parent = net.get_submodule(name.rpartition(".")[0]) if "." in name else net
            setattr(parent, name.rpartition(".")[2], StaticAdaptivePool(child.output_size, reduce="max" if "Max" in kind else "mean"))
    return net


class NetworkScores(nn.Module):
    """A network trained here, from window features to class probabilities (softmax, or sigmoid for a tagger)."""

    def __init__(self, estimator) -> None:
        super().__init__()
        self.net = exportable(estimator.network_).eval()
        self.patch_shape = tuple(estimator._patches(np.zeros((1, *estimator.feature_shape_), np.float32)).shape[1:])
        self.register_buffer("mean", torch.from_numpy(np.asarray(estimator.mean_, np.float32)))
        self.register_buffer("scale", torch.from_numpy(np.asarray(estimator.scale_, np.float32)))
        self.sigmoid = bool(estimator.is_tagger)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = (features.reshape(features.shape[0], *self.patch_shape) - self.mean) / self.scale
        logits = self.net(x)
        return torch.sigmoid(logits) if self.sigmoid else torch.softmax(logits, dim=1)


class FrontAndNetwork(nn.Module):
    """Front end and network in one module: sample windows (and the file's peak) to probabilities and levels."""

    def __init__(self, front: nn.Module, scores: nn.Module, uses_peak: bool) -> None:
        super().__init__()
        self.front, self.scores, self.uses_peak = front, scores, uses_peak

    def forward(self, audio: torch.Tensor, peak: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, level = self.front(audio, peak) if self.uses_peak else self.front(audio)
        return self.scores(features), level
