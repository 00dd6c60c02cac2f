"""Progress for long work: a bar on a terminal, a line every few seconds elsewhere.

Under ``nohup``, in a pipe or a log file, a bar would print nothing useful
until the end; there, :func:`track` writes ``description: i/n (p%)`` to
stderr every ``EVERY_S`` seconds, and once more at the end.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
EVERY_S = 5.0  # seconds between progress lines off a terminal


def progress_enabled(quiet: bool = False) -> bool:
    """Progress is shown unless ``quiet``."""
    return not quiet


def track(items: Iterable[T], *, description: str, total: int | None = None, enabled: bool = True, every_s: float | None = None) -> Iterator[T]:
    """Iterate over ``items``, showing progress on stderr when ``enabled``."""
    if not enabled:
        yield from items
        return
    if not sys.stderr.isatty():
        yield from _lines(items, description, total, EVERY_S if every_s is None else every_s)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


def _lines(items: Iterable[T], description: str, total: int | None, every_s: float) -> Iterator[T]:
    t0 = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= every_s:
            last = now
            _line(description, done, total, now - t0)
    if done and last != t0:  # work that printed a line along the way also says when it ended
        _line(description, done, total, time.monotonic() - t0)


def _line(description: str, done: int, total: int | None, elapsed: float) -> None:
    share = f" ({100 * done / total:.0f}%)" if total else ""
    line = f"{description}: {done}/{total if total else '?'}{share}, {elapsed:.0f} s"
    log.info(line)  # for log files; the line below is for whoever watches stderr
    print(line, file=sys.stderr, flush=True)


def note(line: str, *, enabled: bool = True) -> None:
    """One progress line for work without a known count (a network's epochs): logged, and printed to stderr when ``enabled``."""
    log.info(line)
    if enabled:
        print(line, file=sys.stderr, flush=True)
