"""The ``earmark`` command: parses options, calls :mod:`earmark.api`, prints.

Domain errors become one line on stderr and exit code 1.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from earmark.errors import EarmarkError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Few-shot sound classification by transfer learning.")
# Off a terminal (pipes, files, tests) tables get room instead of rich's 80-column default.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
CacheDir = Annotated[Path | None, typer.Option(help="Embedding cache folder (default: $EARMARK_CACHE_DIR or the user cache dir).")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Compute embeddings without reading or writing the cache.")]
EmbedderOpt = Annotated[str, typer.Option("--embedder", "-e", help="Embedder name; see 'earmark embedders'.")]
ClassifierOpt = Annotated[str, typer.Option("--classifier", "-c", help="logreg, svm, knn, rf or mlp.")]
AggOpt = Annotated[str, typer.Option(help="Window-to-clip aggregation: mean, vote or max.")]
GateOpt = Annotated[float, typer.Option("--gate-db", help="Ignore windows quieter than this many dBFS (-inf: keep all).")]
FileCol = Annotated[str, typer.Option(help="metadata.csv column with file paths.")]
LabelCol = Annotated[str, typer.Option(help="metadata.csv column with labels.")]


def _run(fn, quiet: bool = False):
    """Call ``fn``, turning earmark errors into one line and exit code 1."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    try:
        return fn(not quiet and sys.stderr.isatty())
    except EarmarkError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _gate(value: float) -> float | None:
    return None if value == float("-inf") else value


def _report_skipped(skipped: list[dict]) -> None:
    for s in skipped:
        err.print(f"[yellow]skipped[/yellow] {s['file']}: {s['reason']}", highlight=False, soft_wrap=True)


@app.command()
def embedders() -> None:
    """List the available embedders."""
    from earmark.embeddings import DEFAULT_EMBEDDER, EMBEDDERS, get_embedder

    speeds = _measured_speeds()
    table = Table(title="earmark embedders", caption="x realtime: measured on a 2-core CPU, see benchmarks/RESULTS.md")
    for col in ("name", "dims", "Hz", "window s", "hop s", "licence", "use", "x realtime"):
        table.add_column(col, no_wrap=col in ("name", "licence", "use"))
    for name in EMBEDDERS:
        d = get_embedder(name).describe()
        label = f"{name} (default)" if name == DEFAULT_EMBEDDER else name
        table.add_row(label, str(d["dims"]), str(d["sample_rate"]), f"{d['window_s']:.2f}", f"{d['hop_s']:.2f}",
                      d["licence"], "any" if d["commercial_use"] else "non-commercial", speeds.get(name, "-"))
    out.print(table)


def _measured_speeds() -> dict[str, str]:
    """Throughputs recorded by benchmarks/bench_embed.py on a 2-core CPU (see benchmarks/RESULTS.md)."""
    return {"aisfx": "69x", "mfcc": "609x", "birdnet": "74x", "speech": "42x", "speaker": "185x"}


@app.command()
def train(
    data: Annotated[Path, typer.Argument(help="Folder with metadata.csv or class sub-folders.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Model file to write.")],
    embedder: EmbedderOpt = "aisfx",
    classifier: ClassifierOpt = "logreg",
    aggregation: AggOpt = "mean",
    gate_db: GateOpt = -60.0,
    file_column: FileCol = "filename",
    label_column: LabelCol = "label",
    cv: Annotated[int | None, typer.Option(help="Also cross-validate (K folds) and store the figures in the model.")] = None,
    labels: Annotated[str | None, typer.Option(help="Train from label files beside long recordings in DATA: audacity or raven.")] = None,
    background: Annotated[bool, typer.Option(help="With --labels: unlabelled stretches become a 'background' class.")] = True,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
) -> None:
    """Train a classifier on DATA and save it to --out."""
    import earmark

    def go(progress):
        if labels is not None:
            from earmark.api import train_from_labels

            model = train_from_labels(data, labels=labels, embedder=embedder, classifier=classifier, aggregation=aggregation,
                                      background=background, cache_dir=cache_dir, use_cache=not no_cache, progress=progress)
            path = model.save(out_path)
            _report_skipped(model.info["skipped"])
            d = model.info["data"]
            out.print(f"trained {classifier} on {embedder} embeddings of {d['n_events']} labelled stretches in {d['n_recordings']} "
                      f"recordings: {', '.join(f'{k} {v}' for k, v in d['classes'].items())} -> {path}", highlight=False)
            return
        model = earmark.train(data, embedder=embedder, classifier=classifier, aggregation=aggregation, gate_db=_gate(gate_db),
                              file_column=file_column, label_column=label_column, cache_dir=cache_dir, use_cache=not no_cache,
                              cv=cv, progress=progress)
        path = model.save(out_path)
        _report_skipped(model.info["skipped"])
        d = model.info["data"]
        out.print(f"trained {classifier} on {embedder} embeddings: {d['n_files']} clips, {len(model.classes)} classes "
                  f"({', '.join(model.classes)}), {d['n_skipped']} skipped -> {path}", highlight=False)
        if "evaluation" in model.info:
            ev = model.info["evaluation"]
            out.print(f"{ev['protocol']}: accuracy {ev['accuracy_mean']:.3f} ± {ev['accuracy_std']:.3f}", highlight=False)
        if not model.embedder.commercial_use:
            out.print(f"note: the {embedder} weights are licensed {model.embedder.licence}: non-commercial use only.")

    _run(go, quiet)


@app.command()
def predict(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="Model file from 'earmark train'.")],
    paths: Annotated[list[Path], typer.Argument(metavar="PATH...", help="Audio files or folders (searched recursively).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Also show the next K labels.")] = 0,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
) -> None:
    """Classify audio files with a trained model.

    Unreadable files are reported on stderr and skipped; the exit code is 1 if any was.
    """
    from earmark.audio import find_audio_files
    from earmark.embeddings import EmbeddingCache
    from earmark.errors import AudioLoadError, ParameterError
    from earmark.model import Model
    from earmark.progress import track

    def go(progress):
        if fmt not in ("table", "csv", "json"):
            raise ParameterError(f"The '--format' option must be table, csv or json. Got {fmt!r} instead.")
        if top_k < 0:
            raise ParameterError(f"The '--top-k' option must be >= 0. Got {top_k} instead.")
        model = Model.load(model_path)
        files = find_audio_files(paths)
        if not files:
            raise ParameterError(f"No audio files found in {', '.join(map(str, paths))}; pass files or folders holding audio.")
        cache = EmbeddingCache(cache_dir, enabled=not no_cache)
        preds, failed = [], []
        for f in track(files, description="classifying", total=len(files), enabled=progress):
            try:
                preds.append(model.predict([f], top_k=top_k + 1, cache=cache)[0])
            except AudioLoadError as exc:  # report, skip, go on with the rest
                failed.append(str(exc))
        if preds:
            _print_predictions(preds, fmt, top_k)
        _fail_if_any(failed)

    _run(go, quiet)


def _print_predictions(preds, fmt: str, top_k: int) -> None:
    rows = [{"file": str(p.path), "label": p.label, "score": round(p.score, 4),
             "next": [{"label": lab, "score": round(s, 4)} for lab, s in zip(p.labels[1:], p.scores[1:])]} for p in preds]
    if fmt == "json":
        print(json.dumps(rows, indent=2))
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["file", "label", "score"] + [c for i in range(1, top_k + 1) for c in (f"label_{i + 1}", f"score_{i + 1}")])
        for r in rows:
            w.writerow([r["file"], r["label"], r["score"]] + [v for n in r["next"] for v in (n["label"], n["score"])])
        print(buf.getvalue(), end="")
    else:
        table = Table()
        for col in ("file", "label", "score") + (("next",) if top_k else ()):
            table.add_column(col)
        for r in rows:
            nxt = ", ".join(f"{n['label']} {n['score']:.2f}" for n in r["next"])
            table.add_row(r["file"], r["label"], f"{r['score']:.3f}", *((nxt,) if top_k else ()))
        out.print(table)


@app.command()
def evaluate(
    data: Annotated[Path, typer.Argument(help="Folder with metadata.csv or class sub-folders.")],
    embedder: EmbedderOpt = "aisfx",
    classifier: ClassifierOpt = "logreg",
    aggregation: AggOpt = "mean",
    gate_db: GateOpt = -60.0,
    folds: Annotated[str | None, typer.Option(help="metadata.csv column with official folds.")] = None,
    test_fold: Annotated[list[str] | None, typer.Option(help="Only this fold value is a test set (repeatable); e.g. --folds split --test-fold test.")] = None,
    cv: Annotated[int, typer.Option(help="Stratified K-fold when no --folds.")] = 5,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the full result as JSON.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write report.md, report.html and a confusion matrix PNG here.")] = None,
    file_column: FileCol = "filename",
    label_column: LabelCol = "label",
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
) -> None:
    """Cross-validate an embedder and classifier on DATA."""
    import earmark

    def go(progress):
        result = earmark.evaluate(data, embedder=embedder, classifier=classifier, aggregation=aggregation, gate_db=_gate(gate_db),
                                  folds=folds, test_folds=test_fold or None, cv=cv, file_column=file_column, label_column=label_column,
                                  cache_dir=cache_dir, use_cache=not no_cache, progress=progress)
        _report_skipped(result["skipped"])
        table = Table(title=f"{embedder} + {classifier}: {result['protocol']}")
        for col in ("fold", "test clips", "accuracy", "balanced acc.", "macro F1"):
            table.add_column(col)
        for f in result["folds"]:
            table.add_row(f["fold"], str(f["n_test"]), f"{f['accuracy']:.3f}", f"{f['balanced_accuracy']:.3f}", f"{f['macro_f1']:.3f}")
        table.add_row("mean ± std", str(result["n_files"]), f"{result['accuracy_mean']:.3f} ± {result['accuracy_std']:.3f}",
                      f"{result['balanced_accuracy_mean']:.3f}", f"{result['macro_f1_mean']:.3f}")
        out.print(table)
        s = result["seconds"]
        out.print(f"{result['n_files']} clips ({result['audio_seconds']:.0f} s audio), {result['n_skipped']} skipped; "
                  f"embed {s['embed']:.1f} s, fit {s['fit']:.1f} s, total {s['total']:.1f} s", highlight=False)
        _save_outputs(result, json_path, report, "evaluation_report")

    _run(go, quiet)


def _save_outputs(result: dict, json_path: Path | None, report: Path | None, report_kind: str) -> None:
    """Write the result as JSON and/or a report (``report_kind`` names the writer in earmark.evaluation.report)."""
    if json_path:
        _write_json(json_path, result)
        out.print(f"wrote {json_path}")
    if report:
        from earmark.evaluation import report as reports

        paths = getattr(reports, report_kind)(result, report)
        out.print(f"wrote {paths['html']} and {paths['markdown']}", highlight=False)


def _fail_if_any(failed: list[str]) -> None:
    """Print each skipped file's error on stderr; exit 1 if there was any."""
    for message in failed:
        err.print(f"[red]error:[/red] {message}", highlight=False)
    if failed:
        raise typer.Exit(1)


def _names(value: str, option: str) -> list[str]:
    from earmark.errors import ParameterError

    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise ParameterError(f"The '{option}' option needs a comma-separated list of names. Got {value!r} instead.")
    return names


def _shots(value: str) -> list[int]:
    from earmark.errors import ParameterError

    try:
        shots = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        shots = []
    if not shots or min(shots) < 1:
        raise ParameterError(f"The '--shots' option must be positive integers separated by commas, e.g. 1,2,4,8. Got {value!r} instead.")
    return shots


EmbeddersOpt = Annotated[str, typer.Option(help="Comma-separated embedder names; 'a+b' is their fusion.")]
ClassifiersOpt = Annotated[str, typer.Option(help="Comma-separated classifier names.")]
FoldsOpt = Annotated[str | None, typer.Option(help="metadata.csv column with official folds.")]
TestFoldOpt = Annotated[list[str] | None, typer.Option(help="Only this fold value is a test set (repeatable).")]
CvOpt = Annotated[int, typer.Option(help="Stratified K-fold when no --folds.")]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the full result as JSON.")]
ReportOpt = Annotated[Path | None, typer.Option(help="Write report.md, report.html and figures here.")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the draws and folds.")]


@app.command()
def curve(
    data: Annotated[Path, typer.Argument(help="Folder with metadata.csv or class sub-folders.")],
    embedders_: Annotated[str, typer.Option("--embedders", help="Comma-separated embedder names; 'a+b' is their fusion.")] = "mfcc,aisfx",
    classifiers: ClassifiersOpt = "knn,logreg",
    shots: Annotated[str, typer.Option(help="Training clips per class, comma-separated.")] = "1,2,4,8,16,32",
    repeats: Annotated[int, typer.Option(help="Seeded draws per fold and n.")] = 10,
    folds: FoldsOpt = None,
    test_fold: TestFoldOpt = None,
    cv: CvOpt = 5,
    json_path: JsonOpt = None,
    report: ReportOpt = None,
    gate_db: GateOpt = -60.0,
    file_column: FileCol = "filename",
    label_column: LabelCol = "label",
    seed: SeedOpt = 0,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
) -> None:
    """Learning curves: accuracy against training clips per class, per embedder and classifier."""
    import earmark

    def go(progress):
        result = earmark.curve(data, embedders=_names(embedders_, "--embedders"), classifiers=_names(classifiers, "--classifiers"),
                               shots=_shots(shots), repeats=repeats, folds=folds, test_folds=test_fold or None, cv=cv,
                               gate_db=_gate(gate_db), file_column=file_column, label_column=label_column, cache_dir=cache_dir,
                               use_cache=not no_cache, seed=seed, progress=progress)
        _report_skipped(result["data"]["skipped"])
        table = Table(title=f"mean accuracy [95% CI], {result['protocol'].split(';')[0]}")
        table.add_column("embedder / classifier", no_wrap=True)
        for n in result["shots"]:
            table.add_column(f"n={n}")
        for emb, clf in dict.fromkeys((r["embedder"], r["classifier"]) for r in result["summary"]):
            cells = {r["n"]: r for r in result["summary"] if r["embedder"] == emb and r["classifier"] == clf}
            table.add_row(f"{emb} / {clf}", *(f"{cells[n]['accuracy_mean']:.3f}\n[{cells[n]['ci95_low']:.2f}, {cells[n]['ci95_high']:.2f}]" for n in result["shots"]))
        out.print(table)
        s = result["seconds"]
        out.print(f"chance {result['chance']:.3f}; {len(result['runs'])} runs; embed {s['embed']:.1f} s, "
                  f"fit+test {s['fit_and_test']:.1f} s, total {s['total']:.1f} s", highlight=False)
        _save_outputs(result, json_path, report, "curve_report")

    _run(go, quiet)


@app.command()
def compare(
    data: Annotated[Path, typer.Argument(help="Folder with metadata.csv or class sub-folders.")],
    embedders_: Annotated[str, typer.Option("--embedders", help="Comma-separated embedder names; 'a+b' is their fusion.")] = "mfcc,aisfx",
    classifiers: ClassifiersOpt = "knn,logreg",
    folds: FoldsOpt = None,
    test_fold: TestFoldOpt = None,
    cv: CvOpt = 5,
    json_path: JsonOpt = None,
    report: ReportOpt = None,
    gate_db: GateOpt = -60.0,
    file_column: FileCol = "filename",
    label_column: LabelCol = "label",
    seed: SeedOpt = 0,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
) -> None:
    """Full-data comparison of embedders x classifiers on the same folds."""
    import earmark

    def go(progress):
        result = earmark.compare(data, embedders=_names(embedders_, "--embedders"), classifiers=_names(classifiers, "--classifiers"),
                                 folds=folds, test_folds=test_fold or None, cv=cv, gate_db=_gate(gate_db), file_column=file_column,
                                 label_column=label_column, cache_dir=cache_dir, use_cache=not no_cache, seed=seed, progress=progress)
        _report_skipped(result["data"]["skipped"])
        table = Table(title=f"{result['protocol']} (* best)")
        for col in ("embedder", "classifier", "dims", "accuracy", "balanced acc.", "macro F1", "fit s/fold"):
            table.add_column(col, no_wrap=col in ("embedder", "accuracy"))
        for i, r in enumerate(result["rows"]):
            star = " *" if i == result["best"] else ""
            table.add_row(r["embedder"], r["classifier"], str(r["dims"]), f"{r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f}{star}",
                          f"{r['balanced_accuracy_mean']:.3f}", f"{r['macro_f1_mean']:.3f}", f"{r['fit_seconds_per_fold']:.2f}")
        out.print(table)
        _save_outputs(result, json_path, report, "compare_report")

    _run(go, quiet)


@app.command()
def detect(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="Model file from 'earmark train'.")],
    recordings: Annotated[list[Path], typer.Argument(metavar="RECORDING...", help="Audio files or folders (searched recursively).")],
    threshold: Annotated[float, typer.Option(help="Score at which an event starts (it lasts while above 0.6 x this).")] = 0.5,
    min_duration_s: Annotated[float, typer.Option("--min-duration-s", help="Drop events shorter than this.")] = 0.0,
    merge_gap_s: Annotated[float, typer.Option("--merge-gap-s", help="Merge same-label events closer than this.")] = 0.0,
    median_windows: Annotated[int, typer.Option(help="Median filter length over window scores.")] = 3,
    hop_s: Annotated[float | None, typer.Option("--hop-s", help="Take windows this often (default: the model's hop); smaller sharpens event edges.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, json, audacity or raven.")] = "csv",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for one event file per recording (default: beside each recording).")] = None,
    plot: Annotated[bool, typer.Option("--plot", help="Also write a PNG: spectrogram with the events, scores under it.")] = False,
    quiet: Quiet = False,
) -> None:
    """Find events in long recordings; writes one event file per recording and prints a summary.

    Unreadable recordings are reported and skipped; the exit code is 1 if any was.
    """
    from earmark.audio import find_audio_files
    from earmark.errors import AudioLoadError, ParameterError, check_choice
    from earmark.inference.detect import FORMATS, DetectionSettings, detect as run_detect, write_events
    from earmark.model import Model
    from earmark.progress import track

    def go(progress):
        check_choice("format", fmt, FORMATS)
        settings = DetectionSettings(threshold=threshold, min_duration_s=min_duration_s, merge_gap_s=merge_gap_s, median_windows=median_windows)
        model = Model.load(model_path)
        files = find_audio_files(recordings)
        if not files:
            raise ParameterError(f"No audio files found in {', '.join(map(str, recordings))}; pass recordings or folders holding them.")
        table, failed = Table(title=f"events ({fmt})"), []
        for col in ("recording", "duration s", "events", "by label", "written to"):
            table.add_column(col)
        suffix = {"csv": ".events.csv", "json": ".events.json", "audacity": ".labels.txt", "raven": ".selections.txt"}[fmt]
        for f in track(files, description="detecting", total=len(files), enabled=progress):
            try:
                result = run_detect(model, f, settings=settings, hop_s=hop_s)
            except AudioLoadError as exc:
                failed.append(str(exc))
                continue
            target = (out_dir or f.parent) / (f.stem + suffix)
            write_events(result["events"], target, fmt)
            if plot:
                from earmark.evaluation.plots import detection_png

                detection_png(f, result, (out_dir or f.parent) / (f.stem + ".detect.png"), threshold=threshold)
            counts = {}
            for e in result["events"]:
                counts[e.label] = counts.get(e.label, 0) + 1
            table.add_row(str(f), f"{result['duration_s']:.1f}", str(len(result["events"])),
                          ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), str(target))
        if table.row_count:
            out.print(table)
        _fail_if_any(failed)

    _run(go, quiet)


@app.command()
def listen(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="Model file from 'earmark train'.")],
    input_: Annotated[str | None, typer.Option("--input", "-i", help="A file played at real-time pace, or - for raw 16-bit PCM on stdin.")] = None,
    device: Annotated[str | None, typer.Option(help="Sound card (index or name) when no --input is given.")] = None,
    rate: Annotated[int, typer.Option(help="Sample rate of the PCM on stdin.")] = 16000,
    hop_s: Annotated[float, typer.Option("--hop-s", help="Classify the newest window this often.")] = 0.5,
    gate_db: Annotated[float, typer.Option("--gate-db", help="Windows quieter than this (dBFS) are not classified.")] = -50.0,
    gate: Annotated[str, typer.Option(help="energy, or vad: also skip windows without voice (Silero VAD).")] = "energy",
    threshold: Annotated[float, typer.Option(help="Print windows whose top score reaches this.")] = 0.5,
    realtime: Annotated[bool, typer.Option(help="With --input FILE: play it at real-time pace (--no-realtime: as fast as possible).")] = True,
) -> None:
    """Classify live audio as it arrives; prints detections with their stream time and latency."""
    import resource
    import time as _time

    import numpy as np

    from earmark.inference.listen import file_blocks, listen as run_listen, microphone_blocks, stdin_blocks
    from earmark.model import Model

    def go(_progress):
        model = Model.load(model_path)
        sr, block_s = model.embedder.sample_rate, min(hop_s, 0.1)
        if input_ == "-":
            blocks = stdin_blocks(rate=rate, sr=sr, block_s=block_s)
        elif input_:
            blocks = file_blocks(input_, sr=sr, block_s=block_s, realtime=realtime)
        else:
            blocks = microphone_blocks(device=int(device) if device and device.isdigit() else device, sr=sr, block_s=block_s)
        latencies, t0 = [], _time.perf_counter()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        try:
            for d in run_listen(model, blocks, hop_s=hop_s, gate_db=gate_db, threshold=threshold, gate=gate):
                latencies.append(d.latency_s)
                print(f"{d.end_s:9.2f} s  {d.label:<20} {d.score:.2f}  level {d.level_db:6.1f} dBFS  latency {d.latency_s * 1000:5.0f} ms", flush=True)
        except KeyboardInterrupt:
            pass
        wall = _time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        if latencies:
            lat = np.array(latencies) * 1000
            err.print(f"stream ended: {len(lat)} detections, latency median {np.median(lat):.0f} ms, "
                      f"95th percentile {np.percentile(lat, 95):.0f} ms; CPU {cpu / wall:.2f} cores on average over {wall:.1f} s", highlight=False)
        else:
            err.print(f"stream ended: no detections; CPU {cpu / max(wall, 1e-9):.2f} cores on average over {wall:.1f} s", highlight=False)

    _run(go)


def _write_json(path: Path, obj) -> None:
    from earmark.fileio import atomic_write

    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=2)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
