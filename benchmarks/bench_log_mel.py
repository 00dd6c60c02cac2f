"""log_mel / melspectrogram speed against librosa with identical parameters, in the same run.

    python benchmarks/bench_log_mel.py

Prints median times over repeats for 5 s and 60 s of real audio (ESC-10),
the speed ratio and the largest relative difference of the mel power.
"""

from __future__ import annotations

import statistics
import time

import librosa
import numpy as np
import soundfile as sf

from _common import data_root, machine
from earmark.features import log_mel, melspectrogram

PARAMS = [
    dict(sr=44100, n_fft=2048, hop_length=512, n_mels=128),
    dict(sr=22050, n_fft=1024, hop_length=256, n_mels=64, fmin=50.0, fmax=10000.0),
]


def median_times(fns, rounds: int = 5, per_round: int = 7) -> list[float]:
    """Median wall time of each function.

    Rounds alternate between the functions so drifts in machine load hit all
    alike; each round starts with a pause and one untimed call, because a
    library that just ran leaves threads spinning: OpenBLAS's workers
    busy-wait for about 0.1 s after librosa's multi-threaded mel product,
    and on two cores that took one of the cores earmark's two threads use
    (one untimed call alone, as in earlier versions, did not cover it).
    """
    times = [[] for _ in fns]
    for _ in range(rounds):
        for fn, ts in zip(fns, times):
            time.sleep(0.3)
            fn()
            for _ in range(per_round):
                t = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t)
    return [statistics.median(ts) for ts in times]


def main() -> None:
    print(machine())
    y44, sr = sf.read(data_root() / "esc10/audio/1-100032-A-0.flac", dtype="float32")
    y44 = np.concatenate([sf.read(p, dtype="float32")[0] for p in sorted((data_root() / "esc10/audio").glob("1-1*.flac"))[:12]])
    for kw in PARAMS:
        y = y44 if kw["sr"] == 44100 else librosa.resample(y44, orig_sr=44100, target_sr=kw["sr"]).astype(np.float32)
        for seconds in (5, 60):
            x = y[: seconds * kw["sr"]]
            ref_t, our_t = median_times([lambda: librosa.power_to_db(librosa.feature.melspectrogram(y=x, **kw)), lambda: log_mel(x, **kw)])
            a, b = melspectrogram(x, **kw), librosa.feature.melspectrogram(y=x, **kw)
            rel = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-6 * np.abs(b).max())))
            print(f"{kw} {seconds:>3d} s: librosa {ref_t * 1000:7.1f} ms, earmark {our_t * 1000:7.1f} ms, "
                  f"ratio {ref_t / our_t:4.2f}x, max rel diff {rel:.1e}")


if __name__ == "__main__":
    main()
