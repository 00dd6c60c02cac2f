"""Training data from label tracks over long recordings.

Each recording under a folder may have a label file beside it with the same
stem, in any format of :data:`earmark.data.labels.LABEL_FORMATS` (for
example ``<stem>.txt``, an Audacity label track, or ``<stem>.selections.txt``,
a Raven selection table). Every labelled
event becomes one training clip made of the analysis windows whose centres
fall inside it (the nearest window if none does). With ``background=True``,
runs of windows that touch no event become clips of class ``background``,
about as many as the most frequent labelled class has.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from earmark.audio.io import find_audio_files
from earmark.data.labels import BACKGROUND, label_file, label_format
from earmark.errors import DatasetError

__all__ = ["BACKGROUND", "annotated_recordings", "balance_background", "clips_from_events"]


def annotated_recordings(root: str | Path, fmt: str) -> list[tuple[Path, Path]]:
    """``(recording, label file)`` pairs under ``root``.

    Raises
    ------
    DatasetError
        If no recording has a label file of that format beside it.
    """
    spec = label_format(fmt)
    pairs = [(r, lab) for r in find_audio_files([root]) if (lab := label_file(r, fmt)) is not None]
    if not pairs:
        example = "rec.wav + " + spec.sidecars[0].format(stem="rec")
        raise DatasetError(f"{root}: no recording has a {fmt} label file beside it (expected e.g. {example}).")
    return pairs


def clips_from_events(embedding, events, *, background: bool) -> tuple[list[np.ndarray], list[str]]:
    """Training clips (window vectors) and labels from one recording's embedding and events."""
    centres, vectors = embedding.times_s, embedding.vectors
    clips, labels = [], []
    for e in events:
        inside = np.flatnonzero((centres >= e.start_s) & (centres <= e.end_s))
        if len(inside) == 0:
            inside = np.array([int(np.argmin(np.abs(centres - (e.start_s + e.end_s) / 2)))])
        clips.append(vectors[inside])
        labels.append(e.label)
    if background and len(centres):
        half = (centres[1] - centres[0]) / 2 if len(centres) > 1 else embedding.duration_s / 2
        free = np.array([not any(c + half > e.start_s and c - half < e.end_s for e in events) for c in centres])
        runs = np.split(np.flatnonzero(free), np.flatnonzero(np.diff(np.flatnonzero(free)) != 1) + 1)
        for run in (r for r in runs if len(r)):
            clips.append(vectors[run])
            labels.append(BACKGROUND)
    return clips, labels


def balance_background(clips: list[np.ndarray], labels: list[str], rng: np.random.Generator) -> tuple[list, list]:
    """Keep at most as many background clips as the largest labelled class has clips."""
    counts = Counter(lab for lab in labels if lab != BACKGROUND)
    if not counts:
        raise DatasetError("the label files hold no events; label some sounds first.")
    bg = [i for i, lab in enumerate(labels) if lab == BACKGROUND]
    keep = set(rng.permutation(bg)[: max(counts.values())].tolist()) if bg else set()
    idx = [i for i, lab in enumerate(labels) if lab != BACKGROUND or i in keep]
    return [clips[i] for i in idx], [labels[i] for i in idx]
