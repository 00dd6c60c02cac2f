"""Sound event detection on strong-label soundscapes: frame-level CRNN against window classifiers (issue 26, part 3).

    pip install --target /tmp/psdslib sed_scores_eval lazy_dataset einops --no-deps   # beside the project
    pip install --target /tmp/sedlib sed_eval "setuptools<81"                          # (sed_scores_eval imports sed_eval)
    python benchmarks/bench_sed.py --work DIR --psds /tmp/psdslib:/tmp/sedlib [--train 500 --val 100 --test 200] [--json out.json]

`earmark mix` makes 10-s scenes from ESC-10: up to three events of dog,
rooster, crying_baby, sneezing and clock_tick over the five ambient classes
(rain, sea_waves, crackling_fire, helicopter, chainsaw), EBR -6/0/+6 dB, nine
scenes in ten with events; the training and test scenes share no source
recording (500 training, 100 validation and 200 test scenes). Each model
learns from the training scenes only; `detect`'s post-processing (threshold,
median filter, merge gap) is chosen for each model by the same grid search
on the validation scenes; its events on the test scenes are scored
with DCASE's definitions: event-based F1 with 200-ms onset collars (offsets
within max(200 ms, half the event)), segment-based F1 over 1-s segments
(earmark.evaluation.events, equal to sed_eval: bench_event_metrics.py), and
PSDS1 (dtc = gtc = 0.7, alpha_st = 1, max eFPR 100 per hour) from the raw
scores with sed_scores_eval, when its folder is given. Same-class events
that overlap in a scene are merged in the reference.

Models, all trained here in the same run:
- aisfx + logreg, weak: the scenes' tags (a multi-label head over aisfx windows, `earmark train MIX`);
- aisfx + logreg, strong: events cut into window clips plus a background class (`train --labels audacity`);
  also with `--refine-edges`;
- sed-crnn, weak: the frame CRNN trained on the scenes' tags, frame scores max-pooled;
- sed-crnn, strong: the same network trained on every frame's tags (`train --labels audacity --model sed-crnn`).
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from _common import machine, work_args

import earmark
from earmark import api
from earmark.data import Dataset, load_dataset
from earmark.data.annotations import tidy_events
from earmark.data.labels import BACKGROUND, Event
from earmark.embeddings import EmbeddingCache
from earmark.evaluation.events import event_based, segment_based
from earmark.inference.detect import DetectionSettings, detect_events, level_frames, refine_edges

BACKGROUNDS = ["rain", "sea_waves", "crackling_fire", "helicopter", "chainsaw"]
EVENTS = ["dog", "rooster", "crying_baby", "sneezing", "clock_tick"]
DURATION_S = 10.0


def _add(ap) -> None:
    ap.add_argument("--train", type=int, default=500, help="training scenes")
    ap.add_argument("--test", type=int, default=200, help="test scenes")
    ap.add_argument("--val", type=int, default=100, help="validation scenes the post-processing is chosen on")
    ap.add_argument("--psds", default=None, help="folders (':'-separated) holding sed_scores_eval and sed_eval")
    ap.add_argument("--only", default=None, help="model names to run, separated by ';'")


def make_scenes(data: Path, work: Path, n_train: int, n_val: int, n_test: int) -> Path:
    out = work / "scenes"
    if not (out / "metadata.csv").is_file():
        t0 = time.perf_counter()
        api.mix(data / "esc10", data / "esc10", out, splits={"train": n_train, "val": n_val, "test": n_test}, duration_s=DURATION_S,
                ebr_db=(-6.0, 0.0, 6.0), event_rate=0.9, max_events=3, background_classes=BACKGROUNDS,
                event_classes=EVENTS, seed=0)
        print(f"mixed {n_train} + {n_val} + {n_test} scenes in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def reference(scenes: Path, part: str) -> dict[str, list[Event]]:
    """The events of one split's scenes, same-class overlaps merged (as a label file is tidied for training)."""
    rows: dict[str, list[Event]] = {}
    with open(scenes / "events.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["filename"].startswith(f"audio/{part}/"):
                rows.setdefault(r["filename"], []).append(Event(float(r["onset_s"]), float(r["offset_s"]), r["label"]))
    names = sorted(str(p.relative_to(scenes)) for p in (scenes / "audio" / part).glob("*.wav"))
    return {n: tidy_events(rows.get(n, []), DURATION_S, n)[0] for n in names}


def split(scenes: Path, name: str) -> Dataset:
    ds = load_dataset(scenes)
    return Dataset(ds.root, [c for c in ds.clips if c.path.parent.name == name])


def train_models(scenes: Path, cache: Path, only: set | None) -> dict:
    train_dir = scenes / "audio" / "train"
    recipes = {
        "aisfx + logreg, weak": lambda: earmark.train(split(scenes, "train"), embedder="aisfx", classifier="logreg", cache_dir=cache),
        "aisfx + logreg, strong": lambda: api.train_from_labels(train_dir, labels="audacity", embedder="aisfx", classifier="logreg",
                                                                cache_dir=cache),
        "sed-crnn, weak": lambda: earmark.train(split(scenes, "train"), model="sed-crnn", cache_dir=cache, gate_db=None),
        "sed-crnn, strong": lambda: api.train_from_labels(train_dir, labels="audacity", model="sed-crnn", cache_dir=cache),
    }
    models = {}
    for name, make in recipes.items():
        if only and name not in only:
            continue
        path = scenes.parent / "models" / (name.replace(" + ", "-").replace(", ", "-").replace(" ", "-") + ".earmark")
        t0 = time.perf_counter()
        if path.is_file():
            model = earmark.load_model(path)
        else:
            model = make()
            path.parent.mkdir(exist_ok=True)
            model.save(path)
        models[name] = (model, sum(model.info.get("seconds", {}).values()) or time.perf_counter() - t0)  # embedding + fit
        print(f"{name}: ready in {models[name][1]:.0f} s ({path.name})", flush=True)
    return models


def score_frames(ws, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The scores as sed_scores_eval reads them: one row per window, from halfway to the previous window's centre to
    halfway to the next (the start and end of the scene at the ends)."""
    centres, dur, have = np.asarray(ws.times_s), ws.duration_s, list(ws.classes)
    edges = np.clip(np.concatenate([[0.0], (centres[:-1] + centres[1:]) / 2, [dur]]), 0.0, dur)
    scores = np.stack([ws.scores[:, have.index(c)] if c in have else np.zeros(len(centres)) for c in classes], axis=1)
    ok = np.diff(edges) > 0
    return scores[ok], np.concatenate([edges[:-1][ok], [edges[-1]]])


def psds1(scored: dict, ref: dict, classes: list[str]) -> float:
    from sed_scores_eval import intersection_based
    from sed_scores_eval.base_modules import statistics
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    curves = statistics.onset_offset_curves
    if not getattr(curves, "copies", False):  # its Cython kernel wants writable arrays; pandas 3 hands out read-only views
        def writable(*a):
            return curves(*[np.array(x) if isinstance(x, np.ndarray) else x for x in a])

        writable.copies = True
        statistics.onset_offset_curves = writable

    frames = {Path(n).stem: create_score_dataframe(s, t, classes) for n, (s, t) in scored.items()}
    truth = {Path(n).stem: [(e.start_s, e.end_s, e.label) for e in evs] for n, evs in ref.items()}
    value, *_ = intersection_based.psds(frames, truth, {Path(n).stem: DURATION_S for n in ref}, dtc_threshold=0.7,
                                        gtc_threshold=0.7, cttc_threshold=None, alpha_ct=0.0, alpha_st=1.0, max_efpr=100.0)
    return float(value)


def scene_scores(model, scenes: Path, names, cache: EmbeddingCache, refine: bool) -> dict:
    """Each scene's window scores (and 10-ms levels, for refined edges), computed once for every setting tried."""
    out = {}
    for name in names:
        ws = model.window_scores(scenes / name, cache=cache)
        out[name] = (ws, level_frames(scenes / name) if refine else None)
    return out


def scored_events(model, scored: dict, ref: dict, settings: DetectionSettings) -> dict:
    """Event F1 (200-ms collars) and segment F1 (1 s) of ``settings`` over the scenes of ``ref``."""
    est, truth, seg = [], [], np.zeros(3)
    for name, events in ref.items():
        ws, levels = scored[name]
        found = detect_events(ws.scores, ws.times_s, ws.classes, window_s=ws.window_s, hop_s=ws.hop_s, duration_s=ws.duration_s,
                              settings=settings)
        if levels is not None and found:
            found = refine_edges(found, levels, search_s=model.front_end.window_s / 2)
        est += [Event(e.start_s, e.end_s, f"{name}|{e.label}") for e in found]
        truth += [Event(e.start_s, e.end_s, f"{name}|{e.label}") for e in events]
        r = segment_based(events, found, duration_s=DURATION_S)
        seg += [r["tp"], r["fp"], r["fn"]]
    ev = event_based(truth, est, onset_collar_s=0.2, offset_collar_s=0.2)
    return {"event_f1": ev["f1"], "event_precision": ev["precision"], "event_recall": ev["recall"],
            "segment_f1": 2 * seg[0] / max(1, 2 * seg[0] + seg[1] + seg[2]), "n_reference": len(truth), "n_detected": len(est)}


def tuned_settings(model, scored: dict, ref: dict) -> DetectionSettings:
    """The post-processing with the best event F1 on the validation scenes (threshold, median filter, merge gap): every
    model gets the same search, as a DCASE system tunes on its validation set."""
    frames = model.front_end.hop_s < 0.1
    best, best_key = None, None
    for threshold in (0.3, 0.5, 0.7, 0.85):
        for median_s in (0.1, 0.5, 1.0) if frames else (0.0, 1.0):
            for gap in (0.2, 0.5, 1.0, 2.0):
                settings = DetectionSettings(threshold=threshold, exclusive=False, min_duration_s=0.1, merge_gap_s=gap,
                                             median_windows=max(1, int(round(median_s / model.front_end.hop_s)) | 1))
                r = scored_events(model, scored, ref, settings)
                key = (r["event_f1"], r["segment_f1"])
                if best_key is None or key > best_key:
                    best, best_key = settings, key
    return best


def evaluate(model, scenes: Path, ref: dict, tune_ref: dict, cache: EmbeddingCache, *, refine: bool, with_psds: bool) -> dict:
    t0 = time.perf_counter()
    settings = tuned_settings(model, scene_scores(model, scenes, tune_ref, cache, refine), tune_ref)
    tune_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scored = scene_scores(model, scenes, ref, cache, refine)
    out = scored_events(model, scored, ref, settings) | {"detect_s": time.perf_counter() - t0, "tune_s": tune_s,
                                                          "settings": settings.to_dict()}
    if with_psds:
        out["psds1"] = psds1({n: score_frames(ws, EVENTS) for n, (ws, _) in scored.items()}, ref, EVENTS)
    return out


def main() -> None:
    args, data, work, cache_dir = work_args(__doc__, _add)
    if args.psds:
        sys.path += args.psds.split(":")  # after earmark's own packages, so nothing of the environment is shadowed
    print(machine(), flush=True)
    scenes = make_scenes(data, work, args.train, args.val, args.test)
    ref, tune_ref = reference(scenes, "test"), reference(scenes, "val")
    print(f"test: {len(ref)} scenes, {sum(map(len, ref.values()))} reference events", flush=True)
    only = set(args.only.split(";")) if args.only else None
    models = train_models(scenes, cache_dir, only)
    cache = EmbeddingCache(cache_dir)
    rows = []
    for name, (model, fit_s) in models.items():
        variants = [(name, False)] + ([(f"{name} + refine-edges", True)] if model.front_end.hop_s > 0.1 else [])
        for label, refine in variants:
            r = evaluate(model, scenes, ref, tune_ref, cache, refine=refine, with_psds=bool(args.psds))
            r |= {"model": label, "train_s": fit_s}
            rows.append(r)
            psds = f", PSDS1 {r['psds1']:.3f}" if "psds1" in r else ""
            print(f"{label}: event F1 {r['event_f1']:.3f} (P {r['event_precision']:.3f}, R {r['event_recall']:.3f}), "
                  f"segment F1 {r['segment_f1']:.3f}{psds}; detect {r['detect_s']:.0f} s", flush=True)
    print("\n| model | event F1, 200-ms collars | precision / recall | segment F1, 1 s | PSDS1 | threshold / median / merge gap "
          "| train s | detect s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        psds, st = (f"{r['psds1']:.3f}" if "psds1" in r else "n/a"), r["settings"]
        print(f"| {r['model']} | {r['event_f1']:.3f} | {r['event_precision']:.3f} / {r['event_recall']:.3f} | {r['segment_f1']:.3f} "
              f"| {psds} | {st['threshold']:g} / {st['median_windows']} / {st['merge_gap_s']:g} s | {r['train_s']:.0f} | {r['detect_s']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
