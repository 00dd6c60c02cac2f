"""Embedding throughput from a cold cache, in x realtime, and accuracy from those embeddings.

    python benchmarks/bench_embed.py [--embedder aisfx] [--limit N]

Embeds ESC-10 clips with the cache disabled (every clip decoded and run
through the network), prints audio seconds / wall seconds. As a reference
measured in the same run it times the plain pipeline: the same network
without BN folding / TorchScript, fed by librosa's melspectrogram.
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embedder", default="aisfx")
    ap.add_argument("--limit", type=int, default=400)
    args = ap.parse_args()
    print(machine())
    paths = sorted((data_root() / "esc10/audio").glob("*.flac"))[: args.limit]
    audio_s = sum(sf.info(p).duration for p in paths)
    emb = get_embedder(args.embedder)
    emb.embed_file(paths[0])  # model load / TorchScript optimisation, once per process
    t = time.perf_counter()
    for p in paths:
        emb.embed_file(p)
    wall = time.perf_counter() - t
    print(f"{args.embedder}: {len(paths)} files, {audio_s:.0f} s audio in {wall:.1f} s -> {audio_s / wall:.1f}x realtime")
    if args.embedder == "aisfx":
        ref = plain_aisfx(paths)
        print(f"plain reference pipeline: {audio_s / ref:.1f}x realtime; earmark is {ref / wall:.2f}x faster")


if __name__ == "__main__":
    main()
