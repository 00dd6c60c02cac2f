"""Long recordings in stretches: each embedded on its own (on another worker, say), the same windows as one pass.

A front end's windows lie on a grid of ``H`` samples (its hop) from the
start of the file. A stretch is a run of whole windows ``first .. first +
count - 1``; it is decoded from a few windows before ``first`` (a warm-up: the
resampler's filter and the STFT's first frames, which a stream pads with
zeros, settle there) to a few windows after its last one, and those extra
windows are dropped. The decode starts on an exact file frame (``start * file_rate / rate``
whole) at or before a point of the window grid, and the samples up to that
point are dropped, so the resampled stretch lines up with the one-pass stream
sample for sample (equal to float32 rounding, 2e-7 here) and its windows lie on
the one-pass grid. Joined, the stretches give the same
windows, times and levels as :meth:`Embedder.embed_file`, and embeddings equal
to rounding (``tests/embeddings/test_spans.py`` checks every front end).

A front end that normalises by the whole file's peak (``aisfx``) gets that
peak first, from a decode-only pass over the stretches (:func:`span_peak`),
and embeds each stretch with it (:meth:`Embedder.with_peak`). Front ends
whose windows depend on more than their neighbourhood say so with
``splittable = False`` and are run whole.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from earmark.embeddings.base import Embedder, Embedding

log = logging.getLogger(__name__)

STRETCH_S = 600.0  # a recording of at least two of these is cut into stretches on a cluster
WARM_UP_S = 0.5  # beyond one window: the resampler's filter is ~10 ms, an STFT frame at most a window


@dataclass(frozen=True)
class Span:
    """Windows ``first`` to ``first + count - 1`` of a file (``count=None``: to the end)."""

    first: int
    count: int | None


@dataclass(frozen=True)
class _Grid:
    hop: int  # window hop in samples at the front end's rate
    length: int  # window length in samples
    exact: int  # front-end samples between two that fall on a whole file frame (a resampled stream may start there)
    margin: int  # windows decoded before and after a stretch and dropped
    ratio: tuple[int, int]  # file frames per front-end sample, as a fraction


def _grid(front: Embedder, file_rate: int) -> _Grid:
    sr = front.sample_rate
    hop = int(round(front.hop_s * sr))
    length = int(round(front.window_s * sr))
    g = math.gcd(file_rate, sr)
    margin = math.ceil((length + WARM_UP_S * sr) / hop)
    return _Grid(hop, length, sr // g, margin, (file_rate // g, sr // g))


def plan(front: Embedder, path: str | Path, stretch_s: float) -> list[Span]:
    """The stretches of about ``stretch_s`` seconds a file is cut into (one, whole, if it is short or the front end
    cannot be split).

    Raises
    ------
    AudioLoadError
        If the file's header cannot be read.
    """
    from earmark.audio import audio_info

    info = audio_info(path)
    if not getattr(front, "splittable", True):
        return [Span(0, None)]
    grid = _grid(front, info.sample_rate)
    samples = info.frames * grid.ratio[1] // grid.ratio[0]
    per = max(1, int(stretch_s * front.sample_rate / grid.hop))
    n_windows = max(1, (samples - grid.length) // grid.hop + 1)
    stretches = n_windows // per
    if stretches < 2 or 2 * grid.margin > per:  # short, or stretches so short that the warm-up would cost more than half
        return [Span(0, None)]
    return [Span(i * per, per) for i in range(stretches - 1)] + [Span((stretches - 1) * per, None)]


def _decode(front: Embedder, path: str | Path, span: Span):
    """``(chunks, a0, grid)``: the stretch's stream with its margins, the one-pass sample it starts at, and the grid."""
    from earmark.audio import audio_info, stream

    info = audio_info(path)
    grid = _grid(front, info.sample_rate)
    a0 = max(0, span.first - grid.margin) * grid.hop  # on the window grid
    decode_from = a0 // grid.exact * grid.exact  # at or before it, on a whole file frame: the resampler lines up there
    num, den = grid.ratio
    stop = None
    if span.count is not None:
        end = (span.first + span.count + grid.margin) * grid.hop + grid.length
        stop = -(-end * num // den)
        if stop >= info.frames:
            stop = None
    chunks = stream(path, sr=front.sample_rate, start=decode_from * num // den, stop=stop)
    return _skip(chunks, a0 - decode_from), a0, grid


def _skip(chunks, n: int):
    """``chunks`` without their first ``n`` samples."""
    for chunk in chunks:
        if n >= len(chunk):
            n -= len(chunk)
            continue
        yield chunk[n:]
        n = 0


def span_peak(front: Embedder, path: str | Path, span: Span) -> float:
    """Largest absolute sample of the stretch's own part of the one-pass stream (decoded, not embedded)."""
    chunks, a0, grid = _decode(front, path, span)
    lo = span.first * grid.hop - a0
    hi = None if span.count is None else lo + span.count * grid.hop
    peak, pos = 0.0, 0
    for chunk in chunks:
        a, b = max(lo - pos, 0), len(chunk) if hi is None else min(hi - pos, len(chunk))
        if b > a:
            peak = max(peak, float(np.max(np.abs(chunk[a:b]))))
        pos += len(chunk)
    return peak


def embed_span(front: Embedder, path: str | Path, span: Span, *, peak: float | None = None) -> Embedding:
    """The windows of ``span``, as :meth:`Embedder.embed_file` of the whole file gives them (to rounding).

    ``peak``: the whole file's peak, for a front end that normalises by it
    (:func:`span_peak` of every stretch, the largest).
    ``duration_s`` of the result is the whole file's for the last stretch, the
    end of the stretch's last window otherwise.
    """
    if peak is not None:
        front = front.with_peak(peak)
    chunks, a0, grid = _decode(front, path, span)
    emb = front.embed_stream(chunks)
    skip = span.first - a0 // grid.hop
    keep = slice(skip, None if span.count is None else skip + span.count)
    offset = a0 / front.sample_rate
    duration = emb.duration_s + offset if span.count is None else \
        ((span.first + span.count - 1) * grid.hop + grid.length) / front.sample_rate
    return Embedding(emb.vectors[keep], emb.times_s[keep] + offset, emb.level_db[keep], duration)


def join(parts: list[Embedding]) -> Embedding:
    """The stretches of one file, in order, as one :class:`Embedding` (the last one's duration)."""
    return Embedding(np.concatenate([p.vectors for p in parts]), np.concatenate([p.times_s for p in parts]),
                     np.concatenate([p.level_db for p in parts]), parts[-1].duration_s)


def embed_whole(front: Embedder, path: str | Path, stretch_s: float) -> Embedding:
    """A file embedded stretch by stretch in this process (what a cluster does across workers; for tests)."""
    spans = plan(front, path, stretch_s)
    peak = max(span_peak(front, path, s) for s in spans) if getattr(front, "peak_normalised", False) and len(spans) > 1 else None
    return join([embed_span(front, path, s, peak=peak) for s in spans])


def submit(client, front: Embedder, path: str | Path, stretch_s: float, span_task, peak_task, args: tuple, tally=None) -> list | None:
    """Submit the stretches of a long recording to a Dask ``client``: the futures of their :class:`Embedding`,
    in order, or ``None`` if the recording runs whole (short, a front end that cannot be split, or a header that
    cannot be read: the task on the whole file then reports it).

    ``span_task(*args, path, span, peak)`` embeds one stretch and
    ``peak_task(*args, path, span)`` measures one (:func:`embed_span`,
    :func:`span_peak`), each rebuilding the front end on its worker from ``args``.
    ``tally`` (:class:`earmark.scale.Tally`) counts the stretches as they finish.
    """
    from earmark.errors import AudioLoadError
    from earmark.scale import RETRIES

    try:
        spans = plan(front, path, stretch_s)
    except AudioLoadError:
        return None
    if len(spans) == 1:
        return None
    log.info("%s: %d stretches of about %g s on the cluster", path, len(spans), stretch_s)
    peak = None
    if front.peak_normalised:
        peaks = [client.submit(peak_task, *args, str(path), s, retries=RETRIES, pure=False) for s in spans]
        peak = client.submit(max, peaks, pure=False)
    parts = [client.submit(span_task, *args, str(path), s, peak, retries=RETRIES, pure=False) for s in spans]
    if tally is not None:
        tally.expect_parts(parts)
    return parts
