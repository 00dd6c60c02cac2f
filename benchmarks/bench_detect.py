"""Detection in a long recording built from real data, with known event times (issue 4).

    python benchmarks/bench_detect.py [--minutes 10] [--cache-dir DIR]

The ESC-10 clips of fold 1 (trimmed of their digital-silence padding) are
placed in random order with 1-4 s of silence between them into one
recording of about 10 minutes; their spans are the reference events. A
model (aisfx + logistic regression) is trained on folds 2-5 only, `detect`
runs on the recording, and event-based (DCASE collars) and segment-based F1
are printed. The Audacity and Raven exports are read back with earmark's
importers and compared; the events from streaming the file in blocks are
compared with those from the whole signal in memory.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

from _common import data_root, machine

import earmark
import earmark.audio
from earmark.data import Dataset, load_dataset
from earmark.data.labels import Event, read_audacity, read_raven
from earmark.evaluation.events import event_based, segment_based
from earmark.data.labels import write_labels
from earmark.inference.detect import DetectionSettings, detect, detect_events

warnings.filterwarnings("ignore")
OUT = Path(__file__).parent / "out" / "detect"
SR = 44100


def build_recording(clips, seed: int = 0) -> tuple[np.ndarray, list[Event]]:
    rng = np.random.default_rng(seed)
    parts, truth, t = [np.zeros(SR, np.float32)], [], 1.0
    for clip in rng.permutation(len(clips)):
        y, sr = sf.read(clips[clip].path, dtype="float32")
        loud = np.flatnonzero(np.abs(y) > 1e-3)
        y = y[loud[0] : loud[-1] + 1]
        truth.append(Event(t, t + len(y) / SR, clips[clip].label))
        gap = rng.uniform(1.0, 4.0)
        parts += [y, np.zeros(int(gap * SR), np.float32)]
        t += len(y) / SR + int(gap * SR) / SR
    return np.concatenate(parts), truth


def report(truth: list, events: list, duration_s: float) -> None:
    for collar in (0.2, 1.0):
        r = event_based(truth, events, onset_collar_s=collar, offset_collar_s=collar)
        print(f"   event-based F1, onset collar {collar} s, offset collar max({collar} s, 50%): {r['f1']:.3f} "
              f"(precision {r['precision']:.3f}, recall {r['recall']:.3f}; tp {r['tp']}, fp {r['fp']}, fn {r['fn']})")
    r = segment_based(truth, events, duration_s=duration_s, segment_s=1.0)
    print(f"   segment-based F1, 1 s segments: {r['f1']:.3f} (precision {r['precision']:.3f}, recall {r['recall']:.3f})", flush=True)


def frame_model(ds, path: Path, truth: list, duration_s: float, cache_dir, clip_model) -> None:
    """sed-crnn trained on strong labels: one recording per training fold, built as the test recording is (its events
    as an Audacity track beside it), then `detect` on the fold-1 recording, alone and with the aisfx clip model naming
    its events (`detect --label-with`)."""
    from earmark import api

    root = OUT / "sed-train"
    root.mkdir(parents=True, exist_ok=True)
    for fold in "2345":
        wav = root / f"esc10_fold{fold}_long.flac"
        if not wav.is_file():
            y, events = build_recording([c for c in ds.clips if c.fold == fold], seed=int(fold))
            sf.write(wav, y, SR)
            write_labels(events, root / f"esc10_fold{fold}_long.labels.txt", "audacity")
    t0 = time.perf_counter()
    model = api.train_from_labels(root, labels="audacity", model="sed-crnn", cache_dir=cache_dir)
    print(f"sed-crnn trained on strong labels of folds 2-5 (4 recordings, {model.info['data']['n_events']} events) "
          f"in {time.perf_counter() - t0:.0f} s", flush=True)
    for labeller, whole in ((None, False), (None, True), (clip_model, False), (clip_model, True)):
        settings = DetectionSettings(threshold=0.5, median_windows=5, min_duration_s=0.1, merge_gap_s=1.0, one_label_per_event=whole)
        t0 = time.perf_counter()
        events = detect(model, path, settings=settings, labeller=labeller)["events"]
        wall = time.perf_counter() - t0
        print(f"sed-crnn{' --one-label-per-event' if whole else ''}{' --label-with aisfx+logreg' if labeller else ''}: "
              f"{len(events)} events in {wall:.1f} s "
              f"({duration_s / wall:.0f}x realtime), settings {settings.to_dict()}")
        report(truth, events, duration_s)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--sed", action="store_true", help="also train sed-crnn on recordings built the same way from folds 2-5")
    args = ap.parse_args()
    print(machine(), flush=True)
    ds = load_dataset(data_root() / "esc10", fold_column="fold")
    train = Dataset(ds.root, [c for c in ds.clips if c.fold != "1"])
    test = [c for c in ds.clips if c.fold == "1"]
    model = earmark.train(train, embedder="aisfx", classifier="logreg", cache_dir=args.cache_dir)
    y, truth = build_recording(test)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "esc10_fold1_long.flac"
    sf.write(path, y, SR)
    print(f"recording: {len(y) / SR / 60:.1f} min, {len(truth)} reference events (fold 1), model trained on folds 2-5", flush=True)
    for exclusive, hop, refine, whole in ((False, None, False, False), (False, 0.3, False, False), (True, None, False, False),
                                          (True, 0.3, False, False), (True, None, True, False), (True, 0.3, True, False),
                                          (True, None, True, True), (True, 0.3, True, True)):
        settings = DetectionSettings(threshold=0.5, merge_gap_s=1.0, exclusive=exclusive, refine_edges=refine,
                                     one_label_per_event=whole)
        t0 = time.perf_counter()
        result = detect(model, path, settings=settings, hop_s=hop)
        wall = time.perf_counter() - t0
        events = result["events"]
        print(f"detect --hop-s {hop or model.embedder.hop_s:.2f} {'--exclusive' if exclusive else '--no-exclusive'}"
              f"{' --refine-edges' if refine else ''}{' --one-label-per-event' if whole else ''}: "
              f"{len(events)} events in {wall:.1f} s "
              f"({len(y) / SR / wall:.0f}x realtime), settings {settings.to_dict()}")
        report(truth, events, len(y) / SR)
    if args.sed:
        frame_model(ds, path, truth, len(y) / SR, args.cache_dir, model)
    settings = DetectionSettings(threshold=0.5, merge_gap_s=1.0)
    result = detect(model, path, settings=settings)
    events = result["events"]
    same = {}
    for fmt, reader in (("audacity", read_audacity), ("raven", read_raven)):
        out = write_labels(events, OUT / f"events.{fmt}.txt", fmt)
        back, want = reader(out), events  # written with 6 decimals: equal to a microsecond
        same[fmt] = len(back) == len(want) and all(
            a.label == b.label and abs(a.start_s - b.start_s) < 1e-5 and abs(a.end_s - b.end_s) < 1e-5 for a, b in zip(back, want))
    print(f"exports read back identical: {same}")
    decoded, _ = earmark.audio.load(path)  # the same 16-bit samples the stream decodes
    whole = model.embedder.embed(decoded, sr=SR)
    scores = model.window_scores(whole).scores
    in_memory = detect_events(scores, whole.times_s, model.classes, window_s=model.embedder.window_s, hop_s=model.embedder.hop_s,
                              duration_s=whole.duration_s, settings=settings)
    key = [(e.start_s, e.end_s, e.label) for e in events]
    print(f"streamed in blocks == whole signal in memory: {[(e.start_s, e.end_s, e.label) for e in in_memory] == key} "
          f"(max window-score difference {np.abs(scores - result['scores']).max():.2e})")


if __name__ == "__main__":
    main()
