"""The ``earmark`` command: parses options, calls :mod:`earmark.api`, prints.

Each command is a function in one of this package's modules (``training``,
``inference``, ``voices``, ``collection``, ``deploy``), registered below in
the order ``earmark --help`` lists them; what they share is in ``_shared``.
Domain errors become one line on stderr and exit code 1. Nothing the user
typed or the data holds (file names, labels, messages) is read as rich
markup: it is printed as plain text.
"""

from __future__ import annotations

from typing import Annotated

import typer

from earmark.cli import collection, deploy, inference, training, voices
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


typer.core.TyperArgument._usage_display_name = _usage_name


COMMANDS = [
    (training.embedders, None),
    (training.models, None),
    (training.train, None),
    (inference.predict, None),
    (training.evaluate, None),
    (training.curve, None),
    (training.compare, None),
    (inference.detect, None),
    (inference.listen, None),
    (inference.evaluate_kws, "evaluate-kws"),
    (deploy.mix, None),
    (voices.enroll, None),
    (voices.identify, None),
    (voices.verify, None),
    (deploy.export_model, "export"),
    (deploy.bench, None),
    (collection.index, None),
    (collection.search, None),
    (collection.cluster, None),
    (collection.label, None),
    (collection.map_command, "map"),
    (deploy.serve, None),
]
for command, name in COMMANDS:
    app.command(name)(command)


def main() -> None:
    app()

