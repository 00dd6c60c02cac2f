"""The HTTP service behind ``earmark serve``: the library's API over FastAPI, safe by default.

Endpoints (OpenAPI docs at ``/docs``):

- ``GET /api/models``: the models served (name, classes, front end);
- ``POST /api/predict``: one or more uploaded files -> top-k labels and scores each;
- ``POST /api/detect``: one long recording -> events as JSON, or as a CSV/Audacity/Raven download;
- ``WS /api/listen``: live labels for a stream of 16-bit PCM (a page's microphone), by the ``listen`` engine;
- with ``--store``: search by example, the map and the labelling loop (:mod:`earmark.serve.collection`);
- ``GET /``: the web page (``page.html``, its script and style inline: it works offline).

Safety: a token (``Authorization: Bearer TOKEN``) on every request when one is
configured (and required off the loopback interface, see :func:`check_bind`);
request bodies over ``max_upload_mb`` are cut off while they stream in (413,
never written whole); uploads go to a private temporary folder under
``upload_dir``, named by the server (the client's file name is shown, never
used as a path), and are deleted when the request ends, whatever happened;
at most ``max_jobs`` jobs run at once and ``max_queue`` wait for a slot (429
beyond, with a clear message), and each has ``timeout_s`` (504); a bad upload gets a 4xx with a JSON error and
the server goes on. Models are only the files given at start-up: nothing
sent over HTTP is loaded as a model, and no request parameter is a path.
"""


import asyncio
import hmac
import logging
import queue
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field, model_validator

from earmark.errors import EarmarkError, ParameterError, check_number

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")
PAGE = Path(__file__).with_name("page.html")
# the page runs only its own inline script and talks only to this server; audio plays from the user's own files (blob:)
PAGE_POLICY = ("default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; media-src 'self' blob:; "
               "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'")
AUDIO_TYPES = ("audio/", "application/octet-stream", "video/ogg", "application/ogg")
DETECT_FORMATS = ("json", "csv", "audacity", "raven")


@dataclass
class ServeSettings:
    """What ``earmark serve`` was started with."""

    models: dict[str, Path] = field(default_factory=dict)
    token: str | None = None
    max_upload_mb: float = 100.0
    max_files: int = 32
    max_jobs: int = 2
    max_queue: int = 16
    max_live: int = 2
    timeout_s: float = 120.0
    upload_dir: Path | None = None
    store: Path | None = None
    labelling_dir: Path | None = None  # labels given on the page and the models trained on them; default STORE/labelling
    body_timeout_s: float = 30.0  # longest wait for the next piece of a request body

    def __post_init__(self) -> None:
        check_number("max_upload_mb", self.max_upload_mb, low=0, high=1 << 20, low_open=True, unit="MB")
        check_number("max_files", self.max_files, low=1, high=10_000, integer=True)
        check_number("max_jobs", self.max_jobs, low=1, high=256, integer=True)
        check_number("max_queue", self.max_queue, low=0, high=100_000, integer=True)
        check_number("max_live", self.max_live, low=0, high=256, integer=True)
        check_number("timeout_s", self.timeout_s, low=0, high=7 * 86400, low_open=True, unit="seconds")
        check_number("body_timeout_s", self.body_timeout_s, low=0, high=3600, low_open=True, unit="seconds")


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


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without a token."""
    if host not in LOOPBACK and not token:
        raise ParameterError(f"--host {host} makes the service reachable from other machines; give it a token with "
                             "--token-file FILE (every request must then send it), or keep --host 127.0.0.1.")


def read_token(path: Path) -> str:
    """The token in ``path`` (whitespace stripped); at least 16 characters."""
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise ParameterError(f"--token-file {path}: cannot be read ({exc.strerror or exc}); pass a file holding the token.") from None
    if len(token) < 16:
        raise ParameterError(f"--token-file {path}: the token is {len(token)} characters; use at least 16 (e.g. from "
                             "'python -c \"import secrets; print(secrets.token_urlsafe(32))\"').")
    return token


class _Models:
    """The served models, loaded once each on first use (a thread-safe cache)."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths = dict(paths)
        self._loaded: dict = {}
        self._lock = threading.Lock()

    def get(self, name: str | None):
        from earmark.pipeline import Model

        if name is None:
            if len(self.paths) != 1:
                raise _HTTPError(400, f"say which model: one of {', '.join(sorted(self.paths))} (the 'model' field).")
            name = next(iter(self.paths))
        if name not in self.paths:
            raise _HTTPError(404, f"no model named {name!r}; the server has {', '.join(sorted(self.paths)) or 'none'}.")
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = Model.load(self.paths[name])
            return name, self._loaded[name]

    def add(self, name: str, path: Path) -> None:
        """Serve one more model (one trained on the page's labels)."""
        with self._lock:
            self.paths[name] = Path(path)
            self._loaded.pop(name, None)


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def create_app(settings: ServeSettings):
    """The FastAPI application for ``settings``."""
    from fastapi import FastAPI, File, Form, Request, UploadFile, WebSocket, WebSocketDisconnect
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse
    from starlette.background import BackgroundTask

    from earmark.serve.collection import Collection

    models = _Models(settings.models)
    collection = Collection(settings.store, settings.labelling_dir) if settings.store is not None else None
    jobs = Slots(settings.max_jobs, settings.max_queue)
    upload_root = Path(settings.upload_dir or tempfile.gettempdir()) / "earmark-uploads"
    limit = int(settings.max_upload_mb * (1 << 20))
    app = FastAPI(title="earmark", description="Classify and detect sounds with earmark models.", version="1")

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if settings.token is not None and request.url.path.startswith("/api/"):
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {settings.token}".encode()):
                return _error(401, "this server needs its token: send 'Authorization: Bearer TOKEN'.")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _error(413, f"the upload is {int(declared) / (1 << 20):.1f} MB, over this server's "
                               f"{settings.max_upload_mb:g} MB limit; send a shorter recording.")
        return await call_next(request)

    app.add_middleware(BodyLimit, limit=limit, mb=settings.max_upload_mb, body_timeout_s=settings.body_timeout_s)

    @app.exception_handler(_HTTPError)
    async def http_error(request: Request, exc: _HTTPError):
        return _error(exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        """422 naming each bad field and why, never echoing the values (a NaN cannot even be written as JSON)."""
        fields = [f"{'.'.join(str(x) for x in e.get('loc', ()) if x != 'body') or 'body'}: {e.get('msg', 'invalid')}"
                  for e in exc.errors()]
        return _error(422, "; ".join(fields) or "the request is malformed")

    @app.get("/", include_in_schema=False)
    def page():
        """The web page: drop files, see labels, or a long recording's events on a timeline."""
        from fastapi.responses import HTMLResponse

        return HTMLResponse(PAGE.read_text(), headers={"Content-Security-Policy": PAGE_POLICY, "X-Content-Type-Options": "nosniff"})

    @app.get("/api/models")
    def list_models() -> dict:
        """The models this server runs."""
        out = []
        for name in sorted(models.paths):
            _, m = models.get(name)
            out.append({"name": name, "classes": m.classes, "front_end": m.front_end.name, "model": m.name,
                        "window_s": round(m.front_end.window_s, 3)})
        return {"models": out}

    @app.post("/api/predict")
    async def predict(request: Request, files: list[UploadFile] = File(...), model: str | None = Form(None), top_k: int = Form(3)):
        """Classify each uploaded file: its top ``top_k`` labels with scores."""
        if not 1 <= top_k <= 50:
            raise _HTTPError(422, f"top_k must be between 1 and 50; got {top_k}.")
        if len(files) > settings.max_files:
            raise _HTTPError(413, f"{len(files)} files in one request, over this server's {settings.max_files}; send fewer.")
        name, m = models.get(model)
        async with jobs(), _uploads(upload_root) as folder:
            saved = [await _save(f, folder, i, limit) for i, f in enumerate(files)]
            batch = await _run(settings.timeout_s, _predict, m, [p for p, _ in saved], min(top_k, len(m.classes)), folder=folder)
        names = {str(p): original for p, original in saved}
        skipped = [{"file": names.get(s["file"], "?"), "reason": _public(s["reason"], names)} for s in batch.skipped]
        if not batch.records:  # nothing usable: the request failed, say why
            raise _HTTPError(400, "; ".join(f"{s['file']}: {s['reason']}" for s in skipped))
        return {"model": name, "results": [_prediction(r, names) for r in batch.records], "skipped": skipped}

    @app.post("/api/detect")
    async def detect(request: Request, file: UploadFile = File(...), model: str | None = Form(None), threshold: float = Form(0.5),
                     format: str = Form("json")):  # noqa: A002 - the form field's public name
        """Find events in one recording: JSON, or an event file to download (csv, audacity, raven)."""
        if format not in DETECT_FORMATS:
            raise _HTTPError(422, f"format must be one of {', '.join(DETECT_FORMATS)}; got {format!r}.")
        if not 0.0 < threshold <= 1.0:
            raise _HTTPError(422, f"threshold must be in (0, 1]; got {threshold}.")
        name, m = models.get(model)
        async with jobs():
            folder = _new_folder(upload_root)
            try:
                path, original = await _save(file, folder, 0, limit)
                batch = await _run(settings.timeout_s, _detect, m, path, threshold, "csv" if format == "json" else format, folder / "out",
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

    def store() -> "Collection":
        if collection is None:
            raise _HTTPError(404, "this server has no store; start it with 'earmark serve MODEL --store STORE'.")
        return collection

    @app.get("/api/store")
    def store_summary() -> dict:
        """What the store holds: windows, files, front end, and the labels given on the page so far (``store`` null: none)."""
        return collection.summary() if collection is not None else {"store": None}

    @app.post("/api/search")
    async def search(file: UploadFile = File(...), start_s: float | None = Form(None), end_s: float | None = Form(None),
                     k: int = Form(10)):
        """The store's ``k`` windows most like an uploaded clip (or its stretch ``start_s``-``end_s``), nearest first."""
        c = store()
        if not 1 <= k <= 200:
            raise _HTTPError(422, f"k must be between 1 and 200; got {k}.")
        if (start_s is None) != (end_s is None):
            raise _HTTPError(422, "give both start_s and end_s (seconds), or neither for the whole clip.")
        async with jobs(), _uploads(upload_root) as folder:
            path, original = await _save(file, folder, 0, limit)
            try:
                hits = await _run(settings.timeout_s, c.search, path, start_s=start_s, end_s=end_s, k=k)
            except _HTTPError as exc:  # worded for the page: no server paths, no command-line options
                message = _public(exc.message, {str(path): original, str(c.store.path): c.store.path.name})
                raise _HTTPError(exc.status, message.replace("--like ", "").replace("--like", "the query")) from None
        return {"query": original, "hits": [{**h, "name": Path(h["file"]).name} for h in hits]}

    @app.get("/api/audio")
    async def audio(file: str, start_s: float, end_s: float):
        """One window of a recording in the store, as WAV (recordings are named as the store names them)."""
        from fastapi.responses import Response

        c = store()
        try:
            wav = await _run(settings.timeout_s, c.snippet, file, start_s, end_s)
        except LookupError as exc:
            raise _HTTPError(404, str(exc)) from None
        return Response(wav, media_type="audio/wav")

    @app.get("/api/map")
    async def map_points(max_points: int = 3000):
        """The store's windows projected to 2-D by UMAP (at most ``max_points``, a seeded draw beyond), with file, times, label."""
        c = store()
        if not 4 <= max_points <= 20_000:
            raise _HTTPError(422, f"max_points must be between 4 and 20000; got {max_points}.")
        async with jobs():
            return await _run(settings.timeout_s, c.map, max_points=max_points)

    @app.get("/api/label/next")
    async def next_to_label(model: str | None = None, strategy: str = "uncertain", n: int = 10, label: str | None = None):
        """The next ``n`` windows to label by ``strategy`` (uncertain, top, random) with ``model``; labelled ones are left out."""
        c = store()
        if not 1 <= n <= 100:
            raise _HTTPError(422, f"n must be between 1 and 100; got {n}.")
        name, m = models.get(model)
        async with jobs():
            rows = await _run(settings.timeout_s, c.next_windows, m, strategy=strategy, n=n, label=label)
        return {"model": name, "classes": m.classes, "windows": [{**r, "name": Path(r["file"]).name} for r in rows]}

    @app.post("/api/label")
    def add_label(item: LabelIn) -> dict:
        """Label one window of the store (a later label for the same window replaces it)."""
        try:
            counts = store().add_label(item.file, item.start_s, item.end_s, item.label)
        except LookupError as exc:
            raise _HTTPError(404, str(exc)) from None
        except ParameterError as exc:
            raise _HTTPError(422, str(exc)) from None
        return {"labelled": counts}

    @app.post("/api/retrain", status_code=202)
    def retrain(item: RetrainIn | None = None) -> dict:
        """Train a model on the labels given so far, in the background; it is served under a new name when done."""
        from earmark.errors import check_choice
        from earmark.models.heads import CLASSIFIERS

        c = store()
        classifier = item.classifier if item is not None else "logreg"
        try:
            check_choice("classifier", classifier, CLASSIFIERS)
            return c.start_retrain(classifier=classifier, register=models.add)
        except ParameterError as exc:
            raise _HTTPError(400, str(exc)) from None
        except RuntimeError as exc:
            raise _HTTPError(409, str(exc)) from None

    @app.get("/api/retrain")
    def retrain_status() -> dict:
        """The background training: state (idle, running, done, failed), its step, seconds, and the new model's name."""
        return store().status()

    live = {"sessions": 0}

    @app.websocket("/api/listen")
    async def listen(websocket: WebSocket, model: str | None = None, rate: int = 16000, threshold: float = 0.5):
        """Live labels: send binary frames of 16-bit little-endian mono PCM at ``rate`` Hz; labels come back as JSON
        (``{"end_s", "label", "score", "level_db"}``), first a ``{"ready", "classes"}`` message. A server with a token
        takes it in an ``Authorization: Bearer`` header or as the first message (``{"token": ...}``), never in the
        address (which access logs keep). Every refusal is a close with its reason."""
        await websocket.accept()  # accepted first, so a refusal reaches the client with its reason (not a bare 403)
        if "token" in websocket.query_params:
            await websocket.close(code=1008, reason="send the token as the first message ({\"token\": ...}), not in the address")
            return
        if settings.token is not None and not await _socket_token_ok(websocket, settings.token):
            await websocket.close(code=1008, reason="this server needs its token: send {\"token\": ...} first")
            return
        if not 8000 <= rate <= 192000 or not 0.0 < threshold <= 1.0:
            await websocket.close(code=1003, reason=f"rate must be 8000-192000 Hz and threshold in (0, 1]; got {rate}, {threshold:g}")
            return
        if live["sessions"] >= settings.max_live:
            await websocket.close(code=1013, reason=f"{settings.max_live} live sessions already; try again later")
            return
        try:
            name, m = models.get(model)
        except _HTTPError as exc:
            await websocket.close(code=1008, reason=exc.message[:120])
            return
        live["sessions"] += 1
        loop = asyncio.get_running_loop()
        frames: queue.Queue = queue.Queue(maxsize=256)  # about 25 s of 0.1-s frames: a client far ahead is cut off

        sent: list = []  # the worker's messages, each sent by the event loop; all are awaited before the socket closes

        def run() -> None:
            from earmark import api
            from earmark.inference.listen import pcm_blocks

            for d in api.listen(m, pcm_blocks(frames.get, rate=rate, sr=m.front_end.sample_rate), threshold=threshold):
                message = {"end_s": round(d.end_s, 3), "label": d.label, "score": round(d.score, 4), "level_db": round(d.level_db, 1)}
                sent.append(asyncio.run_coroutine_threadsafe(websocket.send_json(message), loop))

        worker = loop.run_in_executor(None, run)
        try:
            await websocket.send_json({"ready": True, "model": name, "classes": m.classes})
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect" or message.get("bytes") is None and message.get("text") == "end":
                    break
                if message.get("bytes"):
                    try:
                        frames.put_nowait(message["bytes"])
                    except queue.Full:
                        await websocket.close(code=1008, reason="audio arrives faster than real time; send it as it is recorded")
                        break
        except WebSocketDisconnect:
            pass
        finally:
            while True:  # the end of the stream (making room if the line is full): the worker finishes and stops
                try:
                    frames.put_nowait(b"")
                    break
                except queue.Full:
                    frames.get_nowait()
            try:
                await worker
                await asyncio.gather(*(asyncio.wrap_future(f) for f in sent), return_exceptions=True)
            except Exception as exc:  # noqa: BLE001 - a failed session must not take the server down
                log.warning("live session ended: %s", exc)
            live["sessions"] -= 1
            if websocket.client_state.name == "CONNECTED":
                await websocket.close()

    return app


class BodyLimit:
    """ASGI middleware: a request body that grows past ``limit`` bytes is cut off there and answered 413.

    The declared length is checked up front (see ``guard``); this catches a
    body sent without one (chunked), which the form parser would otherwise
    spool whole before any endpoint runs: past the limit the app is told the
    client left, and its answer is replaced by the 413.
    """

    def __init__(self, app, *, limit: int, mb: float, body_timeout_s: float = 30.0) -> None:
        self.app, self.limit, self.mb, self.body_timeout_s = app, limit, mb, body_timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = {"seen": 0, "over": False, "started": False, "slow": False}

        async def limited():
            if state["over"]:
                return {"type": "http.disconnect"}
            try:  # a client that stops sending its body is let go: slow bodies cannot hold the server's connections
                message = await asyncio.wait_for(receive(), self.body_timeout_s)
            except asyncio.TimeoutError:
                state["over"] = state["slow"] = True
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                state["seen"] += len(message.get("body", b""))
                if state["seen"] > self.limit:
                    state["over"] = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message):
            if state["over"]:
                return  # the app's own answer to a vanished client; ours follows
            state["started"] = True
            await send(message)

        try:
            await self.app(scope, limited, guarded)
        except Exception:
            if not state["over"]:
                raise
        if state["over"] and not state["started"] and state["slow"]:
            log.info("dropped a request whose body stalled for %g s (at %d bytes)", self.body_timeout_s, state["seen"])
            await _error(408, f"the request body stalled for {self.body_timeout_s:g} s; send it at once.")(scope, receive, send)
        elif state["over"] and not state["started"]:
            log.info("cut off a request body at %d bytes (limit %d)", state["seen"], self.limit)
            await _error(413, f"the upload is over this server's {self.mb:g} MB limit; send a shorter recording.")(scope, receive, send)


def _error(status: int, message: str):
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status)


class Slots:
    """``running`` job slots and ``waiting`` places in line for them; beyond both, 429 at once.

    The line is bounded, so a burst can neither pile up work without end nor
    hold connections open for it; the event loop is single-threaded, so the
    counter needs no lock.
    """

    def __init__(self, running: int, waiting: int) -> None:
        self.running, self.waiting = running, waiting
        self.semaphore = asyncio.Semaphore(running)
        self.admitted = 0

    def __call__(self) -> "_job":
        return _job(self)


class _job:
    def __init__(self, slots: Slots) -> None:
        self.slots = slots

    async def __aenter__(self):
        s = self.slots
        if s.admitted >= s.running + s.waiting:
            raise _HTTPError(429, f"the server is busy ({s.running} jobs running and {s.waiting} waiting, its limits); "
                                  "retry in a few seconds.")
        s.admitted += 1
        try:
            await s.semaphore.acquire()
        except BaseException:
            s.admitted -= 1
            raise

    async def __aexit__(self, *exc):
        self.slots.semaphore.release()
        self.slots.admitted -= 1


def _new_folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="job-", dir=root))


class _uploads:
    """A private folder for one request's uploads, removed when the request ends."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def __aenter__(self) -> Path:
        self.folder = _new_folder(self.root)
        return self.folder

    async def __aexit__(self, *exc):
        shutil.rmtree(self.folder, ignore_errors=True)


async def _save(upload, folder: Path, number: int, limit: int) -> tuple[Path, str]:
    """Copy an upload into ``folder`` under a name of the server's, checking its type and size as it streams."""
    original = Path(upload.filename or "upload").name or "upload"
    kind = (upload.content_type or "").lower()
    if kind and not kind.startswith(AUDIO_TYPES):
        raise _HTTPError(415, f"{original}: sent as {kind}, not audio; upload a WAV, FLAC, OGG or MP3 file.")
    suffix = Path(original).suffix.lower() if Path(original).suffix.lower() in (".wav", ".flac", ".ogg", ".mp3") else ".audio"
    target = folder / f"upload-{number}{suffix}"
    written = 0
    with open(target, "wb") as out:
        while chunk := await upload.read(1 << 20):
            written += len(chunk)
            if written > limit:
                raise _HTTPError(413, f"{original}: over this server's {limit / (1 << 20):g} MB limit; send a shorter recording.")
            out.write(chunk)
    if written == 0:
        raise _HTTPError(400, f"{original}: the file is empty; upload a recording.")
    if suffix == ".audio":  # no known extension: the content says what it is
        with open(target, "rb") as f:
            sniffed = sniff_audio(f.read(12))
        if sniffed:
            target = target.rename(target.with_suffix(sniffed))
    return target, original


async def _socket_token_ok(websocket, token: str, wait_s: float = 10.0) -> bool:
    """Whether the socket's client holds ``token``: an ``Authorization: Bearer`` header, else its first message."""
    import json

    given = websocket.headers.get("authorization", "").removeprefix("Bearer ")
    if not given:
        try:
            first = await asyncio.wait_for(websocket.receive_text(), wait_s)
            given = json.loads(first).get("token", "") if first.startswith("{") else ""
        except (asyncio.TimeoutError, ValueError, KeyError, AttributeError, RuntimeError):
            return False
        except Exception:  # noqa: BLE001 - a client that leaves or sends bytes first has no token to give
            return False
    return isinstance(given, str) and hmac.compare_digest(given.encode(), token.encode())


def sniff_audio(head: bytes) -> str | None:
    """The audio file type the first bytes of a file announce (``.wav``, ``.flac``, ``.ogg``, ``.mp3``), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return ".wav"
    if head[:4] == b"fLaC":
        return ".flac"
    if head[:4] == b"OggS":
        return ".ogg"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return ".mp3"
    return None


async def _run(timeout_s: float, fn, *args, folder: Path | None = None, **kwargs):
    """Run a job in a worker thread; a timeout is a 504, a bad input a 400.

    The thread of a timed-out job ends on its own; it removes its ``folder``
    (the request's uploads and outputs) when it does, so nothing it writes
    after the 504 is left behind (the request removes it too, in case the
    job ended first).
    """
    abandoned = threading.Event()

    def job():
        try:
            return fn(*args, **kwargs)
        finally:
            if abandoned.is_set() and folder is not None:
                shutil.rmtree(folder, ignore_errors=True)

    try:
        return await asyncio.wait_for(asyncio.to_thread(job), timeout_s)
    except asyncio.TimeoutError:
        abandoned.set()
        raise _HTTPError(504, f"the job took longer than this server's {timeout_s:g} s limit; send a shorter recording.") from None
    except EarmarkError as exc:
        raise _HTTPError(400, str(exc)) from None


def _predict(model, paths: list[Path], top_k: int):
    from earmark import api

    return api.predict(model, paths, top_k=top_k, use_cache=False)


def _detect(model, path: Path, threshold: float, fmt: str, out_dir: Path):
    from earmark import api
    from earmark.inference.detect import DetectionSettings

    return api.detect(model, [path], settings=DetectionSettings(threshold=threshold), fmt=fmt, out_dir=out_dir)


def _public(reason: str, names: dict[str, str]) -> str:
    """A reason with the server's own upload paths replaced by the names the client sent (no server path leaks)."""
    for path, original in names.items():
        reason = reason.replace(path, original)
    return reason


def _prediction(p, names: dict[str, str]) -> dict:
    """The prediction as ``earmark predict --format json`` writes it (:meth:`Prediction.row`), named as uploaded."""
    return {**p.row(), "file": names.get(str(p.path), "?")}


def _event(e) -> dict:
    return {"start_s": round(e.start_s, 3), "end_s": round(e.end_s, 3), "label": e.label,
            "score": None if e.score is None else round(e.score, 4)}
