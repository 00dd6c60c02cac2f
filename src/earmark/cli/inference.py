"""Commands that put a model to work: predict, detect, listen, evaluate-kws."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from earmark.cli._shared import (
    BackendOpt, CacheDir, CalibrationDataOpt, DataArg, FileCol, JsonOpt, LabelCol, ModelArg, NoCache, Quiet, Scheduler,
    SeedOpt, Workers, check_outputs, model_first, number_list, one_of, save_outputs, runs,
)
from earmark.console import err, fail_if_any, out, plain_table, print_predictions, report_skipped, say


@runs
def predict(
    model_path: ModelArg,
    paths: Annotated[list[Path], typer.Argument(metavar="PATH...", help="Audio files or folders (searched recursively).")],
    fmt: Annotated[str, typer.Option("--format", "-f", metavar=one_of("table"), help="How to print the predictions.")] = "table",
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Also show the next K labels (at most the number of classes - 1).")] = 0,
    backend: BackendOpt = None,
    calibration_data: CalibrationDataOpt = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the predictions here (--format csv or json) instead of "
                                                              "printing them; with --workers, row by row as files finish.")] = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
) -> None:
    """Classify audio files with a trained model.

    Unreadable files are reported on stderr and skipped; the exit code is 1 if any was.
    """
    from earmark import api
    from earmark.errors import ParameterError, check_choice
    from earmark.pipeline import Model

    progress = not quiet
    check_choice("format", fmt, ("table", "csv", "json"))
    if top_k < 0:
        raise ParameterError(f"The '--top-k' option must be >= 0. Got {top_k} instead.")
    if out_path is not None and fmt == "table":
        raise ParameterError(f"--out {out_path}: give --format csv or json for a file (table is for the screen).")
    model_first("predict", model_path, paths)
    check_outputs(out_path=out_path, inputs=[model_path, *paths])
    m = Model.load(model_path)
    k = min(top_k, len(m.classes) - 1)
    if workers is not None or scheduler is not None:
        batch = api.predict(model_path, paths, top_k=k + 1, progress=progress, backend=backend, workers=workers,
                            scheduler=scheduler, out=out_path, fmt=fmt)
        say(f"{out_path}: {len(batch.records)} file(s) classified, {len(batch.resumed)} done before, {len(batch.skipped)} skipped",
            about=out_path)
        fail_if_any(batch.skipped)
        return
    batch = api.predict(m, paths, top_k=k + 1, cache_dir=cache_dir, use_cache=not no_cache, progress=progress, backend=backend,
                        calibration=calibration_data or None)
    if batch.records and out_path is not None:
        from earmark.console import predictions_text
        from earmark.fileio import atomic_write

        with atomic_write(out_path, "w") as f:  # checked before any work (check_outputs above)
            f.write(predictions_text(batch.records, fmt, k))
        say(f"{out_path}: {len(batch.records)} file(s) classified", about=out_path)
    elif batch.records:
        print_predictions(batch.records, fmt, k)
    fail_if_any(batch.skipped)


@runs
def detect(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="Model file from 'earmark train', or a voice database folder "
                                                                     "from 'earmark enroll' (who speaks when).")],
    recordings: Annotated[list[Path], typer.Argument(metavar="RECORDING...", help="Audio files or folders (searched recursively).")],
    threshold: Annotated[float | None, typer.Option(help="Score in (0, 1] at which an event starts (it lasts while above 0.6 x this); "
                                                         "default 0.5, or a voice database's calibrated threshold.")] = None,
    min_duration_s: Annotated[float, typer.Option("--min-duration-s", help="Drop events shorter than this.")] = 0.0,
    merge_gap_s: Annotated[float, typer.Option("--merge-gap-s", help="Merge same-label events closer than this.")] = 0.0,
    median_windows: Annotated[int, typer.Option(help="Median filter length over window scores.")] = 3,
    hop_s: Annotated[float | None, typer.Option("--hop-s", help="Take windows this often (default: the model's hop); smaller sharpens event edges.")] = None,
    exclusive: Annotated[bool, typer.Option(help="One label at a time: each window keeps only its top class (--no-exclusive: classes may overlap).")] = True,
    refine_edges: Annotated[bool, typer.Option("--refine-edges", help=(
        "Move each event's start and end to where the sound's level rises and falls (10-ms frames, within half a window); "
        "sharper edges where the events stand out from their background."))] = False,
    one_label_per_event: Annotated[bool, typer.Option("--one-label-per-event", help=(
        "Find where any class leads, then give each such stretch the one class with the highest mean score over it "
        "(for sounds that never overlap; fewer split and mislabelled events)."))] = False,
    label_with: Annotated[Path | None, typer.Option("--label-with", metavar="CLIP_MODEL", help=(
        "Name each event with this clip model (say aisfx + logreg) as it would the clip cut there; MODEL only says where "
        "(a sed-crnn frame model's sharp edges with a pretrained model's names)."))] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help="csv, json, audacity or raven (or a plug-in's label format).")] = "csv",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for one event file per recording (default: ./earmark-events).")] = None,
    plot: Annotated[bool, typer.Option("--plot", help="Also write a PNG: spectrogram with the events, scores under it.")] = False,
    cache_dir: Annotated[Path | None, typer.Option(help=(
        "Keep the recordings' embeddings in this folder, so a rerun with other detection settings skips the network "
        "(default: none; long recordings make large caches)."))] = None,
    backend: BackendOpt = None,
    calibration_data: CalibrationDataOpt = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
) -> None:
    """Find events in long recordings (or, with a voice database, who speaks when); writes one event file per recording.

    Unreadable recordings are reported and skipped; the exit code is 1 if any was.
    """
    from earmark import api
    from earmark.inference.detect import DetectionSettings

    model_first("detect", model_path, recordings)
    progress = not quiet
    settings = DetectionSettings(threshold=0.5 if threshold is None else threshold, min_duration_s=min_duration_s,
                                 merge_gap_s=merge_gap_s, median_windows=median_windows, exclusive=exclusive,
                                 refine_edges=refine_edges, one_label_per_event=one_label_per_event)
    batch = api.detect(model_path, recordings, settings=settings, hop_s=hop_s, fmt=fmt, out_dir=out_dir, plot=plot, progress=progress,
                       voice_threshold=threshold, backend=backend, calibration=calibration_data or None, workers=workers,
                       scheduler=scheduler, label_with=label_with, cache_dir=cache_dir, use_cache=cache_dir is not None)
    if batch.resumed:
        say(f"{len(batch.resumed)} recording(s) done by an earlier run with these settings (kept)")
    rows = [[r["recording"], f"{r['duration_s']:.1f}", len(r["events"]), ", ".join(f"{k} {v}" for k, v in r["counts"].items()),
             r["written_to"]] for r in batch.records]
    if rows:
        out.print(plain_table(f"events ({fmt})", ("recording", "duration s", "events", "by label", "written to"), rows))
        say(f"wrote {len(rows)} event file(s) to {Path(batch.records[0]['written_to']).parent}")
    fail_if_any(batch.skipped)


@runs
def listen(
    model_path: ModelArg,
    input_: Annotated[str | None, typer.Option("--input", "-i", help="A file played at real-time pace, or - for raw 16-bit PCM on stdin.")] = None,
    device: Annotated[str | None, typer.Option(help="Sound card (index or name) when no --input is given.")] = None,
    rate: Annotated[int, typer.Option(help="Sample rate of the PCM on stdin.")] = 16000,
    hop_s: Annotated[float | None, typer.Option("--hop-s", help="Classify the newest window this often (0.5 s; 0.1 s with --keywords).")] = None,
    gate_db: Annotated[float, typer.Option("--gate-db", help="Windows quieter than this (dBFS) are not classified.")] = -50.0,
    gate: Annotated[str, typer.Option(metavar=one_of("gate"), help="Skip quiet windows (energy), and with vad also windows without voice (Silero VAD).")] = "energy",
    threshold: Annotated[float, typer.Option(help="Print windows whose top score reaches this (0, 1].")] = 0.5,
    keywords: Annotated[str | None, typer.Option(help="Keyword spotting: fire once per spoken keyword of these classes (comma-separated).")] = None,
    sensitivity: Annotated[float | None, typer.Option(help="With --keywords: fire when the smoothed score reaches 1 - this; "
                                                           "'earmark evaluate-kws' picks it for a false-accept rate.")] = None,
    smooth: Annotated[int, typer.Option(help="With --keywords: average scores over this many hops.")] = 3,
    refractory_s: Annotated[float, typer.Option("--refractory-s", help="With --keywords: seconds after an event in which nothing fires.")] = 1.0,
    realtime: Annotated[bool, typer.Option(help="With --input FILE: play it at real-time pace (--no-realtime: as fast as possible).")] = True,
    backend: BackendOpt = None,
    calibration_data: CalibrationDataOpt = None,
) -> None:
    """Classify live audio as it arrives, or spot keywords in it; prints detections with their stream time and latency."""
    from earmark import api
    from earmark.inference.listen import file_blocks, microphone_blocks, stdin_blocks
    from earmark.pipeline import Model

    hop = api.inference.listen_hop_s(hop_s, keywords)
    api.inference.check_listen_options(rate=rate, hop_s=hop, gate=gate, threshold=threshold)  # before loading anything
    m = Model.load(model_path)  # api.listen checks --hop-s against the model's sample rate before any audio flows
    sr, block_s = m.front_end.sample_rate, min(hop, 0.1)
    if input_ == "-":
        blocks = stdin_blocks(rate=rate, sr=sr, block_s=block_s)
    elif input_:
        blocks = file_blocks(input_, sr=sr, block_s=block_s, realtime=realtime)
    else:
        blocks = microphone_blocks(device=int(device) if device and device.isdigit() else device, sr=sr, block_s=block_s)
    stats = api.ListenStats()
    try:
        for d in api.listen(m, blocks, hop_s=hop, gate_db=gate_db, threshold=threshold, gate=gate, keywords=keywords,
                            sensitivity=sensitivity, smooth=smooth, refractory_s=refractory_s, stats=stats, backend=backend,
                            calibration=calibration_data or None):
            said = f"{d.label:<20} {d.score:.2f}" if d.closest is None else f"unknown (nearest {d.closest} {d.score:.2f})"
            said = said.ljust(34)
            print(f"{d.end_s:9.2f} s  {said} level {d.level_db:6.1f} dBFS  latency {d.latency_s * 1000:5.0f} ms", flush=True)
    except KeyboardInterrupt:
        pass
    s = stats.summary()
    if s["detections"]:
        err.print(Text(f"stream ended: {s['detections']} detections, latency median {s['latency_median_ms']:.0f} ms, "
                       f"95th percentile {s['latency_p95_ms']:.0f} ms; CPU {s['cores']:.2f} cores on average over {s['wall_s']:.1f} s"))
    else:
        err.print(Text(f"stream ended: no detections; CPU {s['cores']:.2f} cores on average over {s['wall_s']:.1f} s"))


@runs
def evaluate_kws(
    model_path: ModelArg,
    data: DataArg,
    keywords: Annotated[str, typer.Option(help="The keywords the detector fires on (classes of the model, comma-separated).")],
    background: Annotated[list[Path], typer.Option(help="Keyword-free recordings, files or folders (repeatable): false accepts "
                                                        "are counted on them and keywords are mixed into them.")],
    test_fold: Annotated[list[str], typer.Option(help="Fold of held-out speakers whose keyword clips are tested (repeatable); "
                                                      "train the model with --exclude-fold on it.")],
    folds: Annotated[str, typer.Option(help="metadata.csv column with the folds.")] = "fold",
    snr_db: Annotated[str, typer.Option("--snr-db", help="Speech-to-noise ratios (dB) at which keywords are mixed into the background.")] = "20,10,5,0",
    target_fa_per_hour: Annotated[float, typer.Option("--target-fa-per-hour", help="Pick the threshold that fires at most this often "
                                                                                  "per hour on the background.")] = 1.0,
    hop_s: Annotated[float, typer.Option("--hop-s", help="Score the newest window this often, as listen does.")] = 0.1,
    smooth: Annotated[int, typer.Option(help="Average scores over this many hops, as listen does.")] = 3,
    refractory_s: Annotated[float, typer.Option("--refractory-s", help="Seconds after an event in which nothing fires.")] = 1.0,
    gate_db: Annotated[float, typer.Option("--gate-db", help="Windows quieter than this (dBFS) are not classified, as in listen.")] = -50.0,
    plot: Annotated[Path | None, typer.Option(help="Write the operating curve (PNG) here.")] = None,
    json_path: JsonOpt = None,
    file_column: FileCol = "filename",
    label_column: LabelCol = "label",
    seed: SeedOpt = 0,
    quiet: Quiet = False,
) -> None:
    """Measure a keyword model as a live detector: false accepts per hour against false rejects, and the threshold
    (sensitivity) for a target false-accept rate."""
    from earmark import api

    progress = not quiet
    check_outputs(json_path)
    if plot:
        from earmark.fileio import check_writable_file

        check_writable_file(plot, "plot")
    r = api.evaluate_kws(model_path, data, keywords=keywords, background=background, folds=folds, test_folds=test_fold,
                         snr_db=number_list(snr_db, "--snr-db", example="20,10,5,0"), target_fa_per_hour=target_fa_per_hour, hop_s=hop_s, smooth=smooth,
                         refractory_s=refractory_s, gate_db=gate_db, seed=seed, file_column=file_column,
                         label_column=label_column, plot=plot, progress=progress)
    report_skipped(r["skipped"])
    op, curve = r["operating_point"], r["curve"]
    say(f"{r['n_keywords']} keywords of held-out speakers (fold {','.join(r['test_folds'])}) at {', '.join(f'{s:g}' for s in r['snr_db'])} dB SNR; "
        f"false accepts counted over {curve['background_hours'] * 60:.0f} min: {r['background']['hours'] * 60:.1f} min of background in "
        f"{len(r['background']['files'])} recordings and the noise between keywords")
    if op is None:
        say(f"no threshold keeps false accepts at or below {target_fa_per_hour:g} per hour on this background "
            f"(at the highest, {curve['fa_per_hour'][-1]:.2g} per hour); the model fires on it too often")
    else:
        rows = [[f"{snr} dB", f"{v:.3f}"] for snr, v in op["frr_by_snr"].items()] + [["all", f"{op['frr']:.3f}"]]
        out.print(plain_table(f"false-reject rate at {op['fa_per_hour']:.2g} false accepts per hour ({op['false_accepts']} on the "
                              f"noise, target {target_fa_per_hour:g}; {op['confusions']} other keywords fired)", ("SNR", "false-reject rate"), rows))
        lat = "" if op["latency_median_s"] is None else (f"; events {op['latency_median_s']:.2f} s after the keyword ends (median, "
                                                         f"95th percentile {op['latency_p95_s']:.2f} s) plus compute "
                                                         f"{r['compute_ms_per_hop']:.1f} ms per hop")
        say(f"threshold {op['threshold']:.7g}: earmark listen {model_path} --keywords {','.join(r['keywords'])} "
            f"--sensitivity {op['sensitivity']:.3g}{lat}")
    if plot:
        say(f"wrote {r['plot']}")
    save_outputs(r, json_path, None, "")
