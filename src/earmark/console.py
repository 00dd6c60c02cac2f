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
    return re.sub(r"The '(\w+)' parameter", lambda m: f"The '{_OPTIONS.get(m.group(1), '--' + m.group(1).replace('_', '-'))}' option", message)


class Warnings(logging.Handler):
    """Library warnings as 'warning: ...' lines on stderr (plain text, never markup)."""

    def emit(self, record: logging.LogRecord) -> None:
        err.print(Text("warning: ", style="yellow") + Text(record.getMessage()))


def error(message: str) -> None:
    err.print(Text("error: ", style="red") + Text(message))


def say(message: str) -> None:
    out.print(Text(message))


def plain_table(title: str, columns, rows, *, no_wrap=()) -> Table:
    table = Table(title=Text(title))
    for col in columns:
        table.add_column(col, no_wrap=col in no_wrap)
    for row in rows:
        table.add_row(*(Text(str(c)) for c in row))
    return table


def report_skipped(skipped: list[dict]) -> None:
    for s in skipped:
        err.print(Text("skipped ", style="yellow") + Text(f"{s['file']}: {s['reason']}"))


def print_predictions(preds, fmt: str, top_k: int) -> None:
    rows = [{"file": str(p.path), "label": p.label, "score": None if p.silent or not p.scores else round(p.score, 4), "silent": p.silent,
             "next": [] if p.tagger else [{"label": lab, "score": round(s, 4)} for lab, s in zip(p.labels[1:], p.scores[1:])],
             **({"unknown": p.unknown, "closest": p.labels[0] if p.unknown and p.labels else None,
                 "known_score": None if p.known_score is None else round(p.known_score, 4)} if p.unknown or p.known_score is not None else {})}
            for p in preds]
    if fmt == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["file", "label", "score"] + [c for i in range(1, top_k + 1) for c in (f"label_{i + 1}", f"score_{i + 1}")])
        for r in rows:
            nxt = [v for n in r["next"] for v in (n["label"], n["score"])]
            w.writerow([r["file"], r["label"], "" if r["score"] is None else r["score"]] + nxt + [""] * (2 * top_k - len(nxt)))
        print(buf.getvalue(), end="")
    else:
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
