"""Weakly labelled mixtures: real events placed at random times in real backgrounds.

The material of the weak-label studies in BACKGROUND.md section 3 (Diment &
Virtanen): each mixture is a stretch of one background recording plus, with
probability ``event_rate``, one to ``max_events`` events at random onsets,
each scaled to an event-to-background ratio (EBR) drawn from a list. The
EBR is defined on RMS energies over the event: the event's RMS over its
active part against the background's RMS over the same stretch. Every
mixture is then scaled by one common factor, so none clips and their levels
stay comparable.

Clips cut from one source recording (the ``group``, ESC-50's ``src_file``)
stay together: the groups of each class are dealt out to the splits, so no
recording is heard in two splits. A background stretch joins the clips of
one source recording in order (looping if it is shorter than the mixture;
the joins are not cross-faded). An event's active part runs from its first
to its last 10-ms frame within 30 dB of its loudest frame.

The mixtures are 24-bit WAV files; ``metadata.csv`` holds the weak labels
(tags joined by ``;``; a lone ``;`` when no event: none of the tags), ``events.csv`` the strong ones
(onset, offset, source file, EBR), also written beside each mixture as an
Audacity label track (``<stem>.labels.txt``, empty when it holds no event)
so a frame-level model can learn from them (``train --labels audacity``),
and ``mix.json`` the settings. The same seed gives the same files.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from earmark._version import __version__
from earmark.audio.io import AudioInfo, audio_info, read_span
from earmark.data.dataset import METADATA, Clip, load_dataset, metadata_columns
from earmark.data.labels import Event, write_labels
from earmark.errors import AudioLoadError, EarmarkError, ParameterError, check_number, did_you_mean
from earmark.fileio import atomic_write
from earmark.models.base import TAG_SEPARATOR
from earmark.progress import track

log = logging.getLogger(__name__)

PEAK_DBFS = -1.0  # the loudest mixture's peak after the common scaling
ACTIVE_DB = 30.0  # an event is active from its first to its last frame within this many dB of its loudest
FRAME_S = 0.01
RMS_FLOOR = 1e-5  # -100 dBFS: a silent background stretch counts as this quiet

MAX_DURATION_S = 600.0  # a mixture is held in memory while it is made: 10 minutes at 384 kHz is 1.8 GB of float64
MAX_EBR_DB = 60.0
MAX_MIXTURES = 1_000_000


@dataclass(frozen=True)
class MixSettings:
    """What to make: mixtures per split, their length, EBRs and event counts.

    Parameters
    ----------
    splits : dict[str, int]
        Number of mixtures per split, e.g. ``{"train": 200, "test": 500}``.
    duration_s : float
        Length of every mixture.
    ebr_db : tuple of float
        EBRs (dB) drawn from with equal probability for each event.
    event_rate : float
        Probability that a mixture holds events (0 gives backgrounds only).
    max_events : int
        A mixture with events holds 1 to ``max_events`` of them (uniform).
    seed : int
    sample_rate : int or None
        Rate of the written files; ``None`` takes the sources' most common rate.
    """

    splits: dict
    duration_s: float = 10.0
    ebr_db: tuple = (-6.0, 0.0, 6.0)
    event_rate: float = 0.5
    max_events: int = 1
    seed: int = 0
    sample_rate: int | None = None

    def __post_init__(self) -> None:
        if not self.splits:
            raise ParameterError("The 'splits' parameter needs at least one split, e.g. {'all': 100}.")
        for name, n in self.splits.items():
            if not str(name).strip() or "/" in str(name):
                raise ParameterError(f"Split name {name!r} must be a non-empty name without '/'.")
            check_number(f"splits[{name}]", n, low=1, high=MAX_MIXTURES, integer=True)
        check_number("duration_s", self.duration_s, low=0, high=MAX_DURATION_S, low_open=True, unit="seconds")
        if not self.ebr_db:
            raise ParameterError(f"The 'ebr_db' parameter needs one or more numbers (dB). Got {self.ebr_db!r} instead.")
        for v in self.ebr_db:  # beyond +-60 dB an event is inaudible under its background, or the background is
            check_number("ebr_db", v, low=-MAX_EBR_DB, high=MAX_EBR_DB, unit="dB")
        check_number("event_rate", self.event_rate, low=0, high=1)
        check_number("max_events", self.max_events, low=1, high=100, integer=True)
        if self.sample_rate is not None:
            check_number("sample_rate", self.sample_rate, low=1000, high=384_000, integer=True, unit="Hz")
        if sum(self.splits.values()) > MAX_MIXTURES:
            raise ParameterError(f"The 'splits' parameter asks for {sum(self.splits.values()):,} mixtures, over {MAX_MIXTURES:,}; "
                                 "make them in several runs.")

@dataclass(frozen=True)
class Source:
    """One usable recording: its label, the source recording it was cut from, and its header."""

    info: AudioInfo
    label: str
    group: str


@dataclass(frozen=True)
class Placement:
    """One event in a mixture: its active part in the source, where it goes, and its EBR."""

    source: Source
    start_s: float  # active part in the source file
    duration_s: float
    onset_s: float  # in the mixture
    ebr_db: float


@dataclass(frozen=True)
class Plan:
    """One mixture, drawn but not rendered."""

    filename: str
    split: str
    background: tuple  # Sources of one group, joined in order
    offset_s: float  # where the stretch starts in the joined background (wrapping round)
    events: tuple  # Placements

    @property
    def tags(self) -> list[str]:
        return sorted({p.source.label for p in self.events})


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def active_part(y: np.ndarray, sr: int) -> tuple[int, int]:
    """First and one-past-last sample of the frames within ``ACTIVE_DB`` of the loudest frame."""
    frame = max(1, int(FRAME_S * sr))
    n = max(1, len(y) // frame)
    energy = np.square(y[: n * frame].astype(np.float64)).reshape(n, frame).mean(axis=1) if len(y) >= frame else np.array([rms(y) ** 2])
    loud = energy >= energy.max() * 10 ** (-ACTIVE_DB / 10)
    if energy.max() <= 0:
        return 0, 0
    idx = np.flatnonzero(loud)
    return int(idx[0] * frame), int(min(len(y), (idx[-1] + 1) * frame))


def read_pool(path: str | Path, *, classes: list[str] | None, folds: list[str] | None, fold_column: str,
              group_column: str | None, option: str) -> tuple[list[Source], list[dict]]:
    """The usable recordings of a dataset folder or CSV, with those that cannot be read as ``skipped``."""
    columns = metadata_columns(path)
    if group_column is None and "src_file" in columns:
        group_column = "src_file"
    if folds and fold_column not in columns:
        raise ParameterError(f"--folds needs a {fold_column!r} column in {path}'s metadata (columns: {', '.join(columns) or 'none'}); "
                             "pass --fold-column or drop --folds.")
    try:
        ds = load_dataset(path, fold_column=fold_column if folds else None, group_column=group_column)
    except EarmarkError as exc:
        raise type(exc)(f"{option}: {exc}") from None
    clips: list[Clip] = ds.clips
    if classes:
        unknown = sorted(set(classes) - {c.label for c in clips})
        if unknown:
            raise ParameterError(f"{option} {path}: no class {', '.join(map(repr, unknown))} (classes: {', '.join(ds.labels)}).{did_you_mean(unknown[0], ds.labels)}")
        clips = [c for c in clips if c.label in classes]
    if folds:
        present = sorted({c.fold for c in clips if c.fold})
        unknown = sorted(set(folds) - set(present))
        if unknown:
            raise ParameterError(f"--folds {','.join(folds)}: fold(s) {', '.join(unknown)} not in {path} (folds: {', '.join(present)}).")
        clips = [c for c in clips if c.fold in folds]
    if group_column is None:
        log.warning("%s: no source-recording column (src_file, or --group-column); each file counts as its own recording, "
                    "so clips cut from one recording could land in two splits", path)
    sources, skipped = [], [{"file": str(p), "reason": why} for p, why in ds.missing]
    for c in clips:
        try:
            info = audio_info(c.path)
        except AudioLoadError as exc:
            skipped.append({"file": str(c.path), "reason": str(exc)})
            continue
        sources.append(Source(info, c.label, f"{c.label}/{c.group or c.path.name}"))
    if not sources:
        raise ParameterError(f"{option} {path}: no readable recordings left after the class and fold selection.")
    return sources, skipped


def deal_groups(sources: list[Source], splits: list[str], rng: np.random.Generator) -> dict[str, list[Source]]:
    """Deal each class's source recordings round the splits, so no recording is in two splits."""
    by_split: dict[str, list[Source]] = {s: [] for s in splits}
    for k, label in enumerate(sorted({s.label for s in sources})):
        groups = sorted({s.group for s in sources if s.label == label})
        for i, j in enumerate(rng.permutation(len(groups))):
            split = splits[(i + k) % len(splits)]
            by_split[split] += [s for s in sources if s.group == groups[j]]
    return by_split


class Mixer:
    """Draws and renders mixtures from background and event recordings (see the module docstring)."""

    def __init__(self, backgrounds: list[Source], events: list[Source], settings: MixSettings) -> None:
        self.settings = settings
        self.sr = settings.sample_rate or Counter(s.info.sample_rate for s in backgrounds + events).most_common(1)[0][0]
        self.rng = np.random.default_rng(settings.seed)
        splits = list(settings.splits)
        self.backgrounds = deal_groups(backgrounds, splits, self.rng)
        self.events = deal_groups(events, splits, self.rng)
        self.event_labels = sorted({s.label for s in events})
        for split in splits:
            if not self.backgrounds[split]:
                raise ParameterError(f"--backgrounds: too few source recordings for split {split!r}; "
                                     f"each split needs its own (give more recordings or fewer splits).")
            missing = [lab for lab in self.event_labels if not any(s.label == lab for s in self.events[split])]
            if missing and settings.event_rate > 0:
                raise ParameterError(f"--events: no source recording of {', '.join(missing)} left for split {split!r} "
                                     "(each split needs its own; give more recordings, fewer splits or drop the class).")
        self._active: dict[Path, tuple[float, float]] = {}

    def active(self, source: Source) -> tuple[float, float]:
        """Start and length (s) of an event recording's active part, cut to the mixture's length."""
        if source.info.path not in self._active:
            y = read_span(source.info, 0.0, self.settings.duration_s + 60.0, sr=self.sr)  # bounded read, however long the file
            a, b = active_part(y, self.sr)
            if b <= a:
                raise AudioLoadError(f"{source.info.path}: digital silence, no event to place; remove it from the events.")
            self._active[source.info.path] = (a / self.sr, min(b - a, int(self.settings.duration_s * self.sr)) / self.sr)
        return self._active[source.info.path]

    def plan(self) -> tuple[list[Plan], list[dict]]:
        """Every mixture drawn (seeded), and the event recordings skipped as unusable."""
        s, rng, plans, skipped = self.settings, self.rng, [], []
        for split, count in s.splits.items():
            bg_groups: dict[str, dict[str, list[Source]]] = {}
            for src in self.backgrounds[split]:
                bg_groups.setdefault(src.label, {}).setdefault(src.group, []).append(src)
            ev_by_label: dict[str, list[Source]] = {}
            for src in self.events[split]:
                ev_by_label.setdefault(src.label, []).append(src)
            for i in range(count):
                label = sorted(bg_groups)[rng.integers(len(bg_groups))]
                groups = bg_groups[label]
                group = sorted(groups)[rng.integers(len(groups))]
                joined = tuple(sorted(groups[group], key=lambda x: str(x.info.path)))
                offset = float(rng.uniform(0, sum(x.info.duration_s for x in joined)))
                placements = []
                if rng.random() < s.event_rate:
                    for _ in range(int(rng.integers(1, s.max_events + 1))):
                        options = ev_by_label[self.event_labels[rng.integers(len(self.event_labels))]]
                        source = options[rng.integers(len(options))]
                        onset_draw, ebr = float(rng.random()), float(s.ebr_db[rng.integers(len(s.ebr_db))])
                        try:
                            start, dur = self.active(source)
                        except AudioLoadError as exc:
                            skipped.append({"file": str(source.info.path), "reason": str(exc)})
                            options.remove(source)
                            if not options:
                                raise ParameterError(f"--events: every recording of {source.label!r} in split {split!r} "
                                                     "is unusable (see the skipped files).") from None
                            continue
                        onset = round(onset_draw * (s.duration_s - dur), 4)
                        placements.append(Placement(source, start, dur, onset, ebr))
                plans.append(Plan(f"audio/{split}/{split}-{i:05d}.wav", split, joined, offset, tuple(placements)))
        return plans, skipped

    def background(self, plan: Plan) -> np.ndarray:
        """The plan's background stretch: its recordings joined in order from the offset, looping if short."""
        n = int(round(self.settings.duration_s * self.sr))
        total = sum(x.info.duration_s for x in plan.background)
        parts, got, pos = [], 0, plan.offset_s % total
        while got < n:
            for src in plan.background:
                if pos >= src.info.duration_s:
                    pos -= src.info.duration_s
                    continue
                y = read_span(src.info, pos, (n - got) / self.sr + 0.01, sr=self.sr)[: n - got]
                parts.append(y)
                got += len(y)
                pos = 0.0
                if got >= n:
                    break
            if got < n and not any(len(p) for p in parts):
                raise AudioLoadError(f"{plan.background[0].info.path}: holds no samples to make a background from.")
        return np.concatenate(parts)[:n]

    def render(self, plan: Plan) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """The mixture, its background and each scaled event (placed at full length), before the common scaling."""
        bg = self.background(plan)
        mix, events = bg.astype(np.float64), []
        for p in plan.events:
            ev = read_span(p.source.info, p.start_s, p.duration_s, sr=self.sr).astype(np.float64)
            a = int(round(p.onset_s * self.sr))
            ev = ev[: len(bg) - a]
            under = max(rms(bg[a:a + len(ev)]), RMS_FLOOR)
            gain = 10 ** (p.ebr_db / 20) * under / max(rms(ev), RMS_FLOOR)
            placed = np.zeros(len(bg))
            placed[a:a + len(ev)] = gain * ev
            events.append(placed)
            mix = mix + placed
        return mix, bg, events


def parse_splits(value: str) -> dict[str, int]:
    """``"train=36,test=500"`` -> ``{"train": 36, "test": 500}``."""
    splits = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, _, count = part.partition("=")
        try:
            splits[name.strip()] = int(count)
        except ValueError:
            raise ParameterError(f"--split {value}: write each split as NAME=COUNT, e.g. train=36,test=500.") from None
    return splits


def make_mixtures(backgrounds, events, out_dir, settings: MixSettings, *, background_classes=None, event_classes=None,
                  folds=None, fold_column: str = "fold", group_column: str | None = None, progress: bool = False) -> dict:
    """Write the mixtures, ``metadata.csv``, ``events.csv`` and ``mix.json`` into the empty folder ``out_dir``.

    Returns a summary dict with ``skipped`` (``{"file", "reason"}``) for the recordings that could not be used.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ParameterError(f"--out {out_dir}: already exists and is not an empty folder; choose a new folder so nothing is overwritten.")
    kw = dict(folds=folds, fold_column=fold_column, group_column=group_column)
    bg, skipped = read_pool(backgrounds, classes=background_classes, option="--backgrounds", **kw)
    ev, bad = read_pool(events, classes=event_classes, option="--events", **kw)
    skipped += bad
    shared = {s.info.path.resolve() for s in bg} & {s.info.path.resolve() for s in ev}
    if shared:
        raise ParameterError(f"--backgrounds and --events share {len(shared)} recording(s) (e.g. {sorted(shared)[0]}); "
                             "choose disjoint classes with --background-classes / --event-classes.")
    mixer = Mixer(bg, ev, settings)
    plans, bad = mixer.plan()
    skipped += bad
    peak = 0.0
    for plan in track(plans, description="mixing (levels)", total=len(plans), enabled=progress):
        peak = max(peak, float(np.max(np.abs(mixer.render(plan)[0]), initial=0.0)))
    scale = min(1.0, 10 ** (PEAK_DBFS / 20) / peak) if peak > 0 else 1.0
    out.mkdir(parents=True, exist_ok=True)
    meta, strong = [], []
    for plan in track(plans, description="mixing (writing)", total=len(plans), enabled=progress):
        mix = (mixer.render(plan)[0] * scale).astype(np.float32)
        with atomic_write(out / plan.filename) as f:
            sf.write(f, mix, mixer.sr, format="WAV", subtype="PCM_24")
        wav = out / plan.filename
        write_labels([Event(p.onset_s, round(p.onset_s + p.duration_s, 4), p.source.label) for p in plan.events],
                     wav.with_name(wav.stem + ".labels.txt"), "audacity")
        meta.append({"filename": plan.filename, "label": TAG_SEPARATOR.join(plan.tags) or TAG_SEPARATOR, "split": plan.split,
                     "background": plan.background[0].group, "events": len(plan.events)})
        strong += [{"filename": plan.filename, "label": p.source.label, "onset_s": f"{p.onset_s:.4f}",
                    "offset_s": f"{p.onset_s + p.duration_s:.4f}", "source": str(p.source.info.path), "ebr_db": f"{p.ebr_db:g}"}
                   for p in plan.events]
    _write_csv(out / "events.csv", strong, ["filename", "label", "onset_s", "offset_s", "source", "ebr_db"])
    summary = {
        "out": str(out), "n_mixtures": len(plans), "sample_rate": mixer.sr, "scale": scale,
        "by_split": {s: sum(p.split == s for p in plans) for s in settings.splits},
        "with_events": {s: sum(p.split == s and bool(p.events) for p in plans) for s in settings.splits},
        "tags": mixer.event_labels, "skipped": skipped,
    }
    record = {"earmark_version": __version__, "settings": asdict(settings), "backgrounds": str(backgrounds), "events": str(events),
              "background_classes": background_classes, "event_classes": event_classes, "folds": folds,
              "source_recordings": {s: sorted({x.group for x in mixer.backgrounds[s] + mixer.events[s]}) for s in settings.splits},
              **{k: v for k, v in summary.items() if k != "skipped"}}
    with atomic_write(out / "mix.json", "w") as f:
        json.dump(record, f, indent=1)
    _write_csv(out / METADATA, meta, ["filename", "label", "split", "background", "events"])  # last: its presence means done
    summary["seconds"] = time.perf_counter() - t0
    log.info("wrote %d mixtures to %s in %.1f s (scale %.3f)", len(plans), out, summary["seconds"], scale)
    return summary


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_write(path, "w") as f:
        f.write(buf.getvalue())
