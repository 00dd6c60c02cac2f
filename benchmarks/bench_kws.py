"""Keyword spotting on speech_commands_dev (issue 10): 12-class accuracy, learning curve, and the live detector.

    python benchmarks/bench_kws.py --work DIR [--cache-dir DIR] [--skip accuracy,curve,detector,cpu]

1. **Accuracy**, the 12 classes of the task (10 keywords, ``_unknown_``, ``_silence_``: every clip, none gated), 5
   speaker-disjoint folds (``--folds fold``): ``mfcc`` + logistic regression, ``speech`` + logistic regression,
   the keyword CRNN (``kws-crnn`` on 1-s 40-band log-mel) plain and with waveform augmentation (shift, noise, gain,
   and the dataset's background recordings mixed in).
2. **Learning curve**, 1-32 training clips per class (10 seeded draws from the training folds, tested on the whole
   test fold; 5 folds), for the same embeddings + logistic regression and the keyword CRNN (3 draws).
3. **The detector**: the augmented keyword CRNN trained on folds 1-4 only, then ``evaluate_kws`` on fold 5's
   speakers: the ten keywords laid into background at 20, 10, 5 and 0 dB SNR every 3 s; false accepts counted on
   the six background recordings, the noise between keywords, and the six ambient classes of ESC-10 (rain, sea
   waves, crackling fire, helicopter, chainsaw, clock tick: 240 clips, 20 min never heard in training), pooled and
   ESC-10 alone; the curve as ``benchmarks/figures/kws_curve.png``.
4. **CPU while listening**: ``listen --keywords`` on 60 s of a keyword stream played at real-time pace.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import soundfile as sf
from _common import machine, work_args

from earmark import api
from earmark.evaluation.kws import threshold_for

KEYWORDS = "yes,no,up,down,left,right,on,off,stop,go"
AMBIENT = ("rain", "sea_waves", "crackling_fire", "helicopter", "chainsaw", "clock_tick")


def accuracy(data: Path, cache: Path, augment: str) -> dict:
    runs = {"mfcc + logreg": dict(embedder="mfcc", model="logreg"), "speech + logreg": dict(embedder="speech", model="logreg"),
            "kws-crnn": dict(model="kws-crnn"), "kws-crnn + augmentation": dict(model="kws-crnn", model_params={"augment": augment})}
    out = {}
    for name, kw in runs.items():
        t = time.perf_counter()
        r = api.evaluate(data, folds="fold", gate_db=None, cache_dir=cache, **kw)
        out[name] = {"accuracy_mean": r["accuracy_mean"], "accuracy_std": r["accuracy_std"], "macro_f1_mean": r["macro_f1_mean"],
                     "folds": [f["accuracy"] for f in r["folds"]], "seconds": time.perf_counter() - t}
        print(f"{name:26s} accuracy {r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f}  folds "
              f"{' '.join(f'{a:.3f}' for a in out[name]['folds'])}  ({out[name]['seconds']:.0f} s)", flush=True)
    return out


def curve(data: Path, cache: Path) -> dict:
    out = {}
    for name, kw in {"embeddings": dict(embedders=("mfcc", "speech"), classifiers=("logreg",), repeats=10),
                     "kws-crnn": dict(embedders=("mfcc",), models=("kws-crnn",), repeats=3)}.items():
        t = time.perf_counter()
        r = api.curve(data, folds="fold", gate_db=None, cache_dir=cache, shots=(1, 2, 4, 8, 16, 32), **kw)
        for row in r["summary"]:
            key = f"{row['embedder']} + {row['classifier']}"
            out.setdefault(key, {})[row["n"]] = row["accuracy_mean"]
        print(f"curve ({name}) {time.perf_counter() - t:.0f} s", flush=True)
    for key, pts in out.items():
        print(f"{key:22s} " + "  ".join(f"{n}: {a:.3f}" for n, a in sorted(pts.items())), flush=True)
    return out


def detector(data: Path, work: Path, cache: Path, augment: str, esc10: Path) -> dict:
    model_path = work / "kws-fold5.earmark"
    if model_path.exists():
        print(f"reusing {model_path} (trained on folds 1-4 by an earlier run)", flush=True)
    else:
        t = time.perf_counter()
        api.train(data, model="kws-crnn", model_params={"augment": augment}, folds="fold", exclude_folds=["5"], gate_db=None,
                  cache_dir=cache).save(model_path)
        print(f"trained on folds 1-4 in {time.perf_counter() - t:.0f} s", flush=True)
    ambient = [esc10 / r["filename"] for r in csv.DictReader(open(esc10 / "metadata.csv")) if r["label"] in AMBIENT]
    common = dict(keywords=KEYWORDS, test_folds=["5"], snr_db=(20, 10, 5, 0), gap_s=2.0, target_fa_per_hour=1.0)
    out = {}
    for name, background, plot in (("all noise", [data / "background", *ambient], Path("benchmarks/figures/kws_curve.png")),
                                   ("ESC-10 ambient only", ambient, None)):
        t = time.perf_counter()
        r = api.evaluate_kws(model_path, data, background=background, plot=plot, **common)
        op, c = r["operating_point"], r["curve"]
        out[name] = {"operating_point": op, "background_hours": c["background_hours"], "recordings_hours": c["recordings_hours"],
                     "compute_ms_per_hop": r["compute_ms_per_hop"], "n_keywords": r["n_keywords"], "seconds": time.perf_counter() - t,
                     "curve": {k: c[k] for k in ("thresholds", "fa_per_hour", "frr_pooled", "frr")}}
        print(f"[{name}] {r['n_keywords']} keywords x {len(common['snr_db'])} SNRs; false accepts over {c['background_hours'] * 60:.0f} min "
              f"({c['recordings_hours'] * 60:.1f} min of recordings)  ({out[name]['seconds']:.0f} s)", flush=True)
        if op:
            print(f"  threshold {op['threshold']:.3f} (sensitivity {op['sensitivity']:.3f}): {op['fa_per_hour']:.2f} FA/h, FRR "
                  f"{op['frr']:.3f} (" + ", ".join(f"{k} dB {v:.3f}" for k, v in op["frr_by_snr"].items()) + f"); {op['confusions']} "
                  f"confusions; latency after the keyword {op['latency_median_s']:.2f} s median, {op['latency_p95_s']:.2f} s p95; "
                  f"compute {r['compute_ms_per_hop']:.2f} ms per hop", flush=True)
        for fa in (1, 5, 10, 30):  # the threshold evaluate-kws would pick for that target
            i = threshold_for(c, fa)
            if i is not None:
                print(f"  at <= {fa:2d} FA/h: threshold {c['thresholds'][i]:.3f}, FRR {c['frr_pooled'][i]:.3f} "
                      f"(20 dB {c['frr']['20.0'][i]:.3f})", flush=True)
    return out


def cpu(data: Path, work: Path, seconds: float = 60.0, model_path: Path | None = None) -> dict:
    from earmark.audio import load
    from earmark.evaluation.kws import mix_keywords
    from earmark.inference.listen import file_blocks

    model = api.load_model(model_path or work / "kws-fold5.earmark")
    rows = [r for r in csv.DictReader(open(data / "metadata.csv")) if r["fold"] == "5" and r["label"] in KEYWORDS.split(",")]
    clips = [load(data / r["filename"], sr=16000)[0] for r in rows[: int(seconds / 3)]]
    noise = load(data / "background" / "doing_the_dishes.flac", sr=16000)[0]
    stream, _ = mix_keywords(clips, [0] * len(clips), noise, sr=16000, snr_db=10)
    wav = work / "listen.wav"
    sf.write(wav, stream[: int(seconds * 16000)], 16000)
    stats = api.ListenStats()
    events = list(api.listen(model, file_blocks(wav, sr=16000, block_s=0.1, realtime=True), keywords=KEYWORDS, sensitivity=0.5,
                             stats=stats))
    s = stats.summary()
    print(f"listen --keywords at real-time pace: {s['wall_s']:.1f} s, {len(events)} events, CPU {s['cores']:.3f} cores; latency "
          f"(last sample to event) median {s['latency_median_ms']:.1f} ms, p95 {s['latency_p95_ms']:.1f} ms", flush=True)
    return s


def main() -> None:
    args, root, work, cache = work_args(__doc__, lambda ap: ap.add_argument("--skip", default="", help="comma-separated: accuracy, curve, detector, cpu"))
    data = root / "speech_commands_dev"
    augment = f"shift=0.2,noise=10,gain,background={data / 'background'}"
    skip = set(args.skip.split(","))
    print(machine(), flush=True)
    result, t0 = {}, time.perf_counter()
    if "accuracy" not in skip:
        result["accuracy"] = accuracy(data, cache, augment)
    if "curve" not in skip:
        result["curve"] = curve(data, cache)
    if "detector" not in skip:
        result["detector"] = detector(data, work, cache, augment, root / "esc10")
    if "cpu" not in skip:
        result["cpu"] = cpu(data, work)
    print(f"total {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
