"""``WS /api/listen``: live labels for a stream of 16-bit PCM (a page's microphone), by the ``listen`` engine."""

import asyncio
import logging
import queue

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from earmark.serve.deps import _HTTPError, _socket_token_ok

log = logging.getLogger("earmark.serve.app")

router = APIRouter()


@router.websocket("/api/listen")
async def listen(websocket: WebSocket, model: str | None = None, rate: int = 16000, threshold: float = 0.5):
    """Live labels: send binary frames of 16-bit little-endian mono PCM at ``rate`` Hz; labels come back as JSON
    (``{"end_s", "label", "score", "level_db"}``), first a ``{"ready", "classes"}`` message. A server with a token
    takes it in an ``Authorization: Bearer`` header or as the first message (``{"token": ...}``), never in the
    address (which access logs keep). Every refusal is a close with its reason."""
    s = websocket.app.state.earmark
    await websocket.accept()  # accepted first, so a refusal reaches the client with its reason (not a bare 403)
    if "token" in websocket.query_params:
        await websocket.close(code=1008, reason="send the token as the first message ({\"token\": ...}), not in the address")
        return
    if s.settings.token is not None and not await _socket_token_ok(websocket, s.settings.token):
        await websocket.close(code=1008, reason="this server needs its token: send {\"token\": ...} first")
        return
    if not 8000 <= rate <= 192000 or not 0.0 < threshold <= 1.0:
        await websocket.close(code=1003, reason=f"rate must be 8000-192000 Hz and threshold in (0, 1]; got {rate}, {threshold:g}")
        return
    if s.live_sessions >= s.settings.max_live:
        await websocket.close(code=1013, reason=f"{s.settings.max_live} live sessions already; try again later")
        return
    try:
        name, m = s.models.get(model)
    except _HTTPError as exc:
        await websocket.close(code=1008, reason=exc.message[:120])
        return
    s.live_sessions += 1
    loop = asyncio.get_running_loop()
    frames: queue.Queue = queue.Queue(maxsize=256)  # about 25 s of 0.1-s frames: a client far ahead is cut off

    sent: list = []  # the worker's messages, each sent by the event loop; all are awaited before the socket closes

    def run() -> None:
        from earmark import api
        from earmark.inference.listen import pcm_blocks

        for d in api.listen(m, pcm_blocks(frames.get, rate=rate, sr=m.front_end.sample_rate), threshold=threshold):
            message = {"end_s": round(d.end_s, 3), "label": d.label, "score": round(d.score, 4), "level_db": round(d.level_db, 1)}
            if d.closest is not None:  # "unknown": the class it was nearest (score is that class's probability)
                message["closest"] = d.closest
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
        s.live_sessions -= 1
        if websocket.client_state.name == "CONNECTED":
            await websocket.close()
