"""Embedding throughput from a cold cache, in x realtime, and accuracy from those embeddings.

    python benchmarks/bench_embed.py [--embedder aisfx] [--limit N]
    python benchmarks/bench_embed.py --embedder birdnet --long-s 95   # one long file: first and second embedding
    python benchmarks/bench_embed.py --birdnet-first-call 1,2,8      # TFLite's first call per batch size, fresh processes

Embeds ESC-10 clips with the cache disabled (every clip decoded and run
through the network), prints audio seconds / wall seconds twice: as a new
process sees it (model loading and every one-off set-up included: the
figure ``earmark embedders`` shows) and in steady state (after one file).
As a reference measured in the same run it times the plain pipeline for
aisfx: the same network without BN folding / TorchScript, fed by librosa's
melspectrogram.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import soundfile as sf
import torch

from _common import data_root, machine
from earmark.embeddings import get_embedder


def plain_aisfx(paths) -> float:
    """The reference pipeline: librosa mel + the unoptimised network, per file."""
    import librosa

    from earmark.embeddings.aisfx_net import load_aisfx_net

    net = load_aisfx_net()
    t = time.perf_counter()
    for p in paths:
        y, sr = sf.read(p, dtype="float32")
        y = y / max(np.abs(y).max(), 1e-12)
        S = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=1024, n_mels=96, htk=True, norm=1.0, fmax=22050.0)
        spec = (np.log10(S * 1e4 + 1) / 9.457798957824707).T.astype(np.float32)
        starts = range(0, max(1, 1 + (len(spec) - 100) // 50) * 50, 50)
        blocks = np.stack([spec[s : s + 100] for s in starts])
        with torch.inference_mode():
            net(torch.from_numpy(blocks))
    return time.perf_counter() - t


_FIRST_CALL = """
import time, numpy as np
from earmark.embeddings.birdnet import _interpreter, WINDOW
b = {b}
it, inp, out, lock = _interpreter(b)
x = np.zeros((b, WINDOW), np.float32)
t = time.perf_counter(); it.set_tensor(inp, x); it.invoke(); first = time.perf_counter() - t
t = time.perf_counter()
for _ in range(5):
    it.set_tensor(inp, x); it.invoke()
print(f"batch {{b}}: first call {{first:.2f}} s, then {{(time.perf_counter() - t) / 5 / b:.3f}} s per window")
"""


def birdnet_first_call(sizes) -> None:
    """TensorFlow Lite's one-off cost of the first call at each batch size, each in a fresh process."""
    import subprocess
    import sys

    for b in sizes:
        out = subprocess.run([sys.executable, "-c", _FIRST_CALL.format(b=b)], capture_output=True, text=True, check=True)
        print(out.stdout.strip())


def long_file(name: str, paths, seconds: float) -> None:
    """A new process embeds one long file twice: the first run pays every one-off cost, the second none."""
    import tempfile
    from pathlib import Path

    import earmark.audio

    sr = 44100
    y = np.concatenate([earmark.audio.load(p, sr=sr)[0] for p in paths[: int(seconds // 5) + 1]])[: int(seconds * sr)]
    path = Path(tempfile.mkdtemp()) / f"long_{seconds:.0f}s.flac"
    sf.write(path, y, sr)
    emb = get_embedder(name)
    for run in ("first (new process)", "second"):
        t = time.perf_counter()
        e = emb.embed_file(path)
        wall = time.perf_counter() - t
        print(f"{name}, one {seconds:.0f} s file, {run}: {wall:.2f} s ({seconds / wall:.1f}x realtime, {len(e.vectors)} windows)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embedder", default="aisfx")
    ap.add_argument("--limit", type=int, default=400)
    ap.add_argument("--long-s", type=float, default=None, help="instead: one file this long, embedded twice in a new process")
    ap.add_argument("--birdnet-first-call", default=None, help="instead: batch sizes whose first BirdNET call is timed, each in a new process")
    args = ap.parse_args()
    print(machine())
    if args.birdnet_first_call:
        return birdnet_first_call([int(b) for b in args.birdnet_first_call.split(",")])
    paths = sorted((data_root() / "esc10/audio").glob("*.flac"))[: args.limit]
    if args.long_s:
        return long_file(args.embedder, paths, args.long_s)
    audio_s = sum(sf.info(p).duration for p in paths)
    emb = get_embedder(args.embedder)
    t0 = time.perf_counter()
    emb.embed_file(paths[0])  # model load / TorchScript optimisation, once per process
    t = time.perf_counter()
    for p in paths[1:]:
        emb.embed_file(p)
    t1 = time.perf_counter()
    first_s, wall = t - t0, t1 - t
    rest_s = audio_s - sf.info(paths[0]).duration
    print(f"{args.embedder}: {len(paths)} files, {audio_s:.0f} s audio; new process (load included): {t1 - t0:.1f} s -> "
          f"{audio_s / (t1 - t0):.1f}x realtime; first file {first_s:.2f} s; steady state {rest_s / wall:.1f}x realtime")
    wall = wall * audio_s / rest_s  # steady-state time for all files, for the reference ratio
    if args.embedder == "aisfx":
        ref = plain_aisfx(paths)
        print(f"plain reference pipeline: {audio_s / ref:.1f}x realtime; earmark is {ref / wall:.2f}x faster")


if __name__ == "__main__":
    main()
