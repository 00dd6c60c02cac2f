"""``aisfx``: the sound-effects CNN of Ma & Lerch (ISMIR 2022), 512-d embeddings.

Front end as in the ``aisfx`` package's librosa path: peak-normalised audio at
44.1 kHz, 2048-sample Hann frames every 1024 samples (centred, zero padded),
96 HTK mel bands with unit-sum filters, ``log10(1e4 * power + 1)``, scaled by
the paper's 0..9.4578 range; blocks of 100 frames (about 2.3 s) every 50
frames, the last partial block dropped unless it is the only one (then
zero-padded). Weights: CC BY 4.0, (c) 2022 A.B. Ma and A. Lerch.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from earmark.audio.windows import rms_db
from earmark.embeddings.base import Embedder, Embedding, block_levels, block_starts
from earmark.errors import EarmarkError, ParameterError, check_positive
from earmark.features.mel import mel_frames

log = logging.getLogger(__name__)

N_FFT, HOP, N_MELS, BLOCK = 2048, 1024, 96, 100
SPEC_MAX = 9.457798957824707  # the paper's normalisation range (min 0)


BACKENDS = ("auto", "torch", "onnx", "onnx-int8")


@functools.lru_cache(maxsize=1)
def _network():
    """The network, BN folded into the convolutions for inference (cached per process)."""
    import torch

    from earmark.embeddings.aisfx_net import load_aisfx_net

    net = load_aisfx_net()
    with torch.inference_mode():
        return torch.jit.optimize_for_inference(torch.jit.script(net))


@functools.lru_cache(maxsize=1)
def _weights_key() -> str:
    """A short hash of the weights file (found without importing the torch module that loads it)."""
    from earmark.embeddings.cache import file_sha256

    return file_sha256(Path(__file__).with_name("weights") / "aisfx.safetensors")[:16]


def _graph_name(kind: str) -> str:
    """The cache name of a built graph: network version, weights and ``kind`` (``fp32`` or ``int8-<calibration hash>``)."""
    return f"aisfx-{AisfxEmbedder.version}-{_weights_key()}-{kind}"


def _fp32_graph() -> bytes:
    """The network as an ONNX graph (spectrogram blocks to embeddings), built once and kept in the user cache."""
    from earmark.embeddings import onnxrt

    def build() -> bytes:
        import torch

        from earmark.embeddings.aisfx_net import load_aisfx_net

        example = torch.zeros(2, BLOCK, N_MELS)
        return onnxrt.torch_to_onnx(load_aisfx_net(), (example,), ["spec"], ["embedding"])

    return onnxrt.cached_graph(_graph_name("fp32"), build)


_AUTO_FALLBACK: set = set()  # holds "torch" once preparing the ONNX graph failed in this process


@functools.lru_cache(maxsize=1)
def auto_backend() -> str:
    """``onnx`` when onnxruntime is installed and the float32 graph is cached or can be built (torch's exporter needs
    onnxscript), else ``torch``. onnxruntime spares a new process importing torch (1.1 s) and gives the same embeddings."""
    import importlib.util

    from earmark.embeddings import onnxrt

    if _AUTO_FALLBACK or importlib.util.find_spec("onnxruntime") is None:
        return "torch"
    if (onnxrt.graph_dir() / f"{_graph_name('fp32')}.onnx").is_file() or all(importlib.util.find_spec(m) for m in ("onnx", "onnxscript")):
        return "onnx"
    log.info("aisfx runs on torch: install earmark[export] (onnx, onnxscript) to run it on onnxruntime")
    return "torch"


@functools.lru_cache(maxsize=4)
def _session(backend: str, calibration: tuple[str, ...], calibration_key: str):
    """The onnxruntime session of a backend (cached per process; the int8 graph per calibration set)."""
    from earmark.embeddings import onnxrt

    if backend == "onnx":
        return onnxrt.session(_fp32_graph())
    name = _graph_name(f"int8-{calibration_key}")
    if not calibration and not (onnxrt.graph_dir() / f"{name}.onnx").is_file():
        raise ParameterError(f"The int8 aisfx network this model was trained with (calibration {calibration_key}) is not in "
                             f"{onnxrt.graph_dir()}; pass its training recordings with --calibration-data DIR to build one, or "
                             "run it with --backend onnx.")

    def build() -> bytes:
        blocks = _calibration_blocks([Path(p) for p in calibration])
        return onnxrt.quantize_convs(_fp32_graph(), [{"spec": b[None]} for b in blocks])

    return onnxrt.session(onnxrt.cached_graph(name, build))


def _calibration_blocks(files: list[Path]) -> list[np.ndarray]:
    """Spectrogram blocks for int8 calibration, spread over ``files`` (:func:`~earmark.embeddings.onnxrt.calibration_plan`)."""
    from earmark.embeddings.onnxrt import CALIBRATION_WINDOWS, calibration_plan, spread

    front = AisfxBlocks()  # the network's input: the aisfx-mel front end
    chosen, per_file = calibration_plan(files)
    out = []
    for path in chosen:
        try:
            blocks = front.embed_file(path).vectors
        except EarmarkError as exc:
            log.info("calibration: skipping %s", exc)
            continue
        out += [blocks[i] for i in spread(len(blocks), per_file)]
    if not out:
        raise ParameterError("None of the int8 calibration files could be read; pass the training recordings with --calibration-data.")
    log.info("int8 calibration on %d blocks from %d of %d files", len(out[:CALIBRATION_WINDOWS]), len(chosen), len(files))
    return out[:CALIBRATION_WINDOWS]


@functools.lru_cache(maxsize=8)
def calibration_hash(files: tuple[str, ...]) -> str:
    """A short hash of the calibration files' contents (the int8 graph depends on nothing else)."""
    import hashlib

    from earmark.embeddings.cache import file_sha256
    from earmark.embeddings.onnxrt import CALIBRATION_FILES, CALIBRATION_WINDOWS

    digest = hashlib.sha256()
    for sha in sorted(file_sha256(p) for p in files):
        digest.update(sha.encode())
    digest.update(f"{CALIBRATION_FILES}/{CALIBRATION_WINDOWS}".encode())
    return digest.hexdigest()[:16]


class AisfxEmbedder(Embedder):
    """aiSFX X-Sequential-CE embeddings.

    Parameters
    ----------
    hop_s : float or None
        Hop between 100-frame blocks in seconds, snapped to whole frames
        (default: half a block, 1.16 s, as in the paper).
    batch_size : int
        Blocks per forward pass.
    backend : {"auto", "torch", "onnx", "onnx-int8"}
        What runs the network: PyTorch (TorchScript), onnxruntime in
        float32 (the same embeddings to about 2e-6, so both share one
        identity and one cache), or onnxruntime with int8 convolutions
        (2.5x faster; embeddings change, see benchmarks/RESULTS.md).
        ``auto`` (the default): onnx where onnxruntime is installed, else
        torch (:func:`auto_backend`). The ONNX graphs are built once and
        kept in the user cache folder.
    calibration : list of paths or None
        ``onnx-int8`` only: recordings whose spectrogram blocks set the int8
        ranges (the training data). Their content hash is part of the
        embedder's identity, so embeddings of different calibrations never mix.
    calibration_key : str or None
        ``onnx-int8`` without ``calibration``: the hash of an int8 network
        already built on this machine (how a model trained with
        ``--backend onnx-int8`` finds its network again).
    """

    name = "aisfx"
    version = "0.1.2-1"
    sample_rate = 44100
    dims = 512
    licence = "CC BY 4.0"
    measured_realtime = 75.7
    peak_normalised = True
    backends = BACKENDS
    _peak: float | None = None  # the file's peak when given (a stretch of a long file), else measured

    def __init__(self, *, hop_s: float | None = None, batch_size: int = 32, backend: str = "auto", calibration=None,
                 calibration_key: str | None = None) -> None:
        from earmark.errors import check_choice

        if hop_s is not None:
            check_positive("hop_s", hop_s)
        self.batch_size = check_positive("batch_size", batch_size, kind=int)
        self._hop_frames = BLOCK // 2 if hop_s is None else max(1, round(hop_s * self.sample_rate / HOP))
        self.backend = check_choice("backend", backend, BACKENDS)
        self.calibration = tuple(str(p) for p in calibration) if calibration else ()
        if backend == "onnx-int8" and not (self.calibration or calibration_key):
            raise ParameterError("The 'onnx-int8' backend needs calibration recordings (the training data): pass --calibration-data DIR.")
        self._calibration_key = None
        if backend == "onnx-int8":
            self._calibration_key = calibration_hash(self.calibration) if self.calibration else str(calibration_key)

    @property
    def window_s(self) -> float:
        return BLOCK * HOP / self.sample_rate

    @property
    def hop_s(self) -> float:
        return self._hop_frames * HOP / self.sample_rate

    def with_peak(self, peak: float) -> AisfxEmbedder:
        import copy

        given = copy.copy(self)
        given._peak = float(peak)
        return given

    def with_backend(self, backend: str | None, calibration=None, *, what: str = "model") -> AisfxEmbedder:
        """The same windows with the network run by ``backend`` (``onnx-int8``: calibrated on ``calibration``, audio
        files); as is for ``None``, or the same backend and no new calibration."""
        if self.check_backend(backend, what=what) is None or backend == self.backend and not calibration:
            return self
        return AisfxEmbedder(hop_s=self.hop_s, batch_size=self.batch_size, backend=backend, calibration=calibration)

    def params(self) -> dict:
        params = {"hop_blocks": self._hop_frames / BLOCK, "n_fft": N_FFT, "hop_length": HOP, "n_mels": N_MELS, "block_frames": BLOCK}
        if self.backend == "onnx-int8":  # torch and onnx float32 agree to 2e-6: one identity; int8 has its own
            params["backend"] = self.backend
        if self._calibration_key:
            params["calibration_key"] = self._calibration_key
        return params

    def _init_kwargs(self) -> dict:
        return {**super()._init_kwargs(), "calibration": list(self.calibration) or None}

    def spectrogram(self, chunks: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
        """Normalised log-mel frames of a chunk stream.

        Returns
        -------
        spec : np.ndarray [shape=(n_frames, 96), dtype=float32]
        frame_power : np.ndarray [shape=(n_frames,)]
            Mean-square level of each frame (before peak normalisation).
        n_samples : int
        """
        mels, powers, peak = [], [], [0.0]

        def on_chunk(chunk: np.ndarray) -> None:
            if len(chunk):
                peak[0] = max(peak[0], float(np.max(np.abs(chunk))))

        def on_frames(frames: np.ndarray) -> None:
            mels.append(mel_frames(frames, sr=self.sample_rate, n_mels=N_MELS, fmin=0.0, fmax=22050.0, htk=True, norm=1.0))
            powers.append(10.0 ** (rms_db(frames).astype(np.float64) / 10.0))

        n_samples = self._stft_frames(chunks, n_fft=N_FFT, hop=HOP, on_frames=on_frames, on_chunk=on_chunk)
        if self._peak is not None:
            peak[0] = self._peak
        spec = np.concatenate(mels) if mels else np.zeros((0, N_MELS), np.float32)
        gain = 1.0 / peak[0] ** 2 if peak[0] > 0 else 1.0  # peak normalisation scales power by 1/peak^2
        spec = np.log10(spec * np.float32(gain * 1e4) + 1.0) / np.float32(SPEC_MAX)
        return spec.astype(np.float32, copy=False), np.concatenate(powers) if powers else np.zeros(0), n_samples

    def embed_stream(self, chunks: Iterable[np.ndarray]) -> Embedding:
        spec, power, n_samples = self.spectrogram(chunks)
        starts = block_starts(len(spec), BLOCK, self._hop_frames)
        if len(spec) < starts[-1] + BLOCK:
            spec = np.pad(spec, ((0, starts[-1] + BLOCK - len(spec)), (0, 0)))
        times = (starts + BLOCK / 2) * HOP / self.sample_rate
        return Embedding(self._forward(spec, starts), times, block_levels(power, starts, BLOCK), n_samples / self.sample_rate)

    def _forward(self, spec: np.ndarray, starts: np.ndarray) -> np.ndarray:
        blocks = np.lib.stride_tricks.sliding_window_view(spec, (BLOCK, N_MELS))[:, 0]
        backend = auto_backend() if self.backend == "auto" else self.backend
        if backend != "torch":
            try:
                run = _session(backend, self.calibration, self._calibration_key or "").run
            except Exception as exc:  # noqa: BLE001 - auto only: an exporter that fails here must not stop the work
                if self.backend != "auto" or isinstance(exc, EarmarkError):
                    raise
                log.warning("the aisfx network could not be prepared for onnxruntime (%s: %s); running it on torch",
                            type(exc).__name__, exc)
                _AUTO_FALLBACK.add("torch")
                auto_backend.cache_clear()
                return self._forward(spec, starts)
            out = [run(["embedding"], {"spec": np.ascontiguousarray(blocks[starts[i : i + self.batch_size]])})[0]
                   for i in range(0, len(starts), self.batch_size)]
            return np.concatenate(out).astype(np.float32, copy=False)
        import torch

        net = _network()
        out = []
        with torch.inference_mode():
            for i in range(0, len(starts), self.batch_size):
                batch = np.ascontiguousarray(blocks[starts[i : i + self.batch_size]])
                out.append(net(torch.from_numpy(batch)).numpy())
        return np.concatenate(out).astype(np.float32, copy=False)


class AisfxBlocks(AisfxEmbedder):
    """``aisfx-mel``: the aiSFX network's input, its normalised log-mel blocks ``(100 frames, 96 bands)`` per window.

    The front end of ``finetune:aisfx``: the same blocks, times and levels
    as ``aisfx``, before the network, so the network can be trained here.
    """

    name = "aisfx-mel"
    version = "0.1.2-1"
    dims = BLOCK * N_MELS
    licence = "none (features only; the fine-tuned weights are CC BY 4.0)"
    measured_realtime = None

    @property
    def feature_shape(self) -> tuple[int, ...]:
        return (BLOCK, N_MELS)

    def _forward(self, spec: np.ndarray, starts: np.ndarray) -> np.ndarray:
        blocks = np.lib.stride_tricks.sliding_window_view(spec, (BLOCK, N_MELS))[:, 0]
        return np.ascontiguousarray(blocks[starts], dtype=np.float32)
