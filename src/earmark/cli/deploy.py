"""Commands that make data or ship a model: mix, export, bench, serve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from earmark.cli._shared import CalibrationDataOpt, ModelArg, Quiet, SeedOpt, check_outputs, csv_list, one_of, runs
from earmark.console import out, plain_table, report_skipped, say


@runs
def mix(
    backgrounds: Annotated[Path, typer.Option(help="Background recordings: a dataset folder or CSV (label column = class).")],
    events: Annotated[Path, typer.Option(help="Event recordings: a dataset folder or CSV (label column = the tag).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="New (or empty) folder for the mixtures and metadata.csv.")],
    n: Annotated[int | None, typer.Option("--n", help="Number of mixtures (one split named 'all'); or give --split.")] = None,
    split: Annotated[str | None, typer.Option(help="Mixtures per split, e.g. train=36,test=500; no source recording is in two splits.")] = None,
    duration_s: Annotated[float, typer.Option("--duration-s", help="Length of each mixture in seconds.")] = 10.0,
    ebr_db: Annotated[str, typer.Option("--ebr-db", help="Event-to-background ratios to draw from (dB, RMS over the event).")] = "-6,0,6",
    event_rate: Annotated[float, typer.Option(help="Probability that a mixture holds events.")] = 0.5,
    max_events: Annotated[int, typer.Option(help="A mixture with events holds 1 to this many.")] = 1,
    background_classes: Annotated[str | None, typer.Option(help="Use only these background classes (comma-separated).")] = None,
    event_classes: Annotated[str | None, typer.Option(help="Use only these event classes (comma-separated).")] = None,
    folds: Annotated[str | None, typer.Option(help="Use only recordings in these folds (comma-separated values of --fold-column).")] = None,
    fold_column: Annotated[str, typer.Option(help="Column holding the folds.")] = "fold",
    group_column: Annotated[str | None, typer.Option(help="Column naming each clip's source recording (default: src_file if present).")] = None,
    sample_rate: Annotated[int | None, typer.Option(help="Sample rate of the mixtures (default: the sources' most common).")] = None,
    seed: SeedOpt = 0,
    quiet: Quiet = False,
) -> None:
    """Make weakly labelled mixtures: events at random times in background recordings, 24-bit WAV + metadata.csv + events.csv."""
    from earmark import api
    from earmark.data.mix import MAX_MIXTURES, parse_splits
    from earmark.errors import ParameterError, check_number

    progress = not quiet
    if (n is None) == (split is None):
        raise ParameterError("Give the number of mixtures with --n N or per split with --split train=36,test=500 (one of them).")
    if n is not None:
        check_number("n", n, low=1, high=MAX_MIXTURES, integer=True)
    try:
        ebrs = [float(v) for v in ebr_db.split(",") if v.strip()]
    except ValueError:
        raise ParameterError(f"--ebr-db {ebr_db}: give comma-separated numbers in dB, e.g. -6,0,6.") from None
    result = api.mix(backgrounds, events, out_dir, splits=parse_splits(split) if split else {"all": n}, duration_s=duration_s,
                     ebr_db=ebrs, event_rate=event_rate, max_events=max_events, seed=seed, sample_rate=sample_rate,
                     background_classes=csv_list(background_classes, "--background-classes"),
                     event_classes=csv_list(event_classes, "--event-classes"), folds=csv_list(folds, "--folds"),
                     fold_column=fold_column, group_column=group_column, progress=progress)
    report_skipped(result["skipped"])
    parts = ", ".join(f"{k} {v} ({result['with_events'][k]} with events)" for k, v in result["by_split"].items())
    say(f"wrote {result['n_mixtures']} mixtures of {duration_s:g} s at {result['sample_rate']} Hz ({parts}; tags "
        f"{', '.join(result['tags'])}; common scale {result['scale']:.3f}) -> {Path(result['out']) / 'metadata.csv'}")


@runs
def export_model(
    model_path: ModelArg,
    out_path: Annotated[Path, typer.Option("--out", help="The file to write: model.onnx, or model.h for --format c.")],
    fmt: Annotated[str, typer.Option("--format", "-f", metavar=one_of("export"), help="onnx (audio window in, class scores out; a runner script is written "
                                                            "beside it) or c (small heads on MFCC statistics).")] = "onnx",
    int8: Annotated[bool, typer.Option("--int8", help="ONNX: quantize the convolutions to int8, calibrated on --calibration-data.")] = False,
    calibration: CalibrationDataOpt = None,
    quiet: Quiet = False,
) -> None:
    """Export a trained model to run without earmark: ONNX (onnxruntime + numpy + soundfile) or a C header."""
    from earmark import api

    check_outputs(out_path=out_path, inputs=[model_path])
    record = api.export(model_path, out_path, fmt=fmt, int8=int8, calibration=calibration or None)
    say(f"wrote {record['out']} ({record['bytes']:,} bytes{', int8' if record.get('int8') else ''})")
    if record.get("runner"):
        say(f"run it with: python {record['runner']} {record['out']} clip.wav")
    if record.get("example"):
        say(f"example program: {record['example']} (cc -O2 -o classify {record['example']} -lm)")


@runs
def bench(
    model_path: ModelArg,
    int8: Annotated[bool, typer.Option("--int8", help="Also time the int8 graph (calibrated on --calibration-data).")] = False,
    calibration: CalibrationDataOpt = None,
    windows: Annotated[int, typer.Option(help="Windows to time per runtime.")] = 64,
    fmt: Annotated[str, typer.Option("--format", "-f", metavar=one_of("bench"), help="How to print the figures.")] = "table",
    quiet: Quiet = False,
) -> None:
    """Size, latency per window and x realtime of a model on this machine: earmark's own path against ONNX (and int8)."""
    from earmark import api
    from earmark.errors import check_choice

    check_choice("format", fmt, ("table", "json"))
    rows = api.bench(model_path, int8=int8, calibration=calibration or None, windows=windows)
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return
    table = [[r["runtime"], "" if r["bytes"] is None else f"{r['bytes']:,}", f"{r['ms_per_window']:.2f}", f"{r['x_realtime']:.0f}"]
             for r in rows]
    out.print(plain_table(f"{model_path}: {windows} windows each", ("runtime", "bytes", "ms / window", "x realtime"), table))


@runs
def serve(
    model_paths: Annotated[list[Path], typer.Argument(metavar="MODEL...", help="Model files to serve (named by their file stem).")],
    host: Annotated[str, typer.Option(help="Interface to listen on; anything but 127.0.0.1/localhost needs --token-file.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token_file: Annotated[Path | None, typer.Option("--token-file", help="A file holding the token every request must send "
                                                                         "(Authorization: Bearer TOKEN).")] = None,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest request body accepted; larger ones are cut off.")] = 100.0,
    max_jobs: Annotated[int, typer.Option("--max-jobs", help="Jobs run at once.")] = 2,
    max_queue: Annotated[int, typer.Option("--max-queue", help="Jobs that may wait for a slot; beyond them, 429 (busy) at once.")] = 16,
    timeout_s: Annotated[float, typer.Option("--timeout-s", help="Longest a job may take (504 after).")] = 120.0,
    store: Annotated[Path | None, typer.Option("--store", help="An embedding store ('earmark index'): search by example, its map and "
                                                               "the labelling loop on the page.")] = None,
    labelling_dir: Annotated[Path | None, typer.Option("--labelling-dir", help="Where the page's labels and the models trained "
                                                                             "on them go (default STORE/labelling).")] = None,
    quiet: Quiet = False,
) -> None:
    """Serve models over HTTP: /api/predict, /api/detect, /api/models, with --store search and labelling (docs at /docs). Stop with Ctrl-C."""
    from dataclasses import replace

    from earmark.errors import ParameterError, check_number
    from earmark.pipeline import Model
    from earmark.serve.app import ServeSettings, check_bind, create_app, read_token

    check_number("port", port, low=1, high=65535, integer=True)
    settings = ServeSettings(token=None, max_upload_mb=max_upload_mb, max_jobs=max_jobs, max_queue=max_queue,
                             timeout_s=timeout_s, store=store, labelling_dir=labelling_dir)
    token = read_token(token_file) if token_file is not None else None
    check_bind(host, token)
    names = {}
    for p in model_paths:
        if p.stem in names:
            raise ParameterError(f"{p}: two models named {p.stem!r}; rename one of the files (models are named by their stem).")
        Model.load(p)  # every model checked now: a bad one refuses the start, naming its file
        names[p.stem] = p.resolve()
    import uvicorn

    app_ = create_app(replace(settings, models=names, token=token))
    with_store = f" with the store {store}" if store is not None else ""
    say(f"serving {', '.join(names)}{with_store} on http://{host}:{port} (API docs at /docs){'; token required' if token else ''}")
    uvicorn.run(app_, host=host, port=port, log_level="warning" if quiet else "info")


@runs
def fetch(
    name: Annotated[str, typer.Argument(metavar="NAME", help="esc10, esc50, fsdd or speech-commands.")],
    to: Annotated[Path, typer.Option("--to", help="Folder to put it in (as NAME/ with its metadata.csv).")] = Path("data"),
    url: Annotated[str | None, typer.Option(help="Fetch the same archive from this mirror instead of the official source.")] = None,
    sha256: Annotated[str | None, typer.Option("--sha256", help="With --url: the SHA-256 the mirror's archive must have.")] = None,
    quiet: Quiet = False,
) -> None:
    """Download a public data set from its official source, checked, into the layout earmark reads."""
    from earmark.data.fetch import fetch as run

    done = run(name, to, url=url, sha256=sha256, progress=not quiet)
    if not done["downloaded"]:
        say(f"{done['path']} is already there (it has a metadata.csv); nothing to do")
        return
    check = "SHA-256 checked" if done["verified"] else "no published checksum: its SHA-256 is recorded in SOURCE.txt"
    say(f"{done['clips']} clips -> {done['path']} ({check}); e.g. earmark evaluate {done['path']} ...")
