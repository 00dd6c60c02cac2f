"""Commands of the voice database: enroll, identify, verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from earmark.cli._shared import CacheDir, NoCache, Quiet, one_of, runs
from earmark.console import error, fail_if_any, out, plain_table, report_skipped, say


DbArg = Annotated[Path, typer.Argument(metavar="DB", help="Voice database folder (from 'earmark enroll').")]
ClipsArg = Annotated[list[Path], typer.Argument(metavar="CLIP...", help="Audio files or folders (searched recursively).")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", metavar=one_of("table"), help="How to print the answers.")]


@runs
def enroll(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The speaker's name.")],
    clips: ClipsArg,
    db: Annotated[Path, typer.Option(help="Voice database folder (made if new).")],
    model: Annotated[Path | None, typer.Option("--model", help=(
        "A 'metric' model file to encode voices with (a new database only); default: the speaker embedder as it is."))] = None,
    embedder: Annotated[str | None, typer.Option(help="Front end of a new database without --model (default speaker).")] = None,
    calibrate: Annotated[Path | None, typer.Option(help=(
        "Recordings of other speakers (metadata.csv with a speaker column): sets the accept threshold at their equal error rate."))] = None,
    speaker_column: Annotated[str, typer.Option(help="With --calibrate: the metadata.csv column naming each clip's speaker.")] = "speaker",
    replace: Annotated[bool, typer.Option("--replace", help="Replace the voice print of a NAME enrolled already.")] = False,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
) -> None:
    """Enrol a voice from a few clips (no retraining): its voice print goes into --db."""
    from earmark import api
    from earmark.errors import ParameterError

    if model is not None and not model.is_file():
        raise ParameterError(f"--model {model}: no such model file; train one with 'earmark train DATA --label-column speaker "
                             "--model metric --embedder speaker --out voice.earmark'.")
    r = api.enroll(name, clips, db, model=model, embedder=embedder, calibrate=calibrate, speaker_column=speaker_column,
                   replace=replace, cache_dir=cache_dir, use_cache=not no_cache)
    report_skipped(r["skipped"])
    rec = r["record"]
    say(f"enrolled {name} from {rec['n_clips']} clips (similarity to the print: mean {rec['similarity_to_print']['mean']:.3f}, "
        f"lowest {rec['similarity_to_print']['min']:.3f}); {r['n_speakers']} voices in {db}")
    cal = r["calibration"]
    if cal:
        say(f"threshold {r['threshold']:.4f}: equal error rate {cal['eer']:.3f} on {cal['n_trials']} trials among "
            f"{cal['n_speakers']} speakers of {cal['data']}")
    else:
        say("no threshold yet: identify gives the closest voice and never 'unknown'; add --calibrate DATA to set one")


def _print_voice_records(records: list[dict], fmt: str, columns: tuple[str, ...]) -> None:
    import csv as _csv
    import io
    import json as _json

    if fmt == "json":
        print(_json.dumps(records, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        buf = io.StringIO()
        w = _csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        w.writerows(records)
        print(buf.getvalue(), end="")
    else:
        out.print(plain_table("", columns, [[f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in columns] for r in records]))


def _voice_command(call, fmt: str, last_column: str) -> None:
    """Run an identify / verify call and print its records (file, speaker, score, ``last_column``) and skipped files."""
    from earmark.errors import check_choice

    check_choice("format", fmt, ("table", "csv", "json"))
    r = call()
    if r["records"]:
        _print_voice_records(r["records"], fmt, ("file", "speaker", "score", last_column))
    fail_if_any(r["skipped"])


@runs
def identify(
    db: DbArg,
    clips: ClipsArg,
    fmt: FormatOpt = "table",
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
) -> None:
    """Who speaks in each clip: the closest enrolled voice, or 'unknown' below the calibrated threshold."""
    from earmark import api

    _voice_command(lambda: api.identify(db, clips, cache_dir=cache_dir, use_cache=not no_cache), fmt, "closest")


@runs
def verify(
    db: DbArg,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The enrolled speaker to check against.")],
    clips: ClipsArg,
    fmt: FormatOpt = "table",
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
) -> None:
    """Is each clip NAME's voice? Accept or reject at the database's calibrated threshold, with the score."""
    from earmark import api

    _voice_command(lambda: api.verify(db, name, clips, cache_dir=cache_dir, use_cache=not no_cache), fmt, "accepted")
