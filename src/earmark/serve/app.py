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
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from earmark.errors import ParameterError, check_number
from earmark.serve.deps import (  # noqa: F401 - Slots, _HTTPError: importable from here as before
    Server, Slots, _error, _HTTPError, _Models, token_matches,
)

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")


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


def create_app(settings: ServeSettings):
    """The FastAPI application for ``settings``: the routers of :mod:`earmark.serve.routes` over one :class:`Server`."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError

    from earmark.serve.collection import Collection
    from earmark.serve.routes import clips, collection, live

    limit = int(settings.max_upload_mb * (1 << 20))
    app = FastAPI(title="earmark", description="Classify and detect sounds with earmark models.", version="1")
    app.state.earmark = Server(settings, _Models(settings.models),
                               Collection(settings.store, settings.labelling_dir) if settings.store is not None else None,
                               Slots(settings.max_jobs, settings.max_queue),
                               Path(settings.upload_dir or tempfile.gettempdir()) / "earmark-uploads", limit)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        """The token and the declared size, checked before a body is read (FastAPI reads a form's uploads before it runs
        a route's dependencies)."""
        if request.url.path.startswith("/api/") and not token_matches(request.headers.get("authorization"), settings.token):
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
        fields = [f"{'.'.join(str(x) for x in e.get('loc', ()) if x not in ('body', 'query', 'form')) or 'body'}: "
                  f"{e.get('msg', 'invalid')}" for e in exc.errors()]
        return _error(422, "; ".join(fields) or "the request is malformed")

    for router in (clips.page, clips.router, collection.router, live.router):
        app.include_router(router)
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
