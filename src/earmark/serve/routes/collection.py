"""The store's routes (a server started with ``--store``): summary, search by example, audio, the map, the labelling loop
and retraining."""

from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field, model_validator

from earmark.errors import ParameterError
from earmark.serve.deps import Server, _HTTPError, _public, _run, _save, _uploads, server, store, token

router = APIRouter(prefix="/api", dependencies=[Depends(token)])


class LabelIn(BaseModel):
    """One window's label: the file as the store names it, its start and end (seconds), the class."""

    file: str
    start_s: float = Field(ge=0, allow_inf_nan=False)
    end_s: float = Field(gt=0, allow_inf_nan=False)
    label: str

    @model_validator(mode="after")
    def _ordered(self):
        if self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s:g}) must be after start_s ({self.start_s:g})")
        return self


class RetrainIn(BaseModel):
    """What to train on the labels: a scikit-learn head (logreg, mlp, svm, rf, knn)."""

    classifier: str = "logreg"


@router.get("/store")
def store_summary(s: Server = Depends(server)) -> dict:
    """What the store holds: windows, files, front end, and the labels given on the page so far (``store`` null: none)."""
    return s.collection.summary() if s.collection is not None else {"store": None}


@router.post("/search")
async def search(file: UploadFile = File(..., description="An example clip."),
                 start_s: float | None = Form(None, ge=0, allow_inf_nan=False, description="Only this stretch of it (with end_s)."),
                 end_s: float | None = Form(None, gt=0, allow_inf_nan=False),
                 k: int = Form(10, ge=1, le=200, description="Windows to return, nearest first."),
                 s: Server = Depends(server), c=Depends(store)):
    """The store's ``k`` windows most like an uploaded clip (or its stretch ``start_s``-``end_s``), nearest first."""
    if (start_s is None) != (end_s is None):
        raise _HTTPError(422, "give both start_s and end_s (seconds), or neither for the whole clip.")
    async with s.jobs(), _uploads(s.upload_root) as folder:
        path, original = await _save(file, folder, 0, s.limit)
        try:
            hits = await _run(s.settings.timeout_s, c.search, path, start_s=start_s, end_s=end_s, k=k)
        except _HTTPError as exc:  # worded for the page: no server paths, no command-line options
            message = _public(exc.message, {str(path): original, str(c.store.path): c.store.path.name})
            raise _HTTPError(exc.status, message.replace("--like ", "").replace("--like", "the query")) from None
    return {"query": original, "hits": [{**h, "name": Path(h["file"]).name} for h in hits]}


@router.get("/audio")
async def audio(file: str = Query(description="The recording, as the store names it."),
                start_s: float = Query(ge=0, allow_inf_nan=False), end_s: float = Query(gt=0, allow_inf_nan=False),
                s: Server = Depends(server), c=Depends(store)):
    """One window of a recording in the store, as WAV (recordings are named as the store names them)."""
    try:
        wav = await _run(s.settings.timeout_s, c.snippet, file, start_s, end_s)
    except LookupError as exc:
        raise _HTTPError(404, str(exc)) from None
    return Response(wav, media_type="audio/wav")


@router.get("/map")
async def map_points(max_points: int = Query(3000, ge=4, le=20_000), s: Server = Depends(server), c=Depends(store)):
    """The store's windows projected to 2-D by UMAP (at most ``max_points``, a seeded draw beyond), with file, times, label."""
    async with s.jobs():
        return await _run(s.settings.timeout_s, c.map, max_points=max_points)


@router.get("/label/next")
async def next_to_label(model: str | None = None, strategy: Literal["uncertain", "top", "random"] = "uncertain",
                        n: int = Query(10, ge=1, le=100), label: str | None = None, s: Server = Depends(server), c=Depends(store)):
    """The next ``n`` windows to label by ``strategy`` (uncertain, top, random) with ``model``; labelled ones are left out."""
    name, m = s.models.get(model)
    async with s.jobs():
        rows = await _run(s.settings.timeout_s, c.next_windows, m, strategy=strategy, n=n, label=label)
    return {"model": name, "classes": m.classes, "windows": [{**r, "name": Path(r["file"]).name} for r in rows]}


@router.post("/label")
def add_label(item: LabelIn, c=Depends(store)) -> dict:
    """Label one window of the store (a later label for the same window replaces it)."""
    try:
        counts = c.add_label(item.file, item.start_s, item.end_s, item.label)
    except LookupError as exc:
        raise _HTTPError(404, str(exc)) from None
    except ParameterError as exc:
        raise _HTTPError(422, str(exc)) from None
    return {"labelled": counts}


@router.post("/retrain", status_code=202)
def retrain(item: RetrainIn | None = None, s: Server = Depends(server), c=Depends(store)) -> dict:
    """Train a model on the labels given so far, in the background; it is served under a new name when done."""
    from earmark.errors import check_choice
    from earmark.models.heads import CLASSIFIERS

    classifier = item.classifier if item is not None else "logreg"
    try:
        check_choice("classifier", classifier, CLASSIFIERS)
        return c.start_retrain(classifier=classifier, register=s.models.add)
    except ParameterError as exc:
        raise _HTTPError(400, str(exc)) from None
    except RuntimeError as exc:
        raise _HTTPError(409, str(exc)) from None


@router.get("/retrain")
def retrain_status(c=Depends(store)) -> dict:
    """The background training: state (idle, running, done, failed), its step, seconds, and the new model's name."""
    return c.status()
