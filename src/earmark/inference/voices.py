"""A database of enrolled voices: voice prints, identification and verification without retraining.

A *voice print* is the unit-length mean of the embeddings of a speaker's
enrolment clips (Heigold et al. 2016's d-vector enrolment). The encoder
is a front end (``speaker`` by default: each clip's gated windows averaged
and unit-normalised) or a model file whose estimator can ``embed_clips``
(``metric``, trained here with metric learning); a copy of that model file
is kept in the database, so it stands alone. Scores are cosine
similarities. The acceptance threshold is the equal-error-rate threshold
of verification trials among the speakers of a *calibration* dataset (the
training speakers, never the enrolled ones): enrol 3 of each speaker's
clips, test the rest.

On disk, a folder: ``voices.json`` (encoder, threshold and how it was set,
each speaker's enrolment clips and their similarity to the print) and
``voices.safetensors`` (the prints, one row per speaker in the JSON's
order), both written atomically; ``encoder.earmark`` when a model encodes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from earmark._version import __version__
from earmark.embeddings import EmbeddingCache, get_embedder
from earmark.embeddings.cache import file_sha256
from earmark.errors import EarmarkError, ModelFileError, ParameterError, check_number
from earmark.metrics.speakers import equal_error_rate, trials, unit
from earmark.fileio import atomic_write
from earmark.pipeline import Model, gated_features

log = logging.getLogger(__name__)

FORMAT = 2  # 2: the prints carry their SHA-256 in voices.json
META, PRINTS, ENCODER = "voices.json", "voices.safetensors", "encoder.earmark"
UNKNOWN = "unknown"
CALIBRATION_ENROL = 3


class Encoder:
    """Clips to unit-length voice vectors, by a front end or by a model that can ``embed_clips``."""

    def __init__(self, *, model_path: str | Path | None = None, embedder: str = "speaker", gate_db: float | None = -60.0) -> None:
        self.model_path = None if model_path is None else Path(model_path)
        if self.model_path is not None:
            model = Model.load(self.model_path)
            if not hasattr(model.estimator, "embed_clips"):
                raise ParameterError(f"--model {model_path}: a {model.name} model scores classes; voices need an embedding. Train "
                                     "one with 'earmark train DATA --label-column speaker --model metric --embedder speaker', or "
                                     "leave --model out to use the speaker embedder as it is.")
            self.model, self.front, self.gate_db = model, model.front_end, model.gate_db
        else:
            self.model, self.front, self.gate_db = None, get_embedder(embedder), gate_db

    def describe(self) -> dict:
        out = {"front_end": self.front.identity(), "gate_db": self.gate_db}
        if self.model_path is not None:
            out |= {"model": self.model.name, "model_sha256": file_sha256(self.model_path)}
        return out

    def encode(self, paths, cache: EmbeddingCache | None = None) -> tuple[list[Path], np.ndarray, list[dict]]:
        """``(used paths, vectors (n, dims), skipped)``: unreadable and silent files are skipped with the reason."""
        cache = cache or EmbeddingCache()
        used, vectors, skipped = [], [], []
        for p in map(Path, paths):
            try:
                emb = cache.get(self.front, p)
            except EarmarkError as exc:
                skipped.append({"file": str(p), "reason": str(exc).removeprefix(f"{p}: ")})
                continue
            x = gated_features(emb, self.gate_db, self.front.window_s)
            if x is None:
                skipped.append({"file": str(p), "reason": "silent: no window reaches the gate; no voice to use"})
                continue
            v = self.model.estimator.embed_clips([x])[0] if self.model is not None else unit(x.reshape(len(x), -1).mean(axis=0))
            used.append(p)
            vectors.append(v)
        return used, (np.array(vectors) if vectors else np.zeros((0, 0))), skipped

    def window_vectors(self, windows: np.ndarray) -> np.ndarray:
        """One unit-length voice vector per front-end window (each window taken as a clip of its own), ``(n, dims)``."""
        if self.model is not None:
            return self.model.estimator.embed_clips([w[None] for w in windows])
        return unit(windows.reshape(len(windows), -1))


@dataclass
class VoiceDB:
    """Enrolled voices (see the module docstring)."""

    folder: Path
    encoder: dict
    names: list[str] = field(default_factory=list)
    prints: np.ndarray | None = None
    speakers: dict = field(default_factory=dict)
    threshold: float | None = None
    calibration: dict | None = None

    # --- files ------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: str | Path) -> VoiceDB:
        """Read a database folder.

        Raises
        ------
        ModelFileError
            If the folder holds no database or a malformed one.
        """
        folder = Path(folder)
        if not (folder / META).is_file():
            raise ModelFileError(f"{folder}: no voice database here ({META} missing); enrol a voice first: "
                                 f"earmark enroll NAME clips... --db {folder}")
        try:
            if (folder / META).stat().st_size > MAX_META_BYTES:
                raise ValueError(f"{META} is over {MAX_META_BYTES} bytes")
            meta = json.loads((folder / META).read_text())
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ModelFileError(f"{folder}: voice database format {meta.get('format') if isinstance(meta, dict) else None!r}; "
                                     f"this earmark reads {FORMAT}. Enrol the voices again.")
            names, threshold = _checked_meta(meta)
            prints = _read_prints(folder, meta, len(names)) if names else None
            return cls(folder, meta["encoder"], names, prints, meta["speakers"], threshold, meta.get("calibration"))
        except ModelFileError:
            raise
        except Exception as exc:  # json, safetensors and key errors alike: one line, the fix
            text = str(exc)
            text = text if len(text) <= 200 else text[:197] + "..."
            raise ModelFileError(f"{folder}: the voice database is malformed ({type(exc).__name__}: {text}); enrol the voices "
                                 "again into a new folder.") from None

    def save(self) -> None:
        from safetensors.numpy import save

        self.folder.mkdir(parents=True, exist_ok=True)
        digest = None
        if self.names:
            blob = save({"prints": np.ascontiguousarray(self.prints, dtype=np.float32)})
            digest = hashlib.sha256(blob).hexdigest()
            with atomic_write(self.folder / PRINTS) as f:
                f.write(blob)
        meta = {"format": FORMAT, "earmark_version": __version__, "encoder": self.encoder, "names": self.names,
                "speakers": self.speakers, "threshold": self.threshold, "calibration": self.calibration,
                "prints_sha256": digest}
        with atomic_write(self.folder / META, "w") as f:
            json.dump(meta, f, indent=1)

    def encoder_for(self) -> Encoder:
        """The encoder this database's prints were made with."""
        if "model" in self.encoder:
            path = self.folder / ENCODER
            if not path.is_file() or file_sha256(path) != self.encoder["model_sha256"]:
                raise ModelFileError(f"{self.folder}: its encoder model {ENCODER} is missing or changed; enrol the voices again.")
            return Encoder(model_path=path)
        front = self.encoder["front_end"]
        enc = Encoder(embedder=front["name"], gate_db=self.encoder.get("gate_db"))
        if enc.front.identity() != front:
            raise ModelFileError(f"{self.folder}: enrolled with front end {front['name']} version {front['version']}, this earmark "
                                 f"builds version {enc.front.version}; enrol the voices again.")
        return enc

    # --- operations --------------------------------------------------------------------
    def check_new(self, name: str, *, replace: bool = False) -> None:
        """Raise :class:`ParameterError` if ``name`` is not a usable speaker name, or is enrolled already and not to be replaced."""
        if not name or not name.strip() or "/" in name:
            raise ParameterError(f"Speaker name {name!r} must be non-empty text without '/'.")
        if name in self.names and not replace:
            n = self.speakers.get(name, {}).get("n_clips", "?")
            raise ParameterError(f"{name!r} is enrolled in {self.folder} already (from {n} clips); pass --replace to replace "
                                 "that voice print, or enrol this voice under another name.")

    def enrol(self, name: str, clips: list[Path], vectors: np.ndarray, *, replace: bool = False) -> dict:
        """Add ``name``'s voice print from its clips' vectors (``replace``: over an enrolled one); returns its record."""
        self.check_new(name, replace=replace)
        vp = unit(vectors.mean(axis=0))
        sims = vectors @ vp
        record = {"n_clips": len(clips), "clips": [str(c) for c in clips], "enrolled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "similarity_to_print": {"mean": float(sims.mean()), "min": float(sims.min())}}
        if name in self.names:
            self.prints[self.names.index(name)] = vp
        else:
            self.names.append(name)
            self.prints = vp[None, :] if self.prints is None else np.vstack([self.prints, vp])
        self.speakers[name] = record
        return record

    def calibrate(self, vectors: np.ndarray, speakers, source: str) -> dict:
        """Set the threshold at the equal error rate of trials among ``speakers`` (3 enrolment clips each)."""
        t = trials(vectors, speakers, enrol=CALIBRATION_ENROL)
        if len(t["speakers"]) < 2:
            raise ParameterError(f"--calibrate {source}: needs at least 2 speakers with more than {CALIBRATION_ENROL} clips each; "
                                 f"it has {len(t['speakers'])}.")
        eer, threshold = equal_error_rate(t["scores"], t["is_target"])
        self.threshold = float(threshold)
        self.calibration = {"data": source, "n_speakers": len(t["speakers"]), "n_trials": int(len(t["scores"])),
                            "enrol_clips": CALIBRATION_ENROL, "eer": float(eer)}
        return self.calibration

    def check_enrolled(self) -> None:
        """Raise :class:`ParameterError` with the fix when no voice is enrolled."""
        if not self.names:
            raise ParameterError(f"{self.folder}: no voice is enrolled yet; earmark enroll NAME clips... --db {self.folder}")

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine similarity of each vector to each enrolled print, ``(n, n_speakers)``."""
        self.check_enrolled()
        return vectors @ self.prints.T

    def identify(self, vectors: np.ndarray) -> list[dict]:
        """The closest enrolled speaker of each vector, or ``unknown`` below the threshold (when calibrated)."""
        out = []
        for row in self.scores(vectors):
            k = int(np.argmax(row))
            known = self.threshold is None or row[k] >= self.threshold
            out.append({"speaker": self.names[k] if known else UNKNOWN, "closest": self.names[k], "score": float(row[k])})
        return out

    def check_verifiable(self, name: str) -> None:
        """Raise :class:`ParameterError` with the fix unless ``name`` is enrolled and the threshold calibrated."""
        if name not in self.names:
            raise ParameterError(f"{name!r} is not enrolled in {self.folder}; enrolled: {', '.join(self.names) or 'none'}.")
        if self.threshold is None:
            raise ParameterError(f"{self.folder} has no calibrated threshold; enrol with --calibrate DATA (recordings of other "
                                 "speakers, with a speaker column) to set one.")

    def verify(self, name: str, vectors: np.ndarray) -> list[dict]:
        """Accept or reject each vector as ``name``'s voice at the calibrated threshold."""
        self.check_verifiable(name)
        scores = self.scores(vectors)[:, self.names.index(name)]
        return [{"speaker": name, "score": float(s), "accepted": bool(s >= self.threshold)} for s in scores]


MAX_META_BYTES = 64 << 20


def _checked_meta(meta: dict) -> tuple[list[str], float | None]:
    """The names and threshold of a database description, every field checked (ValueError naming it)."""
    names = meta.get("names")
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise ValueError("'names' is not a list of distinct speaker names")
    if not isinstance(meta.get("speakers"), dict) or set(meta["speakers"]) != set(names):
        raise ValueError("'speakers' does not describe the enrolled names")
    encoder = meta.get("encoder")
    front = encoder.get("front_end") if isinstance(encoder, dict) else None
    if not isinstance(front, dict) or not isinstance(front.get("name"), str) or not isinstance(front.get("version", ""), str):
        raise ValueError("'encoder' is not an encoder description (a front end's name and version)")
    gate = encoder.get("gate_db")
    if gate is not None:
        check_number("encoder.gate_db", gate, low=-200, high=0, unit="dBFS")
    if "model" in encoder and not isinstance(encoder.get("model_sha256"), str):
        raise ValueError("'encoder' names a model without its checksum")
    threshold = meta.get("threshold")
    if threshold is not None:
        check_number("threshold", threshold, low=-1, high=1)  # a cosine similarity
    if names and not isinstance(meta.get("prints_sha256"), str):
        raise ValueError("'prints_sha256' is missing: the prints cannot be checked")
    return list(names), threshold


def _read_prints(folder: Path, meta: dict, n: int) -> np.ndarray:
    """The prints, checked against their stored checksum, shape and unit length before use."""
    from safetensors.numpy import load

    path = folder / PRINTS
    if path.stat().st_size > MAX_META_BYTES * 4:
        raise ValueError(f"{PRINTS} is over {MAX_META_BYTES * 4} bytes")
    blob = path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta["prints_sha256"]:
        raise ModelFileError(f"{folder}: {PRINTS} does not match its checksum (modified or corrupted); enrol the voices again "
                             "into a new folder.")
    prints = load(blob)["prints"].astype(np.float64)
    if prints.ndim != 2 or prints.shape[0] != n:
        raise ValueError(f"{prints.shape} prints for {n} names")
    norms = np.linalg.norm(prints, axis=1)
    if not np.all(np.isfinite(norms)) or np.any(np.abs(norms - 1) > 1e-3):
        raise ValueError("the prints are not unit-length vectors")
    return prints


def create_or_open(folder: str | Path, encoder: Encoder | None) -> tuple[VoiceDB, Encoder]:
    """The database in ``folder`` and its encoder; a new one with ``encoder`` if the folder holds none.

    Raises
    ------
    ParameterError
        If an existing database was made with another encoder than the one asked for.
    """
    folder = Path(folder)
    if (folder / META).is_file():
        db = VoiceDB.open(folder)
        stored = db.encoder_for()
        if encoder is not None and encoder.describe() != stored.describe() and not _same_model(encoder, stored):
            raise ParameterError(f"--db {folder} was enrolled with {_encoder_text(db.encoder)}; enrol with the same encoder, "
                                 "or start a new --db folder.")
        return db, stored
    encoder = encoder or Encoder()
    db = VoiceDB(folder, encoder.describe())
    if encoder.model_path is not None:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(folder / ENCODER) as f, open(encoder.model_path, "rb") as src:
            shutil.copyfileobj(src, f)
    return db, encoder


def _same_model(a: Encoder, b: Encoder) -> bool:
    return a.model_path is not None and b.model_path is not None and file_sha256(a.model_path) == file_sha256(b.model_path)


def _encoder_text(encoder: dict) -> str:
    front = encoder["front_end"]["name"]
    return f"model {encoder['model']} on {front}" if "model" in encoder else f"the {front} embedder"


def is_voice_db(path) -> bool:
    """Whether ``path`` is a voice database folder (holds ``voices.json``)."""
    return Path(path).is_dir() and (Path(path) / META).is_file()


def diarise(db: VoiceDB, encoder: Encoder, path, *, settings, threshold: float | None = None, hop_s: float | None = None,
            cache: EmbeddingCache | None = None) -> dict:
    """Who speaks when in one recording: each window's voice against the enrolled prints, as events.

    Every window of the encoder's front end (every ``hop_s`` if given) above
    the encoder's gate is embedded and scored by cosine against every print;
    a window whose best score is below ``threshold`` (the database's
    calibrated one by default) is an ``unknown`` voice. The scores then go
    through detection's smoothing, one-speaker-at-a-time, hysteresis,
    merging and minimum duration (:func:`earmark.inference.detect.detect_events`,
    ``settings``; its own threshold is replaced by this one).

    Returns
    -------
    dict
        As :func:`earmark.inference.detect.detect`: ``events``, ``scores``
        ``(n_windows, n_speakers + 1)`` (the last column: unknown),
        ``centres_s``, ``duration_s``, ``classes``, ``settings``.
    """
    from dataclasses import replace

    from earmark.inference.detect import detect_events

    threshold = db.threshold if threshold is None else threshold
    if threshold is None:
        raise ParameterError(f"{db.folder} has no calibrated threshold; give --threshold (a cosine similarity, e.g. 0.7) or "
                             "enrol with --calibrate DATA to set one.")
    settings = replace(settings, threshold=float(threshold))
    db.check_enrolled()
    front = encoder.front.with_hop(hop_s) if hop_s else encoder.front
    emb = (cache or EmbeddingCache(enabled=False)).get(front, Path(path))
    heard = np.ones(len(emb.vectors), bool) if encoder.gate_db is None else emb.level_db >= encoder.gate_db
    scores = np.zeros((len(emb.vectors), len(db.names) + 1))
    if heard.any():
        cos = np.clip(db.scores(encoder.window_vectors(emb.vectors[heard])), 0.0, 1.0)
        rows = np.flatnonzero(heard)
        scores[rows, :-1] = cos
        scores[rows[cos.max(axis=1) < threshold], -1] = threshold  # a voice, but none enrolled: unknown
    classes = [*db.names, UNKNOWN]
    events = detect_events(scores, emb.times_s, classes, window_s=front.window_s, hop_s=front.hop_s, duration_s=emb.duration_s,
                           settings=settings)
    return {"events": events, "scores": scores, "centres_s": emb.times_s, "duration_s": emb.duration_s, "classes": classes,
            "settings": settings.to_dict()}
