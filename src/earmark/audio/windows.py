"""Cut a signal into fixed-length, overlapping analysis windows."""

from __future__ import annotations

import numpy as np

from earmark.errors import check_positive


def frame_windows(y: np.ndarray, *, sr: int, window_s: float, hop_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``y`` into windows of ``window_s`` seconds every ``hop_s`` seconds.

    A clip shorter than one window is zero-padded to one window; the last
    partial window is dropped unless it is the only one.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
    sr : int
        Sample rate in Hz.
    window_s, hop_s : float
        Window length and hop in seconds.

    Returns
    -------
    windows : np.ndarray [shape=(n_windows, window_length)]
        A read-only view where no padding was needed.
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
    if len(y) < length:
        y = np.pad(y, (0, length - len(y)))
    windows = np.lib.stride_tricks.sliding_window_view(y, length)[::hop]
    return windows, np.arange(len(windows)) * hop / sr


def rms_db(windows: np.ndarray) -> np.ndarray:
    """Root-mean-square level of each window in dBFS (``-inf``-safe, floor -120 dB).

    Parameters
    ----------
    windows : np.ndarray [shape=(..., n)]

    Returns
    -------
    np.ndarray [shape=(...)]
    """
    power = np.mean(np.square(windows, dtype=np.float64), axis=-1)
    return 10.0 * np.log10(np.maximum(power, 1e-12))
