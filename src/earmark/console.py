"""What the ``earmark`` command prints: consoles, plain-text tables, errors, warnings, predictions.

Nothing the user typed or the data holds (file names, labels, messages) is
read as rich markup: every such string goes through :class:`rich.text.Text`.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import sys

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

# Off a terminal (pipes, files, tests) tables get room instead of rich's 80-column default.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160, highlight=False)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160, highlight=False)


# Python parameter names in library messages, as the options the user typed
_OPTIONS = {"test_folds": "--test-fold", "train_folds": "--train-folds", "exclude_folds": "--exclude-fold", "classifier_params": "--classifier",
            "fold_column": "--folds", "top_k": "--top-k", "embedder": "--embedder", "model": "--model", "classifier": "--classifier",
            "format": "--format", "unknown": "--unknown-classes"}


def as_option(message: str) -> str:
    return re.sub(r"\b([Tt]he) '(\w+)' parameter",
                  lambda m: f"{m.group(1)} '{_OPTIONS.get(m.group(2), '--' + m.group(2).replace('_', '-'))}' option", message)


class Warnings(logging.Handler):
    """Library warnings as 'warning: ...' lines on stderr (plain text, never markup)."""

    def emit(self, record: logging.LogRecord) -> None:
        err.print(Text("warning: ", style="yellow") + Text(shown(record.getMessage())))


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0, 32), *range(127, 160)] if c not in (9, 10)}


def shown(text: str) -> str:
    """``text`` with its control characters (an escape sequence in a file name, say) written as ``\\xNN``, so nothing
    a file or label holds can drive the terminal."""
    return str(text).translate(_CONTROL)


def error(message: str) -> None:
    err.print(Text("error: ", style="red") + Text(shown(message)))


def say(message: str, *, about=None) -> None:
    """Print ``message`` on stdout, or on stderr when it is ``about`` an output that is written through (``--out
    /dev/stdout``, a pipe), so the confirmation never lands inside that output."""
    if about is not None:
        from earmark.fileio import output_target

        try:
            if output_target(about)[1]:
                err.print(Text(shown(message)))
                return
        except Exception:  # noqa: BLE001 - a confirmation is never worth an error
            pass
    out.print(Text(shown(message)))


def plain_table(title: str, columns, rows, *, no_wrap=()) -> Table:
    table = Table(title=Text(title))
    for col in columns:
        table.add_column(col, no_wrap=col in no_wrap)
    for row in rows:
        table.add_row(*(Text(shown(c)) for c in row))
    return table


def report_skipped(skipped: list[dict]) -> None:
    for s in skipped:
        err.print(Text("skipped ", style="yellow") + Text(shown(f"{s['file']}: {s['reason']}")))


def predictions_text(preds, fmt: str, top_k: int) -> str:
    """Predictions as CSV (``file,label,score,label_2,score_2,...``) or a JSON list, as printed and as written by --out."""
    from earmark.pipeline import Prediction

    rows = [p.row() for p in preds]
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    buf = io.StringIO()
    w = csv.writer(buf)
    closest = any("known_score" in r for r in rows)  # a model that rejects: say which class an unknown clip is nearest
    w.writerow(Prediction.csv_header(top_k, closest=closest))
    for r in rows:
        w.writerow(Prediction.csv_row(r, top_k, closest=closest))
    return buf.getvalue()


def print_predictions(preds, fmt: str, top_k: int) -> None:
    if fmt in ("json", "csv"):
        print(predictions_text(preds, fmt, top_k), end="")
    else:
        rows = [p.row() for p in preds]
        cols = ("file", "label", "score") + (("next",) if top_k else ())
        body = [[r["file"], r["label"], "-" if r["score"] is None else f"{r['score']:.3f}",
                 *((", ".join(f"{n['label']} {n['score']:.2f}" for n in r["next"]),) if top_k else ())] for r in rows]
        out.print(plain_table("", cols, body))


def fail_if_any(skipped: list[dict]) -> None:
    """Print each skipped file's reason on stderr; exit 1 if there was any."""
    for s in skipped:
        error(f"{s['file']}: {s['reason']}")
    if skipped:
        raise typer.Exit(1)
