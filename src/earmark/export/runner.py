"""Run an earmark model exported to ONNX, with nothing but onnxruntime, numpy and soundfile.

``earmark export MODEL --format onnx --out model.onnx`` writes this file
beside the model. Use it without earmark installed::

    python earmark_onnx_runner.py model.onnx clip1.wav clip2.flac [--top-k 3] [--windows]

or from Python::

    from earmark_onnx_runner import Runner
    runner = Runner("model.onnx")
    runner.predict_file("clip.wav")      # {"label": ..., "score": ..., "scores": {...}}

The graph takes windows of audio samples at the model's sample rate (and,
for ``aisfx`` models, the file's peak) and gives each window's class
probabilities and level in dBFS. This script cuts a file into those windows
exactly as earmark does, drops windows below the model's gate, and averages
(or votes, or pools) the rest into one answer per file. Files at another
sample rate are resampled with an FFT (earmark itself uses soxr, so
scores of such files can differ slightly; same-rate files match earmark to
the tolerance stated in the docs' tour).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

SILENCE_DB = -100.0
BLOCK_SECONDS = 60  # at most this much audio per batch of windows, so memory stays bounded for long files


def cut_windows(y: np.ndarray, framing: dict) -> np.ndarray:
    """The graph's input windows of one signal, ``(n_windows, window_samples)`` float32, on earmark's grid."""
    y = np.asarray(y, dtype=np.float32)
    n = len(y)
    if framing["kind"] == "stft-blocks":
        n_fft, hop, block, block_hop = framing["n_fft"], framing["frame_hop"], framing["block_frames"], framing["block_hop"]
        n_frames = 1 + (n + 2 * (n_fft // 2) - n_fft) // hop  # centred frames, n_fft // 2 zeros at both ends
        n_windows = 1 + (n_frames - block) // block_hop if n_frames >= block else 1
        length, step, lead = (block - 1) * hop + n_fft, block_hop * hop, n_fft // 2
    else:
        length, step, lead = framing["window"], framing["hop"], 0
        n_windows = 1 + (n - length) // step if n >= length else 1
    padded = np.zeros(lead + max(n, (n_windows - 1) * step + length), np.float32)
    padded[lead : lead + n] = y
    view = np.lib.stride_tricks.sliding_window_view(padded, length)[::step]
    return np.ascontiguousarray(view[:n_windows])


def window_times(n_windows: int, framing: dict, sr: int) -> np.ndarray:
    """Centre of each window in seconds."""
    if framing["kind"] == "stft-blocks":
        return (np.arange(n_windows) * framing["block_hop"] + framing["block_frames"] / 2) * framing["frame_hop"] / sr
    return (np.arange(n_windows) * framing["hop"] + framing["window"] / 2) / sr


def resample(y: np.ndarray, sr: int, target: int) -> np.ndarray:
    """FFT resampling (numpy only); earmark itself uses soxr."""
    if sr == target:
        return y
    n = int(round(len(y) * target / sr))
    spec = np.fft.rfft(y)
    out = np.fft.irfft(spec[: n // 2 + 1] if n < len(y) else np.pad(spec, (0, n // 2 + 1 - len(spec))), n)
    return (out * (n / len(y))).astype(np.float32)


def aggregate(proba: np.ndarray, method: str, multilabel: bool) -> np.ndarray:
    """Window probabilities to one clip's, as earmark's ``aggregate_clips``."""
    p = np.asarray(proba, np.float64)
    if method == "mean":
        return p.mean(axis=0)
    if method == "linsoft":
        pooled = (p * p).sum(axis=0) / np.maximum(p.sum(axis=0), 1e-12)
        return pooled if multilabel else pooled / max(pooled.sum(), 1e-12)
    if method == "vote":
        onehot = (p >= 0.5).astype(np.float64) if multilabel else np.eye(p.shape[1])[p.argmax(axis=1)]
        return onehot.mean(axis=0)
    peak = p.max(axis=0)
    return peak if multilabel else peak / peak.sum()


class Runner:
    """An exported model: its onnxruntime session and the settings earmark wrote into it."""

    def __init__(self, path: str, *, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        props = self.session.get_modelmeta().custom_metadata_map
        if "earmark" not in props:
            raise ValueError(f"{path}: not an earmark export (no 'earmark' metadata); export it with earmark export.")
        self.meta = json.loads(props["earmark"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.classes = list(self.meta["classes"])
        self.sr = int(self.meta["sample_rate"])

    def window_scores(self, y: np.ndarray, *, batch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities ``(n_windows, n_classes)`` and levels (dBFS) of every window of a mono signal at the model's rate."""
        windows = cut_windows(y, self.meta["framing"])
        peak = np.float32(max(float(np.max(np.abs(y))) if len(y) else 0.0, 0.0))
        size = batch or max(1, int(BLOCK_SECONDS * self.sr // windows.shape[1]))
        proba, level = [], []
        for i in range(0, len(windows), size):
            feed = {"audio": windows[i : i + size]}
            if "peak" in self.inputs:
                feed["peak"] = np.full((len(feed["audio"]), 1), peak if peak > 0 else 1.0, np.float32)
            p, lv = self.session.run(["probabilities", "level_db"], feed)
            proba.append(p)
            level.append(lv)
        return np.concatenate(proba), np.concatenate(level)

    def predict(self, y: np.ndarray, sr: int) -> dict:
        """One signal's answer: ``label``, ``score``, ``scores`` (every class), ``silent``, ``n_windows``."""
        y = np.asarray(y, np.float32)
        if y.ndim == 2:
            y = y.mean(axis=1)
        y = resample(y, sr, self.sr)
        proba, level = self.window_scores(y)
        meta = self.meta
        gate = meta["gate_db"]
        window_s, duration = meta["window_s"], len(y) / self.sr
        padding_db = 10 * np.log10(window_s / duration) if 0 < duration < window_s else 0.0
        floor = SILENCE_DB if gate is None else gate
        if len(level) == 0 or float(level.max()) + padding_db < floor:
            return {"label": "(silent)", "score": float("nan"), "scores": {}, "silent": True, "n_windows": len(level)}
        keep = np.ones(len(level), bool) if gate is None else level >= gate
        if not keep.any():
            keep = level == level.max()
        clip = aggregate(proba[keep], meta["aggregation"], bool(meta["tagger"]))
        order = np.argsort(-clip, kind="stable")
        scores = {self.classes[i]: float(clip[i]) for i in order}
        if meta["tagger"]:
            tags = [self.classes[i] for i in order if clip[i] >= meta["thresholds"][i]]
            return {"label": ";".join(tags), "score": float(clip[order[0]]), "scores": scores, "silent": False, "n_windows": len(level)}
        return {"label": self.classes[order[0]], "score": float(clip[order[0]]), "scores": scores, "silent": False,
                "n_windows": len(level)}

    def predict_file(self, path: str) -> dict:
        import soundfile as sf

        y, sr = sf.read(str(path), dtype="float32", always_2d=True)
        return self.predict(y.mean(axis=1), sr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Classify audio files with an earmark model exported to ONNX.")
    parser.add_argument("model", help="the .onnx file written by earmark export")
    parser.add_argument("files", nargs="+", help="audio files (WAV, FLAC, OGG: whatever soundfile reads)")
    parser.add_argument("--top-k", type=int, default=1, help="classes to print per file")
    parser.add_argument("--windows", action="store_true", help="print every window's top class instead of one line per file")
    args = parser.parse_args(argv)
    runner = Runner(args.model)
    status = 0
    print("file,label,score" if not args.windows else "file,time_s,level_db,label,score")
    for path in args.files:
        try:
            if args.windows:
                import soundfile as sf

                y, sr = sf.read(path, dtype="float32", always_2d=True)
                y = resample(y.mean(axis=1), sr, runner.sr)
                proba, level = runner.window_scores(y)
                times = window_times(len(proba), runner.meta["framing"], runner.sr)
                for t, lv, p in zip(times, level, proba):
                    print(f"{path},{t:.3f},{lv:.1f},{runner.classes[int(p.argmax())]},{p.max():.4f}")
                continue
            out = runner.predict_file(path)
        except Exception as exc:  # one bad file never stops the batch
            print(f"{path}: skipped ({type(exc).__name__}: {exc})", file=sys.stderr)
            status = 1
            continue
        labels = list(out["scores"].items())[: max(1, args.top_k)]
        print(f"{path},{out['label']},{out['score']:.4f}" + "".join(f",{k}:{v:.4f}" for k, v in labels[1:]))
    return status


if __name__ == "__main__":
    sys.exit(main())
