"""What the service's routes share: the server's state, its dependencies (the served models, the store, the token),
the job slots, uploads and running a job off the event loop."""

import asyncio
import hmac
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from earmark.errors import EarmarkError

AUDIO_TYPES = ("audio/", "application/octet-stream", "video/ogg", "application/ogg")


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str):
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status)


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


@dataclass
class Server:
    """One running service: its settings and what its routes share (on ``app.state.earmark``)."""

    settings: object
    models: _Models
    collection: object | None
    jobs: Slots
    upload_root: Path
    limit: int  # bytes an upload may have
    live_sessions: int = 0


def server(request: Request) -> Server:
    """The running service (a dependency)."""
    return request.app.state.earmark


def token_matches(authorization: str | None, token: str | None) -> bool:
    """Whether an ``Authorization`` header's value is ``Bearer TOKEN`` for the server's ``token`` (always true without
    one); compared in constant time."""
    return token is None or hmac.compare_digest((authorization or "").encode(), f"Bearer {token}".encode())


_bearer = HTTPBearer(auto_error=False, description="The server's token, when it was started with one (--token-file).")


def token(request: Request, _credentials: HTTPAuthorizationCredentials | None = Security(_bearer)) -> None:
    """Every ``/api/`` route's security dependency (so the OpenAPI page shows it): 401 without the server's token.
    The ``guard`` middleware checks the same header before a body is read, as FastAPI reads a form's uploads before
    it runs a route's dependencies."""
    if not token_matches(request.headers.get("authorization"), server(request).settings.token):
        raise _HTTPError(401, "this server needs its token: send 'Authorization: Bearer TOKEN'.")


def store(s: Server = Depends(server)):
    """The store's collection (a dependency), or 404 when the server has none."""
    if s.collection is None:
        raise _HTTPError(404, "this server has no store; start it with 'earmark serve MODEL --store STORE'.")
    return s.collection


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
    return isinstance(given, str) and token_matches(f"Bearer {given}", token)


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
