"""Commands over a collection's embedding store: index, search, cluster, label, map."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from earmark.cli._shared import BackendOpt, Quiet, Scheduler, Workers, check_outputs, gate_level, one_of, runs
from earmark.console import err, fail_if_any, out, plain_table, say


@runs
def index(
    recordings: Annotated[list[Path], typer.Argument(metavar="RECORDINGS...", help="Audio files or folders (searched recursively).")],
    store: Annotated[Path, typer.Option("--store", help="Store folder (made on first use; later runs add new or changed files).")],
    embedder: Annotated[str | None, typer.Option(help="Front end, fixed when the store is made (default aisfx).")] = None,
    window_s: Annotated[float | None, typer.Option("--window-s", help="Window length in seconds, for front ends that take one "
                                                                   "(mfcc, wave); fixed when the store is made.")] = None,
    hop_s: Annotated[float | None, typer.Option("--hop-s", help="Seconds between windows, fixed when the store is made "
                                                             "(default: the front end's own).")] = None,
    labels: Annotated[Path | None, typer.Option(help="CSV with file and label columns (as 'earmark train' reads) whose labels "
                                                     "are kept with the windows.")] = None,
    backend: BackendOpt = None,
    calibration_data: Annotated[list[Path] | None, typer.Option("--calibration-data", help=(
        "With --backend onnx-int8 on a new store: recordings whose windows set the int8 ranges (default: RECORDINGS)."))] = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
) -> None:
    """Embed every window of a collection into a store for search, clusters and maps.

    Only new or changed files (by content hash) are embedded; an interrupted run goes on where it stopped.
    Unreadable files are reported and skipped; the exit code is 1 if any was.
    """
    from earmark import api

    progress = not quiet
    r = api.index(recordings, store, embedder=embedder, window_s=window_s, hop_s=hop_s, labels=labels, backend=backend,
                  calibration=calibration_data or None, progress=progress, workers=workers, scheduler=scheduler)
    say(f"{store}: {len(r.added)} added, {len(r.changed)} changed, {len(r.copied)} copies of stored files, {r.unchanged} unchanged, "
        f"{len(r.skipped)} skipped; {r.windows:,} windows"
        + (f", {r.audio_s / 3600:.2f} h of audio at {r.realtime:.0f}x realtime" if r.audio_s else ""))
    fail_if_any(r.skipped)


@runs
def search(
    store: Annotated[Path, typer.Argument(metavar="STORE", help="Store folder from 'earmark index'.")],
    like: Annotated[str | None, typer.Option("--like", help="An audio file, or a stretch of one: FILE@START-END in seconds.")] = None,
    k: Annotated[int, typer.Option("-k", help="How many windows to list.")] = 20,
    model_path: Annotated[Path | None, typer.Option("--model", help="With --label: list the windows this model scores highest.")] = None,
    label: Annotated[str | None, typer.Option("--label", help="The model's class to rank windows by.")] = None,
    approximate: Annotated[bool | None, typer.Option("--approximate/--exact", help="Search the HNSW index, or check every window "
                                                                                    "(default: exact below a million windows).")] = None,
    gate_db: Annotated[float, typer.Option("--gate-db", help="Leave out windows quieter than this (dBFS); -inf keeps all.")] = -60.0,
    fmt: Annotated[str, typer.Option("--format", "-f", metavar=one_of("table"), help="How to print the hits.")] = "table",
    html_path: Annotated[Path | None, typer.Option("--html", help="Also write a page where each window can be played.")] = None,
    quiet: Quiet = False,
) -> None:
    """Find the windows most like an example, or those a model scores highest for a class."""
    import csv
    import sys

    from earmark import api
    from earmark.errors import check_choice

    check_choice("format", fmt, ("table", "csv", "json"))
    check_outputs(out_path=html_path)
    hits = api.search(store, like=like, k=k, model=model_path, label=label, approximate=approximate, gate_db=gate_level(gate_db),
                      html=html_path)
    measure = "distance" if like is not None else "score"
    if fmt == "json":
        print(json.dumps(hits, indent=2))
    elif fmt == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["file", "start_s", "end_s", measure, "label"])
        w.writerows([h["file"], f"{h['start_s']:.3f}", f"{h['end_s']:.3f}", f"{h[measure]:.6f}", h["label"]] for h in hits)
    else:
        rows = [[str(i), h["file"], f"{h['start_s']:.2f}", f"{h['end_s']:.2f}", f"{h[measure]:.4f}", h["label"]]
                for i, h in enumerate(hits, 1)]
        out.print(plain_table(f"{store}: {len(hits)} windows", ("#", "file", "start s", "end s", measure, "label"), rows))
    if html_path is not None:
        (say if fmt == "table" else err.print)(f"wrote {html_path}")


@runs
def cluster(
    store: Annotated[Path, typer.Argument(metavar="STORE", help="Store folder from 'earmark index'.")],
    method: Annotated[str, typer.Option(metavar=one_of("method"), help="hdbscan (finds the number of clusters; runs on a sample of 20,000 windows) or "
                                             "kmeans (needs -k; all windows, one shard at a time).")] = "hdbscan",
    k: Annotated[int | None, typer.Option("-k", help="k-means: the number of clusters.")] = None,
    min_cluster_size: Annotated[int, typer.Option(help="HDBSCAN: the fewest windows a cluster may have.")] = 10,
    gate_db: Annotated[float, typer.Option("--gate-db", help="Leave out windows quieter than this (dBFS); -inf keeps all.")] = -60.0,
    out_path: Annotated[Path | None, typer.Option("--out", help="CSV of every window's cluster (file, start_s, end_s, cluster, label).")] = None,
    html_path: Annotated[Path | None, typer.Option("--html", help="A page with each cluster's most typical windows, playable.")] = None,
    quiet: Quiet = False,
) -> None:
    """Group a store's windows by sound, and say what is in each group (the assignment is kept for 'earmark map')."""
    from earmark import api

    check_outputs(out_path=out_path)
    check_outputs(out_path=html_path)
    r = api.cluster(store, method=method, k=k, min_cluster_size=min_cluster_size, gate_db=gate_level(gate_db), out=out_path, html=html_path)
    rows = [[str(c["cluster"]), str(c["size"]), ", ".join(f"{lab} {n}" for lab, n in list(c["labels"].items())[:4]),
             "; ".join(f"{Path(e['file']).name}@{e['start_s']:.1f}" for e in c["examples"])] for c in r["clusters"]]
    out.print(plain_table(f"{store}: {len(r['clusters'])} clusters ({method}) of {r['n_windows']:,} windows, {r['noise']:,} "
                          "unclustered", ("cluster", "windows", "labels (known)", "typical windows"), rows))
    for p in (out_path, html_path):
        if p is not None:
            say(f"wrote {p}")


@runs
def label(
    store: Annotated[Path, typer.Argument(metavar="STORE", help="Store folder from 'earmark index'.")],
    model_path: Annotated[Path, typer.Option("--model", help="A model trained on the store's front end (e.g. 'earmark train "
                                                            "--from-store').")],
    out_path: Annotated[Path, typer.Option("--out", help="The CSV to fill in (or, with --format audacity/raven, a folder of label files).")],
    strategy: Annotated[str, typer.Option(metavar=one_of("strategy"), help="uncertain (the model's closest calls), top (its surest finds) or random.")] = "uncertain",
    n: Annotated[int, typer.Option("-n", help="How many windows to pick.")] = 20,
    label_name: Annotated[str | None, typer.Option("--label", help="With --strategy top: the class whose best windows to pick.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help="csv, audacity or raven (or a plug-in's label format).")] = "csv",
    seed: Annotated[int, typer.Option(help="With --strategy random: the draw.")] = 0,
    exclude: Annotated[Path | None, typer.Option("--exclude", help="A filled-in pick (the --labels of earlier rounds): its "
                                                                  "windows are not picked again.")] = None,
    quiet: Quiet = False,
) -> None:
    """Pick the next windows to label; fill in the label column, then 'earmark train --from-store STORE --labels FILE'."""
    from earmark import api
    from earmark.errors import check_choice

    check_choice("format", fmt, ("csv", "audacity", "raven"))
    rows = api.label(store, model_path, strategy=strategy, n=n, label=label_name, out=out_path, fmt=fmt, seed=seed,
                     exclude=exclude)
    say(f"wrote {len(rows)} windows to label ({strategy}) to {out_path}")


@runs
def map_command(
    store: Annotated[Path, typer.Argument(metavar="STORE", help="Store folder from 'earmark index'.")],
    out_path: Annotated[Path, typer.Option("--out", help="The HTML page to write (opens from disk, no server, no network).")],
    color: Annotated[str, typer.Option(metavar=one_of("color"), help="label, cluster (from 'earmark cluster') or score (needs --model and --label).")] = "label",
    model_path: Annotated[Path | None, typer.Option("--model", help="With --color score: the model whose score colours the points.")] = None,
    label_name: Annotated[str | None, typer.Option("--label", help="With --color score: the model's class.")] = None,
    projection: Annotated[str, typer.Option(metavar=one_of("projection"), help="How the windows are laid out in 2-D.")] = "umap",
    max_points: Annotated[int, typer.Option(help="At most this many windows (a seeded sample beyond it).")] = 20_000,
    gate_db: Annotated[float, typer.Option("--gate-db", help="Leave out windows quieter than this (dBFS); -inf keeps all.")] = -60.0,
    embed_audio: Annotated[bool, typer.Option("--embed-audio", help="Put each window's audio inside the page (at most 500 "
                                                                   "points) instead of linking to the recordings.")] = False,
    quiet: Quiet = False,
) -> None:
    """Draw a store's windows as a map you can listen to: hover for file and time, click to play, select and export a CSV to label."""
    from earmark import api

    r = api.map(store, out_path, color=color, model=model_path, label=label_name, projection=projection, max_points=max_points,
                gate_db=gate_level(gate_db), embed_audio=embed_audio)
    say(f"wrote {r['out']}: {r['points']:,} of {r['of']:,} windows, {r['projection']}, coloured by {r['color']}")
