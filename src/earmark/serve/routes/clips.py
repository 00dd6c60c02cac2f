"""The page, the served models, and what they do with uploaded recordings: ``/``, ``/api/models``, ``/api/predict``,
``/api/detect``."""

import shutil
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

from earmark.serve.deps import Server, _event, _HTTPError, _new_folder, _prediction, _public, _run, _save, _uploads, server, token

PAGE = Path(__file__).parent.parent / "page.html"
# the page runs only its own inline script and talks only to this server; audio plays from the user's own files (blob:)
PAGE_POLICY = ("default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; media-src 'self' blob:; "
               "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'")
DETECT_FORMATS = ("json", "csv", "audacity", "raven")

page = APIRouter()
router = APIRouter(prefix="/api", dependencies=[Depends(token)])


class ModelInfo(BaseModel):
    name: str
    classes: list[str]
    front_end: str
    model: str
    window_s: float


class Models(BaseModel):
    models: list[ModelInfo]


class Next(BaseModel):
    label: str
    score: float


class PredictionOut(BaseModel):
    """One file's prediction, as ``earmark predict --format json`` writes it (``Prediction.row``), named as uploaded."""

    file: str
    label: str
    score: float | None
    silent: bool
    next: list[Next]
    unknown: bool | None = None
    closest: str | None = None
    known_score: float | None = None


class Skipped(BaseModel):
    file: str
    reason: str


class Predictions(BaseModel):
    model: str
    results: list[PredictionOut]
    skipped: list[Skipped]


class EventOut(BaseModel):
    start_s: float
    end_s: float
    label: str
    score: float | None


class Events(BaseModel):
    model: str
    file: str
    duration_s: float
    counts: dict[str, int]
    events: list[EventOut]


@page.get("/", include_in_schema=False)
def web_page():
    """The web page: drop files, see labels, or a long recording's events on a timeline."""
    return HTMLResponse(PAGE.read_text(), headers={"Content-Security-Policy": PAGE_POLICY, "X-Content-Type-Options": "nosniff"})


@router.get("/models", response_model=Models)
def list_models(s: Server = Depends(server)) -> dict:
    """The models this server runs."""
    out = []
    for name in sorted(s.models.paths):
        _, m = s.models.get(name)
        out.append({"name": name, "classes": m.classes, "front_end": m.front_end.name, "model": m.name,
                    "window_s": round(m.front_end.window_s, 3)})
    return {"models": out}


@router.post("/predict", response_model=Predictions, response_model_exclude_unset=True)
async def predict(files: list[UploadFile] = File(..., description="Audio files (WAV, FLAC, OGG, MP3)."),
                  model: str | None = Form(None, description="A served model's name; may be left out when it serves one."),
                  top_k: int = Form(3, ge=1, le=50, description="Labels per file, most probable first."),
                  s: Server = Depends(server)) -> dict:
    """Classify each uploaded file: its top ``top_k`` labels with scores."""
    if len(files) > s.settings.max_files:
        raise _HTTPError(413, f"{len(files)} files in one request, over this server's {s.settings.max_files}; send fewer.")
    name, m = s.models.get(model)
    async with s.jobs(), _uploads(s.upload_root) as folder:
        saved = [await _save(f, folder, i, s.limit) for i, f in enumerate(files)]
        batch = await _run(s.settings.timeout_s, _predict, m, [p for p, _ in saved], min(top_k, len(m.classes)), folder=folder)
    names = {str(p): original for p, original in saved}
    skipped = [{"file": names.get(k["file"], "?"), "reason": _public(k["reason"], names)} for k in batch.skipped]
    if not batch.records:  # nothing usable: the request failed, say why
        raise _HTTPError(400, "; ".join(f"{k['file']}: {k['reason']}" for k in skipped))
    return {"model": name, "results": [_prediction(r, names) for r in batch.records], "skipped": skipped}


@router.post("/detect", response_model=Events,
             responses={200: {"content": {"text/csv": {}, "text/plain": {}}, "description": "JSON, or the event file to download."}})
async def detect(file: UploadFile = File(..., description="One recording."),
                 model: str | None = Form(None, description="A served model's name; may be left out when it serves one."),
                 threshold: float = Form(0.5, gt=0.0, le=1.0, description="Score at which an event starts."),
                 format: Literal["json", "csv", "audacity", "raven"] = Form("json", description="json, or an event file."),  # noqa: A002
                 s: Server = Depends(server)):
    """Find events in one recording: JSON, or an event file to download (csv, audacity, raven)."""
    name, m = s.models.get(model)
    async with s.jobs():
        folder = _new_folder(s.upload_root)
        try:
            path, original = await _save(file, folder, 0, s.limit)
            batch = await _run(s.settings.timeout_s, _detect, m, path, threshold, "csv" if format == "json" else format, folder / "out",
                               folder=folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    if batch.skipped:
        shutil.rmtree(folder, ignore_errors=True)
        raise _HTTPError(400, f"{original}: {_public(batch.skipped[0]['reason'], {str(path): original})}")
    record = batch.records[0]
    if format == "json":
        shutil.rmtree(folder, ignore_errors=True)
        return {"model": name, "file": original, "duration_s": record["duration_s"], "counts": record["counts"],
                "events": [_event(e) for e in record["events"]]}
    target = Path(record["written_to"])
    download = Path(original).stem + target.name[len(path.stem):]
    return FileResponse(target, filename=download, background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


def _predict(model, paths: list[Path], top_k: int):
    from earmark import api

    return api.predict(model, paths, top_k=top_k, use_cache=False)


def _detect(model, path: Path, threshold: float, fmt: str, out_dir: Path):
    from earmark import api
    from earmark.inference.detect import DetectionSettings

    return api.detect(model, [path], settings=DetectionSettings(threshold=threshold), fmt=fmt, out_dir=out_dir)
