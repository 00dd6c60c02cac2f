"""Event label files, one registry of formats: Audacity, Raven, CSV and JSON.

:data:`LABEL_FORMATS` maps a format name to its reader, writer, the suffix
of the files earmark writes, and the names of the label file it looks for
beside a recording. ``train --labels``, ``detect --format`` and the writers
all go through it; a new format is one reader, one writer and one entry (from outside: :func:`register_label_format`).

- Audacity: tab-separated ``start<TAB>end<TAB>label``, no header, times in
  seconds; lines starting with a backslash carry a spectral selection's
  frequency range for the line above and are read into ``low_hz``/``high_hz``.
- Raven: tab-separated with a header; earmark reads ``Begin Time (s)``,
  ``End Time (s)``, ``Low Freq (Hz)``, ``High Freq (Hz)`` and the label from
  the first of ``Annotation``, ``Label``, ``Species``, ``Class`` present (or
  ``label_column``), and writes the standard columns plus ``Annotation`` and
  ``Score``.

- CSV and JSON: the event files ``earmark detect`` writes (``start_s``,
  ``end_s``, ``label``, ``peak_score``, ``mean_score``).

Files are UTF-8; labels may hold spaces and any characters but tabs and
newlines. Writes are atomic.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from earmark.errors import DatasetError, ParameterError, did_you_mean
from earmark.fileio import atomic_write
from earmark.plugins import Registry

BACKGROUND = "background"  # the "none of these" class of models trained from label files; never reported as an event

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


_CSV_COLUMNS = ["start_s", "end_s", "label", "peak_score", "mean_score"]


def _rows(events) -> list[dict]:
    return [{"start_s": round(e.start_s, 4), "end_s": round(e.end_s, 4), "label": e.label, "peak_score": e.score,
             "mean_score": e.mean_score} for e in events]


def write_csv(events, path: str | Path) -> Path:
    """Write events as CSV with columns ``start_s, end_s, label, peak_score, mean_score``."""
    events = _check(events)
    with atomic_write(path, "w") as f:
        w = csv.DictWriter(f, fieldnames=_CSV_COLUMNS)
        w.writeheader()
        w.writerows(_rows(events))
    return Path(path)


def write_json(events, path: str | Path) -> Path:
    """Write events as a JSON list of objects with the CSV's fields."""
    events = _check(events)
    with atomic_write(path, "w") as f:
        json.dump(_rows(events), f, indent=2, ensure_ascii=False)
    return Path(path)


def _event(path: Path, number: int, row: dict) -> Event:
    if not isinstance(row, dict) or "label" not in row:
        raise DatasetError(f"{path}, item {number}: expected start_s, end_s and label; fix the file.")
    start, end = _floats(path, number, [row.get("start_s"), row.get("end_s")])
    if end < start:
        raise DatasetError(f"{path}, line {number}: end {end} s is before start {start} s; swap them.")
    return Event(start, end, str(row["label"] or ""), _optional(path, number, row.get("peak_score")), None, None,
                 _optional(path, number, row.get("mean_score")))


def read_csv(path: str | Path) -> list[Event]:
    """Read an event CSV written by :func:`write_csv` (``start_s``, ``end_s``, ``label`` at least)."""
    path = Path(path)
    reader = csv.DictReader(io.StringIO("\n".join(_lines(path))))
    missing = [c for c in ("start_s", "end_s", "label") if c not in (reader.fieldnames or [])]
    if missing:
        raise DatasetError(f"{path}: not an earmark event CSV, missing column(s) {', '.join(missing)}.")
    return [_event(path, n, row) for n, row in enumerate(reader, start=2)]


def read_json(path: str | Path) -> list[Event]:
    """Read an event JSON list written by :func:`write_json`."""
    path = Path(path)
    try:
        rows = json.loads("\n".join(_lines(path)))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc}); fix the file.") from None
    if not isinstance(rows, list):
        raise DatasetError(f"{path}: expected a JSON list of events; fix the file.")
    return [_event(path, n, row) for n, row in enumerate(rows, start=1)]


@dataclass(frozen=True)
class LabelFormat:
    """One label-file format: how to read and write it, and where it sits beside a recording.

    ``sidecars`` are file names with ``{stem}`` for the recording's stem,
    tried in order; ``suffix`` is what earmark appends to a recording's stem
    when it writes events.
    """

    name: str
    read: Callable[[Path], list[Event]]
    write: Callable[[list, Path], Path]
    suffix: str
    sidecars: tuple[str, ...]


LABEL_FORMATS: dict[str, LabelFormat] = Registry({  # the plug-ins' formats join on first read (earmark.plugins)
    "csv": LabelFormat("csv", read_csv, write_csv, ".events.csv", ("{stem}.events.csv",)),
    "json": LabelFormat("json", read_json, write_json, ".events.json", ("{stem}.events.json",)),
    "audacity": LabelFormat("audacity", read_audacity, write_audacity, ".labels.txt", ("{stem}.txt", "{stem}.labels.txt")),
    "raven": LabelFormat("raven", read_raven, write_raven, ".selections.txt", ("{stem}.selections.txt", "{stem}.Table.1.selections.txt")),
})


def register_label_format(fmt: LabelFormat) -> None:
    """Make ``fmt`` a label format everywhere (``train --labels``, ``detect --format``, the store's label import), as
    :func:`earmark.models.register_model` does for models; a plug-in calls it from its ``register()``.

    Raises
    ------
    ParameterError
        If the name is empty, holds a comma or spaces, or is taken.
    """
    if not fmt.name or fmt.name != fmt.name.strip() or "," in fmt.name or " " in fmt.name:
        raise ParameterError(f"A label format's name must be non-empty without commas or spaces. Got {fmt.name!r} instead.")
    if dict.__contains__(LABEL_FORMATS, fmt.name):
        raise ParameterError(f"A label format called {fmt.name!r} is registered already; choose another name.")
    if not fmt.suffix.startswith(".") or not fmt.sidecars or any("{stem}" not in s for s in fmt.sidecars):
        raise ParameterError(f"Label format {fmt.name!r}: its suffix must start with '.' and each sidecar name hold '{{stem}}'.")
    LABEL_FORMATS[fmt.name] = fmt


def unregister_label_format(name: str) -> None:
    """Remove a format added with :func:`register_label_format`."""
    LABEL_FORMATS.pop(name, None)


def label_format(name: str) -> LabelFormat:
    """The registered format ``name``.

    Raises
    ------
    ParameterError
        Listing the formats if ``name`` is unknown.
    """
    if name not in LABEL_FORMATS:
        raise ParameterError(f"The 'format' parameter must be one of {', '.join(LABEL_FORMATS)}. Got {name!r} instead."
                             f"{did_you_mean(name, LABEL_FORMATS)}")
    return LABEL_FORMATS[name]


def read_labels(path: str | Path, fmt: str) -> list[Event]:
    """Read the label file ``path`` in format ``fmt``."""
    return label_format(fmt).read(Path(path))


def write_labels(events, path: str | Path, fmt: str) -> Path:
    """Write ``events`` to ``path`` in format ``fmt`` (atomically)."""
    return label_format(fmt).write(list(events), Path(path))


def label_file(recording: Path, fmt: str) -> Path | None:
    """The label file of format ``fmt`` beside ``recording``, or None."""
    for pattern in label_format(fmt).sidecars:
        candidate = recording.parent / pattern.format(stem=recording.stem)
        if candidate.is_file():
            return candidate
    return None
