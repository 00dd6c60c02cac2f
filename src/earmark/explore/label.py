"""The labelling loop: pick the next windows to label, write them for the user, read back what they filled in.

Strategies (``pick``), over the store's windows above the gate that carry no
label yet:

- ``uncertain``: the smallest margin between the model's two most likely
  classes (uncertainty sampling; for a one-tag model, closest to 0.5);
- ``top``: the highest score for ``label`` (or, without one, for any class):
  confirming what a model finds;
- ``random``: a seeded random draw (the baseline any strategy must beat).

A pick is written as a CSV (``file,start_s,end_s,label,suggested,score``,
``label`` left empty to fill in) or as one Audacity/Raven label file per
recording; :func:`read_filled` reads either back, and
:func:`earmark.api.train_from_store` trains on the filled-in windows.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from earmark.errors import DatasetError, ParameterError, check_choice
from earmark.explore.store import Store
from earmark.fileio import atomic_write

log = logging.getLogger(__name__)

STRATEGIES = ("uncertain", "top", "random")
CSV_COLUMNS = ("file", "start_s", "end_s", "label", "suggested", "score")


def window_scores(store: Store, model, *, gate_db: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The model's probabilities for every live window, ``(n_windows, n_classes)`` (NaN below the gate), and the gate mask."""
    store.check_front_end(model.front_end, option="--model (a model trained on the store's front end)")
    gate = model.gate_db if gate_db is None else gate_db
    parts, masks = [], []
    for _, rows, meta, vecs in store.blocks(("level_db",)):
        keep = np.ones(len(rows), bool) if gate is None else meta["level_db"] >= gate
        scores = np.full((len(rows), len(model.classes)), np.nan)
        if keep.any():
            scores[keep] = model.estimator.window_proba(vecs[keep].reshape(int(keep.sum()), *model.estimator.feature_shape_))
        parts.append(scores)
        masks.append(keep)
    if not parts:
        return np.zeros((0, len(model.classes))), np.zeros(0, bool)
    return np.concatenate(parts), np.concatenate(masks)


def pick(scores: np.ndarray, eligible: np.ndarray, n: int, *, strategy: str, column: int | None = None, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` eligible rows of ``scores`` (window x class probabilities) by ``strategy``, best first."""
    check_choice("strategy", strategy, STRATEGIES)
    if n < 1:
        raise ParameterError(f"The '-n' option must be >= 1. Got {n} instead.")
    candidates = np.flatnonzero(eligible)
    if strategy == "random":
        return np.random.default_rng(seed).permutation(candidates)[:n]
    s = scores[candidates]
    if strategy == "top":
        key = -(s[:, column] if column is not None else s.max(axis=1))
    elif s.shape[1] == 1:
        key = np.abs(s[:, 0] - 0.5)
    else:
        top2 = -np.sort(-s, axis=1)[:, :2]
        key = top2[:, 0] - top2[:, 1]
    return candidates[np.argsort(key, kind="stable")[:n]]


def write_pick(path: Path, rows: list[dict], *, fmt: str = "csv") -> list[Path]:
    """Write the picked windows for labelling: one CSV, or one Audacity/Raven file per recording beside ``path``."""
    if fmt == "csv":
        with atomic_write(path, "w") as f:
            w = csv.DictWriter(f, CSV_COLUMNS, lineterminator="\n")
            w.writeheader()
            for r in rows:
                w.writerow({"file": r["file"], "start_s": f"{r['start_s']:.3f}", "end_s": f"{r['end_s']:.3f}", "label": "",
                            "suggested": r.get("suggested", ""), "score": "" if r.get("score") is None else f"{r['score']:.4f}"})
        return [path]
    from earmark.data.labels import Event, label_format, write_labels

    spec = label_format(fmt)
    written = []
    by_file: dict[str, list] = {}
    for r in rows:  # the suggestion as the label text: the user corrects it, or deletes the line
        by_file.setdefault(r["file"], []).append(Event(r["start_s"], r["end_s"], r.get("suggested") or "?"))
    path.mkdir(parents=True, exist_ok=True)
    for file, events in by_file.items():
        written.append(write_labels(sorted(events, key=lambda e: e.start_s), path / (Path(file).stem + spec.suffix), fmt))
    return written


def read_filled(path: str | Path) -> list[dict]:
    """The labelled windows of a filled-in pick: a CSV (``file,start_s,end_s,label``; rows left empty are skipped),
    or the folder of Audacity/Raven files ``earmark label --format`` wrote (lines still marked ``?`` are skipped; a
    row names its recording by ``stem``, matched against the store's files).

    Raises
    ------
    DatasetError
        If the file is missing, lacks a column, or a time is not a number (naming the line).
    """
    path = Path(path)
    if path.is_dir():
        return _read_label_folder(path)
    if not path.is_file():
        raise DatasetError(f"--labels {path}: no such file; pass the CSV 'earmark label' wrote, with its label column filled in.")
    out = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("file", "start_s", "end_s", "label") if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"--labels {path}: no {', '.join(missing)} column; it needs file, start_s, end_s and label.")
        for number, row in enumerate(reader, 2):
            if not (row["label"] or "").strip():
                continue
            try:
                start, end = float(row["start_s"]), float(row["end_s"])
            except ValueError:
                raise DatasetError(f"--labels {path}, line {number}: start_s/end_s {row['start_s']!r}, {row['end_s']!r} are not "
                                   "numbers; write seconds.") from None
            out.append({"file": row["file"], "start_s": start, "end_s": end, "label": row["label"].strip()})
    if not out:
        raise DatasetError(f"--labels {path}: no row has a label yet; fill in the label column first.")
    return out


def _read_label_folder(folder: Path) -> list[dict]:
    from earmark.data.labels import LABEL_FORMATS

    out = []
    for fmt in ("audacity", "raven"):
        suffix = LABEL_FORMATS[fmt].suffix
        for f in sorted(folder.glob(f"*{suffix}")):
            for e in LABEL_FORMATS[fmt].read(f):
                if e.label.strip() and e.label.strip() != "?":
                    out.append({"file": f.name[: -len(suffix)], "stem": True, "start_s": e.start_s, "end_s": e.end_s,
                                "label": e.label.strip()})
    if not out:
        raise DatasetError(f"--labels {folder}: no labelled line in its .labels.txt / .selections.txt files; correct the "
                           "suggested labels (or delete the lines you cannot tell) first.")
    return out


def labelled_windows(store: Store, filled: list[dict], *, tolerance_s: float = 0.01) -> tuple[np.ndarray, list[str], list[dict]]:
    """Embeddings and labels of the store's windows the filled-in rows name, plus the rows not found in the store."""
    found, labels, missing = find_windows(store, filled, tolerance_s=tolerance_s)
    vectors = store.vectors()[found] if found else np.zeros((0, store.dims), np.float32)
    return vectors, labels, missing


def find_windows(store: Store, filled: list[dict], *, tolerance_s: float = 0.01) -> tuple[list[int], list[str], list[dict]]:
    """Row numbers and labels of the store's windows the filled-in rows name (by file and nearest start), plus the rows
    not found in the store."""
    table = store.table(("file", "start_s"))
    grouped: dict[str, list[int]] = {}
    for i, f in enumerate(table["file"].tolist()):
        grouped.setdefault(f, []).append(i)
    by_file = {f: np.asarray(rows) for f, rows in grouped.items()}
    stems: dict[str, list[str]] = {}
    for f in by_file:
        stems.setdefault(Path(f).stem, []).append(f)
    found, labels, missing = [], [], []
    for r in filled:
        if r.get("stem"):  # a label file names its recording by stem: it must be one file of the store
            match = stems.get(r["file"], [])
            name = match[0] if len(match) == 1 else None
        else:
            name = str(Path(r["file"]).resolve()) if not Path(r["file"]).is_absolute() else r["file"]
        rows = by_file.get(name)
        if rows is None:
            missing.append(r)
            continue
        nearest = rows[np.argmin(np.abs(table["start_s"][rows] - r["start_s"]))]
        if abs(table["start_s"][nearest] - r["start_s"]) > tolerance_s:
            missing.append(r)
            continue
        found.append(int(nearest))
        labels.append(r["label"])
    return found, labels, missing
