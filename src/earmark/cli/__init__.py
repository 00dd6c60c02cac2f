"""The ``earmark`` command: parses options, calls :mod:`earmark.api`, prints.

Each command is a function in one of this package's modules (``training``,
``inference``, ``voices``, ``collection``, ``deploy``), registered below in
the order ``earmark --help`` lists them; what they share is in ``_shared``.
Domain errors become one line on stderr and exit code 1. Nothing the user
typed or the data holds (file names, labels, messages) is read as rich
markup: it is printed as plain text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, get_args

import typer

from earmark.cli import collection, deploy, inference, training, voices
from earmark.cli.examples import epilog
from earmark.console import out

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Few-shot sound classification by transfer learning.",
                  pretty_exceptions_enable=False, rich_markup_mode=None)


def _version(value: bool) -> None:
    if value:
        from earmark._version import __version__

        out.print(f"earmark {__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print earmark's version and exit.")] = False) -> None:
    """Few-shot sound classification by transfer learning."""


def _usage_name(self) -> str:
    """Arguments in the usage line as ``DATA`` / ``PATH...`` (click's convention), not typer 0.29's ``{DATA}``."""
    return self.display_name_raw + ("..." if self.nargs != 1 and not self.display_name_raw.endswith("...") else "")


def _display_type(self, ctx) -> str:
    """What an option takes, in words (``PATH``, ``N``, ``NUMBER``, ``TEXT``), never a Python type (typer 0.29 shows
    ``<list[Path]>``); an option with fixed choices declares them as its metavar (``[table|csv|json]``), and an
    argument's name says what it is."""
    if isinstance(self, typer.core.TyperArgument):
        return ""
    desc = self.type_descriptor
    if desc.is_choice:
        return "[" + "|".join(map(str, desc.choices or ())) + "]"
    annotation = desc.annotation
    if desc.is_list and get_args(annotation):
        annotation = get_args(annotation)[0]
    if desc.is_path or annotation is Path:
        return "PATH"
    return {int: "N", float: "NUMBER"}.get(annotation, "TEXT")


typer.core.TyperArgument._usage_display_name = _usage_name
typer.core._TyperParameter.display_type = _display_type


def _format_commands(self, ctx, formatter) -> None:
    """``earmark --help``: the commands in panels (their ``rich_help_panel``), each with its whole one-line summary."""
    panels: dict[str, list[tuple[str, str]]] = {}
    for name in self.list_commands(ctx):
        command = self.get_command(ctx, name)
        if command is not None and not command.hidden:
            panels.setdefault(command.rich_help_panel or "Commands", []).append((name, command.get_short_help_str(200)))
    for panel, rows in panels.items():
        with formatter.section(panel):
            formatter.write_dl(rows)


typer.core.TyperGroup.format_commands = _format_commands

TRAIN, USE, VOICES, COLLECTIONS, DEPLOY = ("Train and evaluate", "Use a model", "Voices and keywords", "Collections",
                                           "Deploy and serve")
COMMANDS = [  # (function, name, panel) in --help order
    (training.train, None, TRAIN),
    (training.evaluate, None, TRAIN),
    (training.curve, None, TRAIN),
    (training.compare, None, TRAIN),
    (training.models, None, TRAIN),
    (training.embedders, None, TRAIN),
    (deploy.mix, None, TRAIN),
    (deploy.fetch, None, TRAIN),
    (inference.predict, None, USE),
    (inference.detect, None, USE),
    (inference.listen, None, USE),
    (voices.enroll, None, VOICES),
    (voices.identify, None, VOICES),
    (voices.verify, None, VOICES),
    (inference.evaluate_kws, "evaluate-kws", VOICES),
    (collection.index, None, COLLECTIONS),
    (collection.search, None, COLLECTIONS),
    (collection.cluster, None, COLLECTIONS),
    (collection.label, None, COLLECTIONS),
    (collection.map_command, "map", COLLECTIONS),
    (deploy.export_model, "export", DEPLOY),
    (deploy.bench, None, DEPLOY),
    (deploy.serve, None, DEPLOY),
]
for command, name, panel in COMMANDS:
    app.command(name, rich_help_panel=panel, epilog=epilog(name or command.__name__))(command)


def main() -> None:
    app()

