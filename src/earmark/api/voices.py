"""enroll / identify / verify: voices compared with enrolled voice prints, no retraining (see :mod:`earmark.inference.voices`)."""

from __future__ import annotations

import logging
from pathlib import Path

from earmark.audio import find_audio_files
from earmark.data import load_dataset
from earmark.embeddings import EmbeddingCache
from earmark.errors import DatasetError
from earmark.fileio import check_writable_dir
from earmark.inference.voices import Encoder, VoiceDB, create_or_open

log = logging.getLogger(__name__)


def enroll(name: str, clips, db, *, model=None, embedder: str | None = None, calibrate=None, speaker_column: str = "speaker",
           cache_dir=None, use_cache: bool = True) -> dict:
    """Enrol ``name``'s voice from ``clips`` (files or folders) into the database folder ``db`` (made if new).

    ``model`` (a ``metric`` model file) or ``embedder`` (default ``speaker``)
    chooses the encoder of a new database; an existing one keeps its own.
    ``calibrate``, a dataset of *other* speakers (a ``speaker_column`` in its
    metadata.csv), sets the acceptance threshold at its equal error rate.

    Returns
    -------
    dict
        ``speaker``, ``record`` (clips used, similarity to the print), ``n_speakers``,
        ``threshold``, ``calibration`` and ``skipped``.
    """
    check_writable_dir(db, "db")
    cache = EmbeddingCache(cache_dir, enabled=use_cache)
    asked = Encoder(model_path=model) if model is not None else (Encoder(embedder=embedder) if embedder is not None else None)
    voices, encoder = create_or_open(db, asked)
    used, vectors, skipped = encoder.encode(find_audio_files(_as_list(clips)), cache)
    if not used:
        first = f" (first: {skipped[0]['file']}: {skipped[0]['reason']})" if skipped else ""
        raise DatasetError(f"No usable clip of {name!r} among the {len(skipped)} given{first}; enrolment needs at least one.")
    record = voices.enrol(name, used, vectors)
    calibration = None
    if calibrate is not None:
        ds = load_dataset(calibrate, label_column=speaker_column)
        rows = [c for c in ds.clips if c.label]
        cal_used, cal_vectors, cal_skipped = encoder.encode([c.path for c in rows], cache)
        by_path = {c.path: c.label for c in rows}
        skipped += cal_skipped
        calibration = voices.calibrate(cal_vectors, [by_path[p] for p in cal_used], str(calibrate))
    voices.save()
    log.info("enrolled %s from %d clips into %s", name, len(used), db)
    return {"speaker": name, "record": record, "n_speakers": len(voices.names), "threshold": voices.threshold,
            "calibration": calibration or voices.calibration, "skipped": skipped}


def identify(db, clips, *, cache_dir=None, use_cache: bool = True) -> dict:
    """The closest enrolled speaker of each clip, or ``unknown`` below the calibrated threshold.

    Returns
    -------
    dict
        ``records`` (``file``, ``speaker``, ``closest``, ``score``), ``threshold``, ``skipped``.
    """
    voices = VoiceDB.open(db)
    used, vectors, skipped = voices.encoder_for().encode(find_audio_files(_as_list(clips)), EmbeddingCache(cache_dir, enabled=use_cache))
    records = [{"file": str(p)} | r for p, r in zip(used, voices.identify(vectors))] if used else []
    return {"records": records, "threshold": voices.threshold, "skipped": skipped}


def verify(db, name: str, clips, *, cache_dir=None, use_cache: bool = True) -> dict:
    """Accept or reject each clip as ``name``'s voice at the database's calibrated threshold.

    Returns
    -------
    dict
        ``records`` (``file``, ``speaker``, ``score``, ``accepted``), ``threshold``, ``skipped``.
    """
    voices = VoiceDB.open(db)
    voices.check_verifiable(name)  # before any audio work
    used, vectors, skipped = voices.encoder_for().encode(find_audio_files(_as_list(clips)), EmbeddingCache(cache_dir, enabled=use_cache))
    records = [{"file": str(p)} | r for p, r in zip(used, voices.verify(name, vectors))] if used else []
    return {"records": records, "threshold": voices.threshold, "skipped": skipped}


def _as_list(clips) -> list:
    return [clips] if isinstance(clips, (str, Path)) else list(clips)
