"""Event label files: Audacity label tracks and Raven selection tables.

- Audacity: tab-separated ``start<TAB>end<TAB>label``, no header, times in
  seconds; lines starting with a backslash carry a spectral selection's
  frequency range for the line above and are read into ``low_hz``/``high_hz``.
- Raven: tab-separated with a header; earmark reads ``Begin Time (s)``,
  ``End Time (s)``, ``Low Freq (Hz)``, ``High Freq (Hz)`` and the label from
  the first of ``Annotation``, ``Label``, ``Species``, ``Class`` present (or
  ``label_column``), and writes the standard columns plus ``Annotation`` and
  ``Score``.

Files are UTF-8; labels may hold spaces and any characters but tabs and
newlines. Writes are atomic.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from earmark.errors import DatasetError, ParameterError
from earmark.fileio import atomic_write

RAVEN_COLUMNS = ["Selection", "View", "Channel", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)", "Annotation", "Score"]
RAVEN_LABELS = ("Annotation", "Label", "Species", "Class")


@dataclass(frozen=True)
class Event:
    """A labelled stretch of a recording, times in seconds."""

    start_s: float
    end_s: float
    label: str
    score: float | None = None
    low_hz: float | None = None
    high_hz: float | None = None
    mean_score: float | None = None


def _check(events) -> list[Event]:
    events = list(events)
    for e in events:
        if "\t" in e.label or "\n" in e.label:
            raise ParameterError(f"Label {e.label!r} holds a tab or newline; label files cannot store it. Rename the class.")
        if e.end_s < e.start_s:
            raise ParameterError(f"Event {e.label!r} ends ({e.end_s} s) before it starts ({e.start_s} s).")
    return events


def read_audacity(path: str | Path) -> list[Event]:
    """Read an Audacity label track.

    Raises
    ------
    DatasetError
        Naming the file and line of the first malformed line.
    """
    path = Path(path)
    events: list[Event] = []
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if line.startswith("\\"):  # spectral selection: frequencies of the label above
            if not events or len(fields) < 3:
                raise DatasetError(f"{path}, line {number}: a frequency line must follow a label line; fix or delete it.")
            low, high = _floats(path, number, fields[1:3])
            events[-1] = Event(events[-1].start_s, events[-1].end_s, events[-1].label, events[-1].score, low, high)
            continue
        if len(fields) < 2:
            raise DatasetError(f"{path}, line {number}: expected 'start<TAB>end<TAB>label', got {line!r}; fix or delete the line.")
        start, end = _floats(path, number, fields[:2])
        if end < start:
            raise DatasetError(f"{path}, line {number}: end {end} s is before start {start} s; swap them.")
        events.append(Event(start, end, fields[2] if len(fields) > 2 else ""))
    return events


def write_audacity(events, path: str | Path) -> Path:
    """Write events as an Audacity label track (importable with File > Import > Labels)."""
    events = _check(events)
    with atomic_write(path, "w") as f:
        for e in events:
            f.write(f"{e.start_s:.6f}\t{e.end_s:.6f}\t{e.label}\n")
    return Path(path)


def read_raven(path: str | Path, *, label_column: str | None = None) -> list[Event]:
    """Read a Raven selection table.

    Raises
    ------
    DatasetError
        If the begin/end/label columns are missing or a row is malformed (names the line).
    """
    path = Path(path)
    text = "\n".join(_lines(path))
    if not text.strip():
        return []
    reader = csv.DictReader(io.StringIO(text), delimiter="\t")
    columns = reader.fieldnames or []
    label = label_column or next((c for c in RAVEN_LABELS if c in columns), None)
    missing = [c for c in ("Begin Time (s)", "End Time (s)") if c not in columns] + ([] if label in columns else [label_column or "Annotation"])
    if missing:
        raise DatasetError(f"{path}: not a Raven selection table, missing column(s) {', '.join(map(repr, missing))} (has {', '.join(columns)}).")
    events = []
    for number, row in enumerate(reader, start=2):
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        start, end = _floats(path, number, [row["Begin Time (s)"], row["End Time (s)"]])
        if end < start:
            raise DatasetError(f"{path}, line {number}: end {end} s is before start {start} s; swap them.")
        low = _optional(path, number, row.get("Low Freq (Hz)"))
        high = _optional(path, number, row.get("High Freq (Hz)"))
        score = _optional(path, number, row.get("Score"))
        events.append(Event(start, end, row[label] or "", score, low, high))
    return events


def write_raven(events, path: str | Path) -> Path:
    """Write events as a Raven selection table (standard columns, plus ``Annotation`` and ``Score``)."""
    events = _check(events)
    with atomic_write(path, "w") as f:
        f.write("\t".join(RAVEN_COLUMNS) + "\n")
        for i, e in enumerate(events, start=1):
            low = "" if e.low_hz is None else f"{e.low_hz:g}"
            high = "" if e.high_hz is None else f"{e.high_hz:g}"
            score = "" if e.score is None else f"{e.score:.4f}"
            f.write(f"{i}\tSpectrogram 1\t1\t{e.start_s:.6f}\t{e.end_s:.6f}\t{low or 0}\t{high or 0}\t{e.label}\t{score}\n")
    return Path(path)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such label file; check the path.") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8.") from None


def _floats(path: Path, number: int, values) -> list[float]:
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        raise DatasetError(f"{path}, line {number}: times must be numbers in seconds, got {list(values)!r}; fix the line.") from None


def _optional(path: Path, number: int, value) -> float | None:
    if value is None or not str(value).strip():
        return None
    return _floats(path, number, [value])[0]
