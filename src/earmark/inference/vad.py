"""Voice activity from Silero VAD (the ONNX model shipped in the ``silero-vad`` package, MIT licence).

The model is located with ``find_spec`` and never imported through the
package (which would pull torchaudio); it runs on onnxruntime, on 16 kHz
audio in 512-sample frames with 64 samples of context and a recurrent
state carried from frame to frame, as the package's own wrapper does.
"""

from __future__ import annotations

import numpy as np

from earmark.embeddings.packaged import packaged_file, require_module

INSTALL = "pip install onnxruntime && pip install --no-deps silero-vad"
SR, FRAME, CONTEXT = 16000, 512, 64


class SileroVad:
    """Streaming speech probability, one value per 32 ms frame of 16 kHz audio."""

    def __init__(self) -> None:
        ort = require_module("onnxruntime", install=INSTALL)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        path = packaged_file("silero_vad", "data/silero_vad.onnx", install=INSTALL)
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)
        self._buf = np.zeros(0, np.float32)

    def push(self, audio_16k: np.ndarray) -> np.ndarray:
        """Add 16 kHz samples; return the speech probabilities of the frames now complete."""
        self._buf = np.concatenate([self._buf, np.asarray(audio_16k, np.float32)])
        out = []
        while len(self._buf) >= FRAME:
            frame, self._buf = self._buf[:FRAME], self._buf[FRAME:]
            x = np.concatenate([self._context, frame])[None]
            prob, self._state = self._session.run(None, {"input": x, "state": self._state, "sr": np.array(SR, dtype=np.int64)})
            self._context = frame[-CONTEXT:]
            out.append(float(prob.reshape(-1)[0]))
        return np.array(out, np.float32)


MIN_SPEECH_S = FRAME / SR  # a clip in which Silero VAD hears not one 32-ms frame of speech holds no voice


def speech_seconds(audio_16k: np.ndarray, *, vad: SileroVad | None = None, threshold: float = 0.5) -> float:
    """Seconds of 16 kHz audio that Silero VAD hears as speech (frames with probability >= ``threshold``).

    The clip is scaled to a peak of 0.5 and given 0.5 s of silence before and
    after: the model needs context, and a spoken digit cut tight (FSDD) is
    otherwise often heard as no speech at all.
    """
    vad = vad or SileroVad()
    vad.reset()
    audio = np.asarray(audio_16k, np.float32)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    pad = np.zeros(SR // 2, np.float32)
    probs = vad.push(np.concatenate([pad, audio * (0.5 / peak) if peak > 0 else audio, pad]))
    return float((probs >= threshold).sum() * FRAME / SR)
