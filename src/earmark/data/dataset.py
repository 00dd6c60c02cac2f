"""Read a labelled dataset folder.

Two layouts are understood:

- ``DATA/metadata.csv`` with a file column and a label column (names
  configurable) and optionally a fold column; paths are relative to ``DATA``;
- ``DATA/<label>/<clip>`` class sub-folders (no folds).
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from earmark.audio.io import SUPPORTED_EXTENSIONS
from earmark.errors import DatasetError
from earmark.models.base import TAG_SEPARATOR

log = logging.getLogger(__name__)

METADATA = "metadata.csv"


@dataclass(frozen=True)
class Clip:
    """One labelled file."""

    path: Path
    label: str
    fold: str | None = None
    group: str | None = None  # the source recording the clip was cut from (clips of one group share a fold)


@dataclass
class Dataset:
    """Clips that exist on disk, and the rows that named missing files."""

    root: Path
    clips: list[Clip]
    missing: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return sorted({c.label for c in self.clips})

    def class_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(c.label for c in self.clips).items()))

    def summary(self) -> dict:
        return {"root": str(self.root), "n_files": len(self.clips), "classes": self.class_counts()}


def load_dataset(
    root: str | Path, *, file_column: str = "filename", label_column: str = "label", fold_column: str | None = None,
    strict_paths: bool = False, group_column: str | None = None,
) -> Dataset:
    """Read ``root`` as a dataset (a folder, or a CSV file whose paths are relative to its folder).

    Paths in ``metadata.csv`` that are absolute or climb out of ``root``
    (``../``) are allowed with one warning, or refused with ``strict_paths``.

    Raises
    ------
    DatasetError
        If the folder does not exist, the CSV lacks a named column or has no
        rows, or no clips are found.
    """
    root = Path(root)
    if root.suffix.lower() == ".csv" and root.is_file():
        ds = _from_csv(root.parent, root, file_column, label_column, fold_column, strict_paths, group_column)
        if not ds.clips:
            raise DatasetError(f"{root}: lists no audio clips that exist; check its {file_column!r} column.")
        return ds
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder; DATA must be a folder with {METADATA} or class sub-folders.")
    csv_path = root / METADATA
    if csv_path.is_file():
        ds = _from_csv(root, csv_path, file_column, label_column, fold_column, strict_paths, group_column)
    else:
        ds = _from_folders(root, fold_column or group_column)
    if not ds.clips:
        if not csv_path.is_file() and any(p.suffix.lower() in SUPPORTED_EXTENSIONS for p in root.iterdir()):
            raise DatasetError(f"{root}: its audio files lie directly in the folder, so nothing says their classes; put them "
                               f"in one sub-folder per class ({root}/dog/*.wav, {root}/rain/*.wav, ...) or list them in a "
                               f"{METADATA} with filename and label columns.")
        raise DatasetError(f"{root}: no audio clips found ({', '.join(SUPPORTED_EXTENSIONS)}); check the folder.")
    return ds


def _from_csv(root: Path, csv_path: Path, file_column: str, label_column: str, fold_column: str | None, strict_paths: bool,
              group_column: str | None = None) -> Dataset:
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{csv_path}: not a readable CSV file ({exc}); save it as UTF-8 CSV.") from None
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise DatasetError(f"{csv_path}: the header names the column {twice[0]!r} {columns.count(twice[0])} times; give each "
                           "column its own name (earmark cannot tell which one is meant).")
    for option, name in (("--file-column", file_column), ("--label-column", label_column), ("--folds", fold_column),
                         ("--group-column", group_column)):
        if name is not None and name not in columns:
            raise DatasetError(
                f"{csv_path}: no column named {name!r} (columns: {', '.join(columns) or 'none'}); pass the right name with {option}."
            )
    clips, missing, outside, empty = [], [], [], []
    # multi-label only when unmistakable: some label holds ';' (a lone ';' is a clip with none of the tags)
    tagged = any(TAG_SEPARATOR in (row.get(label_column) or "") for row in rows)
    for line, row in enumerate(rows, start=2):
        rel, label = (row.get(file_column) or "").strip(), (row.get(label_column) or "").strip()
        if not rel:
            raise DatasetError(f"{csv_path}, line {line}: empty {file_column!r} value; fill it in or remove the row.")
        if not label or not label.strip(TAG_SEPARATOR + " "):
            empty.append(line)  # a tag set with none of the tags (multi-label data), or a row left unlabelled
            if not tagged:
                missing.append((root / rel, f"{METADATA} line {line} has an empty {label_column!r} value; fill it in (or, for "
                                            "multi-label data, separate tags with ';' and write ';' for none of them)"))
                continue
        path = root / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            if strict_paths:
                raise DatasetError(f"{csv_path}, line {line}: {rel!r} points outside {root}; move the file inside it or drop --strict-paths.")
            outside.append(rel)
        if path.is_symlink() and not path.exists():
            missing.append((path, f"listed in {METADATA} line {line} but a broken link or a link loop"))
            continue
        if not path.is_file():
            what = "a folder, not an audio file" if path.is_dir() else (
                "not a regular file (a named pipe, device or socket)" if path.exists() else "not found")
            missing.append((path, f"listed in {METADATA} line {line} but {what}"))
            continue
        fold = (row.get(fold_column) or "").strip() if fold_column else None
        group = (row.get(group_column) or "").strip() if group_column else None
        clips.append(Clip(path, label, fold or None, group or None))
    if empty and len(empty) == len(rows):
        raise DatasetError(f"{csv_path}: every {label_column!r} value is empty; fill in the labels (or pass the right --label-column).")
    if empty and tagged:
        log.info("%s: %d row(s) with an empty %r (e.g. line %d) hold none of the tags: the data are multi-label (';' in labels)",
                 csv_path, len(empty), label_column, empty[0])
    elif empty:
        log.warning("%s: %d row(s) with an empty %r (e.g. line %d) are left out; fill them in (multi-label data separate "
                    "tags with ';')", csv_path, len(empty), label_column, empty[0])
    if outside:
        log.warning("%s: %d path(s) point outside %s (e.g. %r); allowed, but the dataset is not self-contained "
                    "(--strict-paths refuses them)", csv_path, len(outside), root, outside[0])
    return Dataset(root, clips, missing)


SPLIT_NAMES = frozenset({"train", "training", "test", "testing", "val", "valid", "validation", "dev", "eval", "evaluation",
                         "unseen", "holdout", "unlabelled", "unlabeled"})


def _from_folders(root: Path, fold_column: str | None) -> Dataset:
    if fold_column is not None:
        raise DatasetError(f"{root}: --folds and --group-column need a {METADATA} with that column; this folder has none.")
    clips, missing = [], []
    for sub in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        for p in sorted(sub.rglob("*")):
            if p.suffix.lower() not in SUPPORTED_EXTENSIONS:
                continue
            if p.is_file():
                clips.append(Clip(p, sub.name))
            elif p.is_symlink() and not p.exists():
                missing.append((p, "a broken link or a link loop; fix or remove it"))
    _warn_if_splits(root, clips)
    return Dataset(root, clips, missing)


def _warn_if_splits(root: Path, clips: list[Clip]) -> None:
    """Warn when the class folders are splits (``DATA/train``, ``DATA/unseen``): every clip would take its split's name."""
    classes = sorted({c.label for c in clips})
    if classes and all(c.lower() in SPLIT_NAMES for c in classes):
        nested = next((c for c in clips if len(c.path.relative_to(root).parts) > 2), None)
        hint = f" (its clips sit one level deeper, e.g. {nested.path.relative_to(root)})" if nested else ""
        log.warning("%s: the class folders %s look like splits, not classes%s; every clip would be labelled with its "
                    "split's name. Give the split's folder as DATA, e.g. %s", root, ", ".join(classes), hint,
                    root / next((c for c in classes if c.lower().startswith("train")), classes[0]))


def metadata_columns(root: str | Path) -> list[str]:
    """The header of ``root`` (a CSV file) or of ``root/metadata.csv``; empty for a class-folder dataset."""
    root = Path(root)
    csv_path = root if root.suffix.lower() == ".csv" else root / METADATA
    if not csv_path.is_file():
        return []
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            return next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{csv_path}: not a readable CSV file ({exc}); save it as UTF-8 CSV.") from None
