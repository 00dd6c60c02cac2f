"""``wave``: raw waveform windows, the input of ``wavecnn`` (no pretrained weights).

Mono audio at 8 kHz (as M5, Dai et al. 2017), windows of ``window_s``
seconds every ``hop_s``; each window's features are its samples, as they
are (the network scales them). A clip shorter than one window is
zero-padded to one.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from earmark.embeddings.base import Embedding, SecondsWindows


class WaveWindows(SecondsWindows):
    """Raw samples per window, ``(n_samples,)`` features.

    Parameters
    ----------
    window_s, hop_s : float
        Window length and hop in seconds (3 s every 1 s, like the ``logmel`` patches).
    """

    name = "wave"
    version = "1"
    sample_rate = 8000
    licence = "none"

    def __init__(self, *, window_s: float = 3.0, hop_s: float = 1.0) -> None:
        super().__init__(window_s=window_s, hop_s=hop_s)
        self.dims = int(round(window_s * self.sample_rate))

    def params(self) -> dict:
        return {"window_s": self._window_s, "hop_s": self._hop_s}

    def embed_stream(self, chunks: Iterable[np.ndarray]) -> Embedding:
        return self._embed_windows(chunks, length=self.dims, hop=int(round(self._hop_s * self.sample_rate)), batch_size=64,
                                   embed=lambda w: np.array(w, dtype=np.float32))
