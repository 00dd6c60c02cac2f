"""enroll / identify / verify: voices compared with enrolled voice prints, no retraining (see :mod:`earmark.inference.voices`)."""

from __future__ import annotations

import logging
from pathlib import Path

from earmark.audio import find_audio_files
from earmark.data import load_dataset
from earmark.embeddings import EmbeddingCache
from earmark.errors import DatasetError, EarmarkError
from earmark.fileio import check_writable_dir
from earmark.inference.voices import Encoder, VoiceDB, create_or_open
from earmark.api._params import documented

log = logging.getLogger(__name__)


@documented(
    name=("str", "The speaker's name."),
    db=("str or Path", "The voice database folder (made if new)."),
    model=("Model, str, Path or None", "A ``metric`` model that encodes voices (a new database only)."),
    embedder=("str or None", "Front end of a new database without ``model`` (default ``speaker``)."),
    calibrate=("str, Path or None", "A data set of several speakers (``speaker_column``): the database's accept "
                                    "threshold is set at its equal-error rate."),
    speaker_column=("str", "With ``calibrate``: the ``metadata.csv`` column naming each clip's speaker."),
    replace=("bool", "Replace the voice print of a name already enrolled (else it is refused)."),
)
def enroll(name: str, clips, db, *, model=None, embedder: str | None = None, calibrate=None, speaker_column: str = "speaker",
           replace: bool = False, cache_dir=None, use_cache: bool = True) -> dict:
    """Enrol ``name``'s voice from ``clips`` (files or folders) into the database folder ``db`` (made if new).

    A name enrolled already is refused unless ``replace``. Clips in which
    Silero VAD hears no speech are skipped (noise is no voice).

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
    voices.check_new(name, replace=replace)  # before any audio work
    files, skipped = _with_speech(find_audio_files(_as_list(clips)))
    used, vectors, unusable = encoder.encode(files, cache)
    skipped += unusable
    if not used:
        first = f" (first: {skipped[0]['file']}: {skipped[0]['reason']})" if skipped else ""
        raise DatasetError(f"No usable clip of {name!r} among the {len(skipped)} given{first}; enrolment needs at least one.")
    record = voices.enrol(name, used, vectors, replace=replace)
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


@documented()
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


@documented(
    name=("str", "The enrolled speaker to check the clips against."),
)
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


def _with_speech(files: list[Path]) -> tuple[list[Path], list[dict]]:
    """The files in which Silero VAD hears speech, and the others as skipped (with the reason)."""
    from earmark.audio.io import load
    from earmark.errors import MissingBackendError
    from earmark.inference.vad import MIN_SPEECH_S, SR, SileroVad, speech_seconds

    try:
        vad = SileroVad()
    except MissingBackendError as exc:
        log.warning("no speech check of the enrolment clips (%s)", exc)
        return files, []
    kept, skipped = [], []
    for path in files:
        try:
            audio, _ = load(path, sr=SR)
        except EarmarkError:
            kept.append(path)  # the encoder reports why it cannot read it
            continue
        heard = speech_seconds(audio, vad=vad)
        if heard < MIN_SPEECH_S:
            skipped.append({"file": str(path), "reason": "no voice: Silero VAD hears no speech in it; give a recording of the "
                                                         "speaker talking"})
        else:
            kept.append(path)
    return kept, skipped


def _as_list(clips) -> list:
    return [clips] if isinstance(clips, (str, Path)) else list(clips)
