"""Mel spectrograms and MFCCs with librosa's parameters, computed faster.

The speed comes from things librosa does not do: the mel basis and the
window are cached per parameter set, the FFT runs in single precision on all
cores, and the squared magnitude and the mel projection are done in float32,
the projection only over the bins each group of filters covers.

The FFT of a whole signal goes through ``torch.stft`` (MKL's FFT, 1.7x
scipy's pocketfft here, on torch's own threads) when torch is already loaded
in the process, and through ``scipy.fft`` on a small thread pool otherwise, so
torch-free callers do not pay torch's 1 s import. The two agree to float32
rounding (1e-4 dB); earmark's own front ends ask for ``fft="scipy"``, so the
features a model or store holds never depend on what a process had imported.
"""

from __future__ import annotations

import functools
import sys
import threading

import numpy as np
import scipy.fft

from earmark.errors import ParameterError, check_choice, check_positive
from earmark.threads import process_cores

_WORKERS = max(1, min(4, process_cores()))


@functools.lru_cache(maxsize=32)
def mel_filterbank(
    *, sr: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None, htk: bool = False, norm="slaney"
) -> np.ndarray:
    """The mel filter matrix, as ``librosa.filters.mel`` builds it (cached, read-only).

    Kept on disk too (``mel/`` in :func:`earmark.fileio.cache_root`, keyed by
    the parameters and librosa's version): importing librosa costs a new
    process 0.75 s, more than a whole ``earmark predict`` of a clip should.

    Returns
    -------
    np.ndarray [shape=(n_mels, 1 + n_fft // 2), dtype=float32]
    """
    import hashlib
    import importlib.metadata

    from earmark.errors import OutputError
    from earmark.fileio import atomic_write, cache_root

    key = repr((sr, n_fft, n_mels, fmin, fmax, htk, norm, importlib.metadata.version("librosa")))
    path = cache_root() / "mel" / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.npy"
    basis = None
    if path.is_file():
        try:
            basis = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            basis = None  # unreadable or truncated: rebuilt below
        if basis is not None and basis.shape != (n_mels, 1 + n_fft // 2):
            basis = None
    if basis is None:
        import librosa

        basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)
        try:
            with atomic_write(path, "wb") as f:
                np.save(f, np.ascontiguousarray(basis, dtype=np.float32), allow_pickle=False)
        except OutputError:
            pass  # a read-only cache: built again next time
    basis = np.ascontiguousarray(basis, dtype=np.float32)
    basis.flags.writeable = False
    return basis


@functools.lru_cache(maxsize=32)
def _window(name: str, n_fft: int, win_length: int) -> np.ndarray:
    if name == "hann":  # scipy's periodic Hann, bit for bit, without importing scipy.signal (0.1 s of every start-up)
        win = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(win_length) / win_length)).astype(np.float32)
    else:
        import scipy.signal

        win = scipy.signal.get_window(name, win_length, fftbins=True).astype(np.float32)
    if win_length < n_fft:  # centre the window in the frame, as librosa does
        left = (n_fft - win_length) // 2
        win = np.pad(win, (left, n_fft - win_length - left))
    win.flags.writeable = False
    return win


MAX_N_FFT = 1 << 16  # an FFT (or hop) longer than 1.5 s at 44.1 kHz is no front end of this field's
MAX_BANDS = 1024  # mel bands or coefficients
MAX_HOP_S = 600.0  # windows and hops in seconds

def power_spectrogram(
    y: np.ndarray,
    *,
    n_fft: int = 2048,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: str = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    power: float = 2.0,
    fft: str = "auto",
) -> np.ndarray:
    """Magnitude spectrogram ``|STFT(y)| ** power`` with librosa's framing.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
    n_fft, hop_length, win_length : int
        In samples; ``hop_length`` defaults to ``win_length // 4``, ``win_length`` to ``n_fft``.
    center : bool
        Pad ``n_fft // 2`` samples on each side so frame ``t`` is centred at ``t * hop_length``.
    fft : {"auto", "scipy"}
        ``auto``: a short signal through ``torch.stft`` when torch is already
        loaded, else (and for ``scipy``) scipy's FFT on a thread pool; the two
        agree to float32 rounding (about 1e-4 dB). Code whose output must not
        depend on what else the process imported (earmark's own front ends) uses ``scipy``.

    Returns
    -------
    np.ndarray [shape=(1 + n_fft // 2, n_frames), dtype=float32]
    """
    return _spectrum(_framing(y, n_fft, hop_length, win_length, window, center, pad_mode), n_fft, power, None, fft)


def melspectrogram(
    y: np.ndarray,
    *,
    sr: int = 22050,
    n_fft: int = 2048,
    hop_length: int = 512,
    win_length: int | None = None,
    window: str = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    power: float = 2.0,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm="slaney",
    fft: str = "auto",
) -> np.ndarray:
    """Mel power spectrogram, equal to ``librosa.feature.melspectrogram`` with the same arguments.

    ``fft`` chooses the FFT's library as in :func:`power_spectrogram`.

    Returns
    -------
    np.ndarray [shape=(n_mels, n_frames), dtype=float32]

    Examples
    --------
    >>> sr = 22050
    >>> y = np.sin(2 * np.pi * 1000 * np.arange(sr) / sr).astype(np.float32)
    >>> melspectrogram(y, sr=sr).shape
    (128, 44)
    """
    check_positive("sr", sr, kind=int)
    framing = _framing(y, n_fft, hop_length, win_length, window, center, pad_mode)
    basis = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)
    return _spectrum(framing, n_fft, power, basis, fft)


def mel_frames(frames: np.ndarray, *, sr: int, window: str = "hann", power: float = 2.0, n_mels: int = 128,
               fmin: float = 0.0, fmax: float | None = None, htk: bool = False, norm="slaney") -> np.ndarray:
    """Mel spectrum of frames already cut (for streaming callers).

    Parameters
    ----------
    frames : np.ndarray [shape=(n_frames, n_fft)]

    Returns
    -------
    np.ndarray [shape=(n_frames, n_mels), dtype=float32]
    """
    n_fft = frames.shape[-1]
    basis = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)
    return _spectral_map(frames, _window(window, n_fft, n_fft), power, basis)


def _frames(y, n_fft, hop_length, win_length, window, center, pad_mode) -> tuple[np.ndarray, np.ndarray]:
    """The frames (a strided, read-only view of the padded signal) and the window."""
    y, hop_length, win = _framing(y, n_fft, hop_length, win_length, window, center, pad_mode)
    return np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop_length], win


def _framing(y, n_fft, hop_length, win_length, window, center, pad_mode) -> tuple[np.ndarray, int, np.ndarray]:
    """The checked, padded signal, the hop and the window (padded to ``n_fft``)."""
    y = _valid_signal(y)
    check_positive("n_fft", n_fft, kind=int, high=MAX_N_FFT)
    win_length = n_fft if win_length is None else check_positive("win_length", win_length, kind=int)
    if win_length > n_fft:
        raise ParameterError(f"The 'win_length' parameter must be <= n_fft={n_fft}. Got {win_length} instead.")
    hop_length = win_length // 4 if hop_length is None else check_positive("hop_length", hop_length, kind=int)
    if center:
        check_choice("pad_mode", pad_mode, ("constant", "reflect", "edge"))
        y = np.pad(y, n_fft // 2, mode=pad_mode)
    if len(y) < n_fft:
        raise ParameterError(f"The signal ({len(y)} samples) is shorter than n_fft={n_fft}; pad it or lower n_fft.")
    return y, hop_length, _window(window, n_fft, win_length)


def _spectral_map(frames: np.ndarray, win: np.ndarray, power: float, basis: np.ndarray | None) -> np.ndarray:
    """Window, FFT, magnitude**power and (optionally) mel projection, chunk by chunk.

    Chunks of frames (:func:`_chunk_frames`) stay in cache and run on ``_WORKERS`` threads
    (numpy and scipy release the GIL) with BLAS held to one thread each. The
    mel projection only multiplies the frequency bins each group of filters
    covers (:func:`_mel_bands`), a tenth of the dense product.
    Returns ``(n_frames, n_bins or n_mels)`` float32.
    """
    n = len(frames)
    width = basis.shape[0] if basis is not None else frames.shape[-1] // 2 + 1
    out = np.empty((n, width), dtype=np.float32)
    bands = None if basis is None else _mel_bands(basis)
    chunk = _chunk_frames(n, frames.shape[-1])

    def work(start: int) -> None:
        stop = min(start + chunk, n)
        windowed, mag, scratch = _scratch(chunk, frames.shape[-1], stop - start)
        np.multiply(frames[start:stop], win, out=windowed)
        spec = scipy.fft.rfft(windowed, axis=-1, overwrite_x=True)
        _power_and_mel(spec, power, bands, out[start:stop], mag, scratch)

    starts = range(0, n, chunk)
    # BLAS stays on one thread even for a single chunk: idle OpenBLAS workers
    # spin after a call and would slow the PyTorch network that runs next.
    with _blas_single_thread():
        if len(starts) == 1 or _WORKERS == 1:
            for s in starts:
                work(s)
        else:
            # this thread works too, all threads taking the next chunk from one
            # iterator (next() on a range iterator is atomic under the GIL)
            todo = iter(starts)

            def drain() -> None:
                for start in todo:
                    work(start)

            helpers = [_pool().submit(drain) for _ in range(_WORKERS - 1)]
            drain()
            for helper in helpers:
                helper.result()
    return out


def _spectrum(framing: tuple[np.ndarray, int, np.ndarray], n_fft: int, power: float, basis: np.ndarray | None,
              fft: str = "auto") -> np.ndarray:
    """Power (or mel power) spectrum of a padded signal, ``(n_bins or n_mels, n_frames)`` float32.

    With ``fft="auto"``, a short signal (at most ``_TORCH_SAMPLES`` samples of frames, about 12 s at
    44.1 kHz with a 2048-sample FFT) goes through one ``torch.stft`` call when
    torch is loaded (see the module's note): no hand-off to a second thread,
    whose wake-up the scheduler often serves on the caller's own core (a 5-s
    log_mel then took 2.4 ms instead of 1.5). Longer ones go through
    :func:`_spectral_map`, chunk by chunk on the thread pool: one large
    ``torch.stft`` allocates fresh pages on every call and ran 5x slower there.
    """
    y, hop, win = framing
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop]
    if check_choice("fft", fft, ("auto", "scipy")) == "scipy" or "torch" not in sys.modules or frames.shape[0] * n_fft > _TORCH_SAMPLES:
        return _spectral_map(frames, win, power, basis).T
    import torch

    signal = torch.from_numpy(y if y.flags.writeable else y.copy())
    # torch returns (bins, frames) as a transposed view of (frames, bins) memory
    spec = torch.stft(signal, n_fft, hop, window=torch.from_numpy(win.copy()), center=False, return_complex=True).numpy().T
    n, bins = spec.shape
    width = bins if basis is None else basis.shape[0]
    out = np.empty((n, width), dtype=np.float32)
    with _blas_single_thread():
        _power_and_mel(spec, power, None if basis is None else _mel_bands(basis), out, *_scratch(n, n_fft, n)[1:])
    return out.T


_TORCH_SAMPLES = 1 << 21


def _power_and_mel(spec: np.ndarray, power: float, bands, out: np.ndarray, mag: np.ndarray, scratch: np.ndarray) -> None:
    """``|spec| ** power`` of ``(frames, bins)`` spectra, projected on the mel ``bands`` (or not, if None) into ``out``."""
    # squares of near-silent bins underflow float32, and zero is the right power for them; ignored
    # here because this thread may be the caller's, whose np.errstate may say "raise"
    with np.errstate(under="ignore"):
        _power(spec, power, mag, scratch)
        if bands is None:
            out[:] = mag
            return
        for first, last, lo, hi, weights in bands:
            if hi > lo:
                np.matmul(mag[:, lo:hi], weights, out=out[:, first:last])
            else:
                out[:, first:last] = 0.0


def _power(spec: np.ndarray, power: float, mag: np.ndarray, scratch: np.ndarray) -> None:
    """``|spec| ** power`` into ``mag`` (float32)."""
    if power == 2.0:
        np.multiply(spec.real, spec.real, out=mag)
        np.multiply(spec.imag, spec.imag, out=scratch)
        mag += scratch
    else:
        np.abs(spec, out=mag)
        if power != 1.0:
            mag **= power


def _mel_bands(basis: np.ndarray, group: int = 16) -> list[tuple[int, int, int, int, np.ndarray]]:
    """Split a mel basis into groups of ``group`` filters with the bin range they cover.

    Each entry is ``(first_mel, last_mel, first_bin, last_bin, weights.T)``;
    bins outside a group's range have zero weight in all its filters, so
    the banded product equals the dense one.
    """
    key = (basis.ctypes.data, basis.shape)
    if key not in _BANDS:
        bands = []
        for first in range(0, basis.shape[0], group):
            block = basis[first : first + group]
            cols = np.flatnonzero(block.any(axis=0))
            lo, hi = (int(cols[0]), int(cols[-1]) + 1) if len(cols) else (0, 0)
            bands.append((first, first + len(block), lo, hi, np.ascontiguousarray(block[:, lo:hi].T)))
        _BANDS[key] = bands
    return _BANDS[key]


_BANDS: dict = {}  # keyed by the cached, read-only basis arrays of mel_filterbank
_CHUNK_SAMPLES = 1 << 19  # frames per chunk times n_fft (2 MiB of float32 frames): fewer, larger chunks beat cache-sized ones, whose many small calls make the two threads queue for the GIL


_LOCAL = threading.local()


def _scratch(chunk: int, n_fft: int, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """This thread's reusable buffers (windowed frames, magnitudes, scratch), ``rows`` rows of each.

    Fresh arrays of a megabyte or so are new pages from the kernel on every
    call, and their page faults cost as much as the FFT itself here (a 5-s
    log_mel took 2.9 ms with fresh arrays, 2.2 ms with these).
    """
    bufs = getattr(_LOCAL, "bufs", None)
    if bufs is None or bufs[0].shape[0] < chunk or bufs[0].shape[1] != n_fft:
        bins = n_fft // 2 + 1
        bufs = _LOCAL.bufs = (np.empty((chunk, n_fft), np.float32), np.empty((chunk, bins), np.float32),
                              np.empty((chunk, bins), np.float32))
    return tuple(b[:rows] for b in bufs)


def _chunk_frames(n: int, n_fft: int) -> int:
    """Frames per chunk: at most ``_CHUNK_SAMPLES // n_fft``, and a number of
    chunks that is a multiple of the worker count, so no thread idles while
    another does a last chunk alone (431 frames in chunks of 192 left one of
    two threads working alone a third of the time)."""
    most = max(16, _CHUNK_SAMPLES // n_fft)
    if n <= most and n < 64:
        return max(n, 1)
    chunks = -(-n // most)
    chunks = -(-chunks // _WORKERS) * _WORKERS
    return -(-n // chunks)


@functools.lru_cache(maxsize=1)
def _pool():
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max(1, _WORKERS - 1), thread_name_prefix="earmark-fft")


def _blas_single_thread():
    from earmark.threads import single_blas_thread

    return single_blas_thread()


def power_to_db(S: np.ndarray, *, ref: float = 1.0, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    """``10 * log10(max(S, amin) / ref)``, floored ``top_db`` below the peak, as in librosa."""
    check_positive("amin", amin)
    db = 10.0 * np.log10(np.maximum(S, amin, dtype=np.float32)) - np.float32(10.0 * np.log10(max(amin, ref)))
    if top_db is not None:
        check_positive("top_db", top_db, allow_zero=True)
        db = np.maximum(db, db.max() - np.float32(top_db))
    return db.astype(np.float32, copy=False)


def log_mel(y: np.ndarray, *, sr: int = 22050, ref: float = 1.0, amin: float = 1e-10, top_db: float | None = 80.0, **mel_kwargs) -> np.ndarray:
    """Log-scaled mel spectrogram in dB: :func:`power_to_db` of :func:`melspectrogram`.

    Returns
    -------
    np.ndarray [shape=(n_mels, n_frames), dtype=float32]

    Examples
    --------
    >>> y = np.random.default_rng(0).normal(size=22050).astype(np.float32)
    >>> S = log_mel(y, sr=22050, n_mels=64)
    >>> S.shape, S.dtype, float(S.max() - S.min()) <= 80.0
    ((64, 44), dtype('float32'), True)
    """
    return power_to_db(melspectrogram(y, sr=sr, **mel_kwargs), ref=ref, amin=amin, top_db=top_db)


def mfcc(y: np.ndarray, *, sr: int = 22050, n_mfcc: int = 20, top_db: float | None = 80.0, **mel_kwargs) -> np.ndarray:
    """Mel-frequency cepstral coefficients, as ``librosa.feature.mfcc`` (DCT-II, orthonormal).

    Returns
    -------
    np.ndarray [shape=(n_mfcc, n_frames), dtype=float32]

    Examples
    --------
    >>> y = np.random.default_rng(0).normal(size=22050).astype(np.float32)
    >>> mfcc(y, sr=22050, n_mfcc=13).shape
    (13, 44)
    """
    check_positive("n_mfcc", n_mfcc, kind=int)
    S = log_mel(y, sr=sr, top_db=top_db, **mel_kwargs)
    return scipy.fft.dct(S, axis=-2, type=2, norm="ortho")[:n_mfcc].astype(np.float32, copy=False)


def _valid_signal(y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"Audio must be mono with shape (n_samples,). Got shape {y.shape} instead; mix it down first.")
    if not np.issubdtype(y.dtype, np.floating):
        raise ParameterError(f"Audio must be floating point. Got dtype {y.dtype} instead; convert with y.astype(np.float32).")
    if not np.isfinite(y).all():
        raise ParameterError("Audio contains NaN or infinite samples; clean the signal first.")
    return y.astype(np.float32, copy=False)
