"""The command-line reference, generated from the ``earmark`` typer app at build time, so it never drifts.

(typer 0.29 carries its own copy of click, which sphinx-click does not recognise; the reference is therefore each
command's own ``--help`` text, as the command prints it, under a section per command.)
"""

from pathlib import Path

import typer

from earmark.cli import app


def write_reference(path: Path) -> Path:
    """Write the reStructuredText of every command's help to ``path``."""
    command = typer.main.get_command(app)
    ctx = command.make_context("earmark", [], resilient_parsing=True)
    lines = []
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        help_text = sub.get_help(sub.make_context(name, [], parent=ctx, resilient_parsing=True))
        title = f"earmark {name}"
        lines += [title, "-" * len(title), "", (sub.get_short_help_str(limit=200) or "").strip(), "", ".. code-block:: text", ""]
        lines += ["   " + line if line.strip() else "" for line in help_text.splitlines()]
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
