"""Cut a signal, whole or streamed in chunks, into fixed-length overlapping windows."""

from __future__ import annotations

import numpy as np

from earmark.errors import check_positive


class Framer:
    """Cut a stream of chunks into frames of ``length`` samples every ``hop`` samples.

    Chunk boundaries do not change the frames: a frame straddling two chunks
    is assembled from both, so streaming a file in blocks gives exactly the
    frames of the whole signal. ``pad_start`` zeros are prepended.

    Examples
    --------
    >>> f = Framer(4, 2)
    >>> f.push(np.arange(5, dtype=np.float32)).tolist()
    [[0.0, 1.0, 2.0, 3.0]]
    >>> f.push(np.arange(5, 7, dtype=np.float32)).tolist()
    [[2.0, 3.0, 4.0, 5.0]]
    """

    def __init__(self, length: int, hop: int, *, pad_start: int = 0) -> None:
        self.length = check_positive("length", length, kind=int)
        self.hop = check_positive("hop", hop, kind=int)
        self._buf = np.zeros(pad_start, np.float32)
        self.n_samples = 0

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """Add samples; return the frames now complete, shape ``(n, length)``, float32."""
        self.n_samples += len(chunk)
        return self._take(np.concatenate([self._buf, np.asarray(chunk, np.float32)]))

    def finish(self, pad_end: int = 0) -> np.ndarray:
        """Append ``pad_end`` zeros and return the last complete frames."""
        return self._take(np.concatenate([self._buf, np.zeros(pad_end, np.float32)]))

    def _take(self, buf: np.ndarray) -> np.ndarray:
        n = 0 if len(buf) < self.length else 1 + (len(buf) - self.length) // self.hop
        if n == 0:
            self._buf = buf
            return np.zeros((0, self.length), np.float32)
        frames = np.lib.stride_tricks.sliding_window_view(buf, self.length)[: n * self.hop : self.hop].copy()
        self._buf = buf[n * self.hop :]
        return frames


def frame_windows(y: np.ndarray, *, sr: int, window_s: float, hop_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Cut a whole signal into windows of ``window_s`` seconds every ``hop_s`` seconds.

    A clip shorter than one window is zero-padded to one window; a last
    partial window is dropped.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
    sr : int
        Sample rate in Hz.
    window_s, hop_s : float
        Window length and hop in seconds.

    Returns
    -------
    windows : np.ndarray [shape=(n_windows, window_length), dtype=float32]
    starts_s : np.ndarray [shape=(n_windows,)]
        Start time of each window in seconds.

    Examples
    --------
    >>> w, t = frame_windows(np.zeros(16000, np.float32), sr=8000, window_s=1.0, hop_s=0.5)
    >>> w.shape, t.tolist()
    ((3, 8000), [0.0, 0.5, 1.0])
    """
    check_positive("window_s", window_s)
    check_positive("hop_s", hop_s)
    length = max(1, int(round(window_s * sr)))
    hop = max(1, int(round(hop_s * sr)))
    framer = Framer(length, hop)
    windows = framer.push(y)
    if len(windows) == 0:
        windows = framer.finish(length - len(y))
    return windows, np.arange(len(windows)) * hop / sr


def rms_db(windows: np.ndarray) -> np.ndarray:
    """Root-mean-square level of each window in dBFS (floor -120 dB), float32.

    Parameters
    ----------
    windows : np.ndarray [shape=(..., n)]

    Returns
    -------
    np.ndarray [shape=(...)]
    """
    if windows.shape[-1] == 0:
        return np.full(windows.shape[:-1], -120.0, np.float32)
    power = np.mean(np.square(windows, dtype=np.float64), axis=-1)
    return (10.0 * np.log10(np.maximum(power, 1e-12))).astype(np.float32)


def peak_normalize(windows: np.ndarray) -> np.ndarray:
    """Scale each window to a peak of 1 (silent windows are left at zero).

    Parameters
    ----------
    windows : np.ndarray [shape=(n_windows, n)]
    """
    peak = np.max(np.abs(windows), axis=-1, keepdims=True)
    return (windows / np.where(peak > 0, peak, 1.0)).astype(np.float32, copy=False)
