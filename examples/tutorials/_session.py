"""The tutorials' shell: ``sh("earmark ...")`` runs a command line as a terminal would and shows it with what it
printed; ``data/demo`` and the shared sets under ``EARMARK_DATA`` appear as ``data/NAME``, as ``earmark fetch``
leaves them (imported by each tutorial in a block the page hides)."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

SHARED = Path(os.environ.get("EARMARK_DATA", "../../../shared/data"))

for name, target in (("demo", Path("../../data/demo")), ("esc10", SHARED / "esc10"), ("fsdd", SHARED / "fsdd")):
    link = Path("data") / name
    if target.exists() and not link.exists():
        link.parent.mkdir(exist_ok=True)
        link.symlink_to(target.resolve())


def sh(command: str) -> None:
    """Run ``command`` (its first word a program of this environment: earmark, python) and print it with its output."""
    print("$ " + command)
    args = shlex.split(command)
    args[0] = str(Path(sys.executable).with_name(args[0]))
    r = subprocess.run(args, capture_output=True, text=True)
    print(r.stdout + r.stderr, end="")  # what a terminal shows: stdout, then warnings and summaries on stderr
    assert r.returncode == 0, r.stderr
