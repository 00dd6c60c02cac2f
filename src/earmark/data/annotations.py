"""Training data from label tracks over long recordings.

Each recording under a folder may have a label file beside it with the same
stem, in any format of :data:`earmark.data.labels.LABEL_FORMATS` (for
example ``<stem>.txt``, an Audacity label track, or ``<stem>.selections.txt``,
a Raven selection table). Every labelled
event becomes one training clip made of the analysis windows whose centres
fall inside it (the nearest window if none does). With ``background=True``,
runs of windows that touch no event become clips of class ``background``,
about as many as the most frequent labelled class has.

A frame-level model (``learns_frames``, e.g. ``sed-crnn``) learns from the
events' edges instead (:func:`frames_from_events`): each recording is cut
into stretches of about ``segment_s`` and every frame is labelled with the
events it lies in.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from earmark.audio.io import find_audio_files
from earmark.data.labels import BACKGROUND, label_file, label_format
from earmark.errors import DatasetError

__all__ = ["BACKGROUND", "annotated_recordings", "balance_background", "clips_from_events", "frames_from_events", "tidy_events"]

SEGMENT_S = 10.0  # a frame-level model learns from stretches of about this length


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


def tidy_events(events, duration_s: float, source) -> tuple[list, list[str]]:
    """The events of one label file made fit to learn from, and one line for each change made.

    An event of no length is dropped (a point is no stretch to learn from),
    one that starts at or after the recording's end is dropped, one that runs
    past it is cut there, and overlapping events of one class are merged (the
    same windows would otherwise be two training clips). Nothing else changes.
    """
    from dataclasses import replace

    notes, kept = [], []
    for e in events:
        if e.end_s <= e.start_s:
            notes.append(f"{source}: the {e.label!r} event at {e.start_s:g} s has no length; dropped (mark a stretch).")
        elif e.start_s >= duration_s:
            notes.append(f"{source}: the {e.label!r} event {e.start_s:g}-{e.end_s:g} s starts after the recording's end "
                         f"({duration_s:g} s); dropped (is it the right label file?).")
        elif e.end_s > duration_s:
            notes.append(f"{source}: the {e.label!r} event {e.start_s:g}-{e.end_s:g} s runs past the recording's end "
                         f"({duration_s:g} s); cut there.")
            kept.append(replace(e, end_s=duration_s))
        else:
            kept.append(e)
    merged: list = []
    for e in sorted(kept, key=lambda e: (e.label, e.start_s)):
        last = merged[-1] if merged and merged[-1].label == e.label else None
        if last is not None and e.start_s < last.end_s:
            notes.append(f"{source}: {e.label!r} events {last.start_s:g}-{last.end_s:g} s and {e.start_s:g}-{e.end_s:g} s "
                         f"overlap; merged into {last.start_s:g}-{max(last.end_s, e.end_s):g} s.")
            merged[-1] = replace(last, end_s=max(last.end_s, e.end_s))
        else:
            merged.append(e)
    return sorted(merged, key=lambda e: e.start_s), notes


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


def frames_from_events(embedding, events, *, segment_s: float = SEGMENT_S) -> tuple[list[np.ndarray], list[str], list[np.ndarray]]:
    """Strong-label training material from one recording: stretches of frames, each stretch's tags (``;``-joined,
    ``""`` for none) and each frame's tags (the events whose span holds the frame's time)."""
    from earmark.models.base import TAG_SEPARATOR

    times, vectors = embedding.times_s, embedding.vectors
    frame_tags = [sorted({e.label for e in events if e.start_s <= t < e.end_s}) for t in times]
    labels = np.array([TAG_SEPARATOR.join(t) for t in frame_tags], dtype=object)
    hop = float(times[1] - times[0]) if len(times) > 1 else segment_s
    n_segments = max(1, int(np.ceil(len(times) * hop / segment_s - 1e-9)))
    clips, clip_labels, frames = [], [], []
    for idx in np.array_split(np.arange(len(times)), n_segments):
        if len(idx):
            clips.append(vectors[idx])
            frames.append(labels[idx])
            clip_labels.append(TAG_SEPARATOR.join(sorted({t for i in idx for t in frame_tags[i]})))
    return clips, clip_labels, frames


def balance_background(clips: list[np.ndarray], labels: list[str], rng: np.random.Generator) -> tuple[list, list]:
    """Keep at most as many background clips as the largest labelled class has clips."""
    counts = Counter(lab for lab in labels if lab != BACKGROUND)
    if not counts:
        raise DatasetError("the label files hold no events; label some sounds first.")
    bg = [i for i, lab in enumerate(labels) if lab == BACKGROUND]
    keep = set(rng.permutation(bg)[: max(counts.values())].tolist()) if bg else set()
    idx = [i for i, lab in enumerate(labels) if lab != BACKGROUND or i in keep]
    return [clips[i] for i in idx], [labels[i] for i in idx]
