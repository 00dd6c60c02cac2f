"""Keywords in a stream (issue 26): the keyword CRNN trained on clips against the same network trained stream-style.

    python benchmarks/bench_kws_stream.py --work DIR [--cache-dir DIR] [--rounds 1]

Ten keywords of speech_commands_dev; every model trains on folds 1-4 and is tested on fold 5's speakers, never heard.

**Training background** (``--stream``, never tested on): the six background recordings of speech_commands_dev (the
source of its ``_silence_`` clips, so they are training material anyway), ESC-10 folds 1-2 (all ten classes) and
other speech: the ``_unknown_`` words of folds 1-4 (training speakers) end to end, 0.25 s apart.

**Test negatives** (never trained on), joined into long streams written to ``DIR/test_negatives/``:

- ``esc10``: ESC-10 folds 3-5, all ten classes (240 clips, 20 min);
- ``speech``: other speech, the 3,000 FSDD spoken digits (6 speakers) and fold 5's ``_unknown_`` words, 0.25 s apart;
- ``speech_over_esc10_{20,10,0}dB``: that speech laid over the ESC-10 stream at 20, 10 and 0 dB.

False accepts per hour are counted over all of them (about 2.7 hours, 43 minutes of distinct sources) plus the noise
between keywords; the keywords are laid into the ESC-10 stream at 20, 10, 5 and 0 dB every 3 s.

Models: ``speech-stream`` + ``mlp`` (openWakeWord's recipe: a small network over the last 16 speech embeddings, computed
incrementally) trained on the clips and stream-style; ``kws-crnn`` with waveform augmentation (shift, noise, gain, the background recordings), as bench_kws.py
trains it (the clip-trained model), and the same network and augmentation trained stream-style
(``--stream``: every clip twice more at a random offset over the training background at 0-20 dB, one background
excerpt per clip as ``_silence_``, one round of hard-negative mining). For each: the operating curve
(``evaluate_kws``), the threshold for 1 false accept per hour, latency, the 12-class accuracy on fold 5's clips, and
for the stream-trained one the CPU while listening at real-time pace. Curves side by side:
``benchmarks/figures/kws_stream_det.png``.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from _common import machine, work_args

from earmark import api
from earmark.audio import load
from earmark.augment.stream import StreamTraining

SR = 16000
KEYWORDS = "yes,no,up,down,left,right,on,off,stop,go"


def materials(root: Path, work: Path) -> tuple[Path, Path, Path]:
    """The training background folder and the test negatives folder (written once), and the ESC-10 test stream."""
    esc = root / "esc10"
    sc = root / "speech_commands_dev"
    train_bg, test = work / "train_background", work / "test_negatives"
    rows = list(csv.DictReader(open(esc / "metadata.csv")))
    if not train_bg.is_dir():
        train_bg.mkdir(parents=True)
        for f in sorted((sc / "background").glob("*.flac")):
            (train_bg / f.name).symlink_to(f.resolve())
        for r in rows:
            if r["fold"] in ("1", "2"):
                (train_bg / Path(r["filename"]).name).symlink_to((esc / r["filename"]).resolve())
    words = train_bg / "unknown_words_folds_1-4.flac"  # other speech to train against: never the test speakers
    if not words.exists():
        parts = []
        for r in csv.DictReader(open(sc / "metadata.csv")):
            if r["fold"] != "5" and r["label"] == "_unknown_":
                y = load(sc / r["filename"], sr=SR)[0]
                parts += [y / max(1e-3, float(np.abs(y).max())) * 0.5, np.zeros(int(0.25 * SR), np.float32)]
        sf.write(words, np.concatenate(parts), SR)
    esc_stream = test / "esc10.flac"
    if not esc_stream.exists():
        test.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        noise = np.concatenate([load(esc / r["filename"], sr=SR)[0] for r in rows if r["fold"] in ("3", "4", "5")])
        gap = np.zeros(int(0.25 * SR), np.float32)
        speech_files = sorted((root / "fsdd" / "audio").glob("*.wav"))
        speech_files += [sc / r["filename"] for r in csv.DictReader(open(sc / "metadata.csv")) if r["fold"] == "5" and r["label"] == "_unknown_"]
        parts = []
        for f in speech_files:
            y = load(f, sr=SR)[0]
            parts += [y / max(1e-3, float(np.abs(y).max())) * 0.5, gap]
        speech = np.concatenate(parts)
        sf.write(test / "speech.flac", speech, SR)
        sf.write(esc_stream, noise, SR)
        under = noise[np.arange(len(speech)) % len(noise)]
        ps, pn = float(np.mean(speech.astype(np.float64) ** 2)), float(np.mean(under.astype(np.float64) ** 2))
        for snr in (20, 10, 0):
            mix = speech + under * np.sqrt(ps / pn / 10 ** (snr / 10))
            sf.write(test / f"speech_over_esc10_{snr}dB.flac", mix / max(1.0, float(np.abs(mix).max()) / 0.99), SR)
        print(f"test negatives written in {time.perf_counter() - t:.0f} s", flush=True)
    hours = sum(sf.info(f).duration for f in test.glob("*.flac")) / 3600
    print(f"test negatives: {hours:.2f} h in {len(list(test.glob('*.flac')))} streams", flush=True)
    return train_bg, test, esc_stream


def accuracy_fold5(model, data: Path) -> float:
    rows = [r for r in csv.DictReader(open(data / "metadata.csv")) if r["fold"] == "5"]
    preds = model.predict([data / r["filename"] for r in rows])
    got = {str(p.path): (p.labels[0] if p.labels else "_silence_") for p in preds}
    return float(np.mean([got[str(data / r["filename"])] == r["label"] for r in rows]))


def _options(ap) -> None:
    ap.add_argument("--rounds", type=int, default=1, help="rounds of hard-negative mining")
    ap.add_argument("--only", default="", help="comma-separated parts of the models' names to run, e.g. speech-stream")


def main() -> None:
    args, root, work, cache = work_args(__doc__, _options)
    data = root / "speech_commands_dev"
    print(machine(), flush=True)
    t0 = time.perf_counter()
    train_bg, test, esc_stream = materials(root, work)
    augment = f"shift=0.2,noise=10,gain,background={data / 'background'}"
    common = dict(folds="fold", exclude_folds=["5"], gate_db=None, cache_dir=cache)
    crnn = dict(model="kws-crnn", model_params={"augment": augment})
    head = dict(model="mlp", embedder="speech-stream")

    def stream():
        return StreamTraining(background=(str(train_bg),), label="_silence_", rounds=args.rounds)

    runs = {"kws-crnn, clips (as bench_kws)": ("kws-clips.earmark", crnn),
            "kws-crnn, stream-trained": (f"kws-stream-r{args.rounds}.earmark", {**crnn, "stream": stream()}),
            "speech-stream + mlp, clips": ("speech-stream-mlp-clips.earmark", head),
            "speech-stream + mlp, stream-trained": (f"speech-stream-mlp-r{args.rounds}.earmark", {**head, "stream": stream()})}
    if args.only:
        runs = {k: v for k, v in runs.items() if any(o in k for o in args.only.split(","))}
    results, models = {}, {}
    for name, (file, extra) in runs.items():
        path = work / file
        if path.exists():
            print(f"reusing {path}", flush=True)
        else:
            t = time.perf_counter()
            api.train(data, **common, **extra).save(path)
            print(f"[{name}] trained on folds 1-4 in {time.perf_counter() - t:.0f} s", flush=True)
        models[name] = model = api.load_model(path)
        if "stream" in model.info:
            s = model.info["stream"]
            print(f"  stream: {s['n_positives']} positives in background, {s['n_negatives']} negatives, rounds "
                  f"{s['rounds']} ({s['seconds']:.0f} s)", flush=True)
        t = time.perf_counter()
        r = api.evaluate_kws(model, data, keywords=KEYWORDS, test_folds=["5"], background=[test], noise=[esc_stream],
                             snr_db=(20, 10, 5, 0), gap_s=2.0, target_fa_per_hour=1.0)
        acc = accuracy_fold5(model, data)
        op, c = r["operating_point"], r["curve"]
        results[name] = {**r, "accuracy_fold5": acc, "seconds": time.perf_counter() - t}
        print(f"[{name}] 12-class accuracy on fold 5: {acc:.3f}; false accepts over {c['background_hours']:.2f} h "
              f"({c['recordings_hours']:.2f} h of test negatives); compute {r['compute_ms_per_hop']:.2f} ms per hop "
              f"({results[name]['seconds']:.0f} s)", flush=True)
        if op:
            print(f"  at <= 1 FA/h: threshold {op['threshold']:.7g}: {op['fa_per_hour']:.2f} FA/h, FRR {op['frr']:.3f} ("
                  + ", ".join(f"{k} dB {v:.3f}" for k, v in op["frr_by_snr"].items()) + f"); {op['confusions']} confusions; "
                  f"latency {op['latency_median_s']:.2f} s median, {op['latency_p95_s']:.2f} s p95", flush=True)
            print("  false accepts there by test stream: " + ", ".join(f"{Path(f).stem} {n}" for f, n in op["false_accepts_by_file"].items())
                  + f", between keywords {op['false_accepts'] - sum(op['false_accepts_by_file'].values())}", flush=True)
        else:
            print("  no threshold reaches 1 FA/h", flush=True)
    from earmark.evaluation.plots import kws_det_png

    kws_det_png(results, Path("benchmarks/figures/kws_stream_det.png"), title="ten keywords, fold 5 speakers: clips vs stream-trained")
    import bench_kws

    cpu = {name: bench_kws.cpu(data, work, model_path=work / file) for name, (file, extra) in runs.items() if "stream" in extra}
    print(f"total {time.perf_counter() - t0:.0f} s", flush=True)
    if args.json:
        slim = {k: {kk: vv for kk, vv in v.items() if kk != "curve"} | {"curve": {kk: v["curve"][kk] for kk in ("thresholds", "fa_per_hour", "frr", "frr_pooled")}}
                for k, v in results.items()}
        args.json.write_text(json.dumps({"results": slim, "cpu": cpu}, indent=1, default=float))


if __name__ == "__main__":
    main()
