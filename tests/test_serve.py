"""earmark serve's HTTP API on real clips (issue 13, first part): answers, bad uploads, limits, token, paths."""

import asyncio
import contextlib
import io
import json

import numpy as np
import pytest
import soundfile as sf

import earmark
from conftest import DEMO, make_demo_subset
from earmark.errors import ParameterError
from earmark.serve.app import ServeSettings, Slots, _HTTPError, check_bind, create_app, read_token

UNSEEN_DOG = DEMO / "unseen" / "2-114280-A-0.flac"
UNSEEN_ROOSTER = next(p for p in sorted((DEMO / "unseen").glob("*-1.flac")))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    data = make_demo_subset(root / "demo", per_class=8)  # all the demo's clips of dog, rooster and rain
    return earmark.train(data, embedder="aisfx", classifier="logreg", cache_dir=root / "cache").save(root / "demo.earmark")


def _client(model_path, tmp_path, **kw):
    from fastapi.testclient import TestClient

    settings = ServeSettings(models={"demo": model_path}, upload_dir=tmp_path / "uploads", **kw)
    return TestClient(create_app(settings)), tmp_path / "uploads" / "earmark-uploads"


def _left(folder) -> list:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _upload(path, name=None, kind="audio/flac"):
    return ("files", (name or path.name, path.read_bytes(), kind))


def test_models_and_predict_on_real_clips(model_path, tmp_path):
    client, uploads = _client(model_path, tmp_path)
    models = client.get("/api/models").json()["models"]
    assert models[0]["name"] == "demo" and models[0]["classes"] == ["dog", "rain", "rooster"]
    r = client.post("/api/predict", files=[_upload(UNSEEN_DOG), _upload(UNSEEN_ROOSTER)], data={"top_k": "2"})
    assert r.status_code == 200, r.text
    results = {x["file"]: x for x in r.json()["results"]}
    assert results[UNSEEN_DOG.name]["label"] == "dog" and results[UNSEEN_ROOSTER.name]["label"] == "rooster"
    assert len(results[UNSEEN_DOG.name]["next"]) == 1 and 0 < results[UNSEEN_DOG.name]["score"] <= 1
    cli = earmark.api.predict(model_path, [UNSEEN_DOG], top_k=2).records[0].row()  # one JSON shape: the CLI's and the server's
    assert results[UNSEEN_DOG.name] == {**cli, "file": UNSEEN_DOG.name}
    assert _left(uploads) == []  # nothing stays on disk


def test_detect_finds_the_events_of_a_long_recording(model_path, tmp_path):
    client, uploads = _client(model_path, tmp_path)
    dog, sr = sf.read(UNSEEN_DOG, dtype="float32")
    rooster, sr2 = sf.read(UNSEEN_ROOSTER, dtype="float32")
    assert sr == sr2
    long = np.concatenate([dog, np.zeros(sr * 5, np.float32), rooster])
    buf = io.BytesIO()
    sf.write(buf, long, sr, format="WAV")
    r = client.post("/api/detect", files={"file": ("field recording.wav", buf.getvalue(), "audio/wav")}, data={"threshold": "0.5"})
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    labels = [e["label"] for e in events]
    assert "dog" in labels and "rooster" in labels and labels.index("dog") < labels.index("rooster")
    assert all(e["start_s"] >= 10 for e in events if e["label"] == "rooster")  # after the dog and the silence
    csv = client.post("/api/detect", files={"file": ("field recording.wav", buf.getvalue(), "audio/wav")}, data={"format": "audacity"})
    from urllib.parse import unquote

    assert csv.status_code == 200 and "field recording.labels.txt" in unquote(csv.headers["content-disposition"])
    assert "rooster" in csv.text
    assert _left(uploads) == []


BAD_UPLOADS = [  # (what, (name, bytes, content type), status, words in the message)
    ("text sent as audio", ("notes.wav", b"just some text, not a recording\n" * 20, "audio/wav"), 400, "notes.wav"),
    ("a wrong content type", ("page.html", b"<html></html>", "text/html"), 415, "not audio"),
    ("an empty file", ("empty.wav", b"", "audio/wav"), 400, "empty"),
    ("a truncated WAV", ("cut.wav", None, "audio/wav"), 400, "cut.wav"),
]


@pytest.mark.parametrize("what, upload, status, words", BAD_UPLOADS, ids=[b[0] for b in BAD_UPLOADS])
def test_bad_uploads_get_a_clear_error_and_leave_nothing(model_path, tmp_path, what, upload, status, words):
    client, uploads = _client(model_path, tmp_path)
    name, blob, kind = upload
    if blob is None:  # the first 20 kB of a real WAV: its header promises far more
        buf = io.BytesIO()
        sf.write(buf, sf.read(UNSEEN_DOG, dtype="float32")[0], 44100, format="WAV")
        blob = buf.getvalue()[:20_000]
    r = client.post("/api/predict", files=[("files", (name, blob, kind))])
    body = r.json()
    assert r.status_code == status and words in body["error"], body
    assert "earmark-uploads" not in body["error"]  # the client's names, never the server's paths
    assert _left(uploads) == []
    assert client.post("/api/predict", files=[_upload(UNSEEN_DOG)]).status_code == 200  # and it keeps serving


def test_a_bad_file_among_good_ones_is_reported_and_the_rest_answered(model_path, tmp_path):
    client, uploads = _client(model_path, tmp_path)
    r = client.post("/api/predict", files=[_upload(UNSEEN_DOG), ("files", ("notes.wav", b"not audio" * 50, "audio/wav"))])
    assert r.status_code == 200 and [x["label"] for x in r.json()["results"]] == ["dog"]
    skipped = r.json()["skipped"]
    assert skipped[0]["file"] == "notes.wav" and "earmark-uploads" not in skipped[0]["reason"] and _left(uploads) == []


def test_an_oversized_upload_is_cut_off(model_path, tmp_path):
    client, uploads = _client(model_path, tmp_path, max_upload_mb=0.05)  # 51 kB
    r = client.post("/api/predict", files=[_upload(UNSEEN_DOG)])  # 300+ kB
    assert r.status_code == 413 and "MB limit" in r.json()["error"]
    assert _left(uploads) == []
    # without a declared length (chunked), the body is cut off as it streams in, before the form parser spools it
    import httpx

    form = httpx.Request("POST", "http://x", files=[_upload(UNSEEN_DOG)])
    body = form.read()

    def chunks():
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    r = client.post("/api/predict", content=chunks(), headers={"content-type": form.headers["content-type"]})
    assert r.status_code == 413 and r.json()["error"].startswith("the upload is over this server's 0.05 MB limit"), r.text
    assert _left(uploads) == [] and client.get("/api/models").status_code == 200


def test_a_token_is_required_when_set(model_path, tmp_path):
    token = "s3cret-token-of-enough-length"
    client, _ = _client(model_path, tmp_path, token=token)
    assert client.get("/api/models").status_code == 401
    assert client.get("/api/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/api/models", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.json()["models"][0]["name"] == "demo"


def test_no_request_names_a_path(model_path, tmp_path):
    client, uploads = _client(model_path, tmp_path)
    r = client.post("/api/predict", files=[_upload(UNSEEN_DOG)], data={"model": "../../demo"})
    assert r.status_code == 404 and "no model named" in r.json()["error"]
    r = client.post("/api/predict", files=[_upload(UNSEEN_DOG, name="../../../escaped.flac")])
    assert r.status_code == 200 and r.json()["results"][0]["file"] == "escaped.flac"  # the name is shown, not used
    assert not list(tmp_path.rglob("escaped.flac")) and _left(uploads) == []
    r = client.post("/api/detect", files={"file": ("a.flac", UNSEEN_DOG.read_bytes(), "audio/flac")}, data={"format": "../x"})
    assert r.status_code == 422


def test_jobs_wait_in_a_bounded_line_and_beyond_it_get_429():
    async def scenario():
        slots = Slots(running=1, waiting=1)
        first = slots()
        await first.__aenter__()  # running
        waiter = asyncio.create_task(slots().__aenter__())  # waits in line for the slot
        await asyncio.sleep(0.01)
        assert not waiter.done()
        with pytest.raises(_HTTPError) as busy:  # the line is full
            await slots().__aenter__()
        assert busy.value.status == 429 and "1 jobs running and 1 waiting" in busy.value.message
        await first.__aexit__(None, None, None)
        await asyncio.wait_for(waiter, 1)  # the waiter got the slot
        assert slots.admitted == 1

    asyncio.run(scenario())


def test_binding_beyond_this_machine_needs_a_token(tmp_path):
    check_bind("127.0.0.1", None)
    with pytest.raises(ParameterError, match="--token-file"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", "x" * 32)
    short = tmp_path / "token"
    short.write_text("abc\n")
    with pytest.raises(ParameterError, match="at least 16"):
        read_token(short)
    short.write_text(json.dumps("y" * 40))
    assert len(read_token(short)) == 42


@contextlib.contextmanager
def running_server(model_path, *options: str):
    """``earmark serve MODEL [OPTIONS]`` as a real uvicorn process on a free loopback port; yields its URL, stopped after."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", "from earmark.cli import main; main()", "serve", str(model_path), "--port", str(port),
                             "-q", *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline and answer is None and proc.poll() is None:
            try:
                answer = httpx.get(f"{url}/api/models", timeout=5)
            except httpx.TransportError:
                time.sleep(0.3)
        assert answer is not None and answer.status_code == 200, proc.stdout.read1().decode() if proc.poll() is not None else "no answer"
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # a job still running (a test that failed half-way): no need to wait for it
            proc.kill()
            proc.wait(10)


def test_earmark_serve_answers_on_loopback_and_refuses_an_open_host_without_a_token(model_path):
    import httpx
    from typer.testing import CliRunner

    from earmark.cli import app

    refused = CliRunner().invoke(app, ["serve", str(model_path), "--host", "0.0.0.0"])
    assert refused.exit_code == 1 and "--token-file" in refused.output
    with running_server(model_path) as url:
        assert httpx.get(f"{url}/api/models", timeout=5).json()["models"][0]["name"] == model_path.stem
        docs = httpx.get(f"{url}/openapi.json", timeout=5).json()
        assert {"/api/models", "/api/predict", "/api/detect"} <= set(docs["paths"])


def _watched_page(browser, url: str, *, height: int):
    """A page of ``url`` that collects its console errors and any request to anywhere but the server."""
    page = browser.new_page(viewport={"width": 1100, "height": height})
    errors, elsewhere = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith((url, "blob:", "data:")) else elsewhere.append(r.url))
    page.goto(url)
    return page, errors, elsewhere


def test_the_page_in_a_real_browser_classifies_a_clip_and_shows_a_recordings_events(model_path, tmp_path):
    from playwright.sync_api import sync_playwright

    from conftest import chromium_path, keep_screenshot

    dog, sr = sf.read(UNSEEN_DOG, dtype="float32")
    rooster, _ = sf.read(UNSEEN_ROOSTER, dtype="float32")
    long = tmp_path / "field recording.wav"  # 40 s: the dog, half a minute of quiet hiss, the rooster
    hiss = np.random.default_rng(0).normal(0, 0.002, sr * 30).astype(np.float32)
    sf.write(long, np.concatenate([dog, hiss, rooster]), sr)
    with running_server(model_path) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"], headless=True)
        try:
            page, errors, elsewhere = _watched_page(browser, url, height=900)
            page.wait_for_selector("#model option", state="attached")
            page.set_input_files("#files", str(UNSEEN_DOG))  # pick a file: its label appears
            page.wait_for_selector("#rows td.label")
            assert page.inner_text("#rows td.label") == "dog"
            assert page.locator("#long-hint").is_hidden()  # a 5-s clip: no hint
            page.set_input_files("#files", str(long))  # a 40-s recording classified as one clip: the page says what to do
            page.wait_for_selector("#long-hint:not([hidden])")
            assert "40 s long" in page.inner_text("#long-hint") and "Find events" in page.inner_text("#long-hint")
            page.screenshot(path=str(tmp_path / "page_predict.png"))
            page.check("input[value=detect]")  # a long recording: its events on the timeline
            page.set_input_files("#files", [])  # (the same file again would not count as a change)
            page.set_input_files("#files", str(long))
            page.wait_for_selector("#events .event")
            scores = [float(t) for t in page.locator("#events .event .score").all_inner_texts()]
            assert scores and all(0 < v <= 1 for v in scores)  # every chip says how sure
            spec = page.locator("#spec").screenshot()  # the spectrogram: drawn, with the events' energy in it
            from PIL import Image

            grey = np.asarray(Image.open(io.BytesIO(spec)).convert("L"), dtype=float)
            darkest = int(np.argmin(grey[2:-2, 2:-2].mean(axis=0))) / (grey.shape[1] - 4)  # the loudest moment
            assert grey.std() > 10 and (darkest < 0.13 or darkest > 0.87), darkest  # in the dog (0-5 s) or the rooster (35-40 s)
            axis = np.asarray(Image.open(io.BytesIO(page.locator("#wave").screenshot())).convert("L"), dtype=float)[-20:]
            assert (axis < 120).sum() > 100  # the time axis: tick labels along the bottom
            events = [e.rsplit("s", 1)[0] + "s" for e in page.locator("#events .event").all_inner_texts()]
            assert any(e.startswith("dog") for e in events) and any(e.startswith("rooster") for e in events)
            assert [e.split()[0] for e in events].index("dog") < [e.split()[0] for e in events].index("rooster")
            page.locator("#events .event").first.click()  # play an event
            page.wait_for_selector("body[data-playing]", state="attached")  # (the page's CSP forbids wait_for_function's eval)
            page.screenshot(path=str(tmp_path / "page_detect.png"))
            assert errors == [] and elsewhere == []  # no console error, no request to anywhere but this server
        finally:
            browser.close()
    for png in ("page_predict.png", "page_detect.png"):
        keep_screenshot(tmp_path / png)


def test_the_live_socket_labels_streamed_pcm(model_path, tmp_path):
    import soxr

    client, _ = _client(model_path, tmp_path)
    dog, sr = sf.read(UNSEEN_DOG, dtype="float32")
    pcm = (np.clip(soxr.resample(dog, sr, 16000), -1, 1) * 32767).astype("<i2").tobytes()
    with client.websocket_connect("/api/listen?rate=16000&threshold=0.5") as ws:
        assert ws.receive_json()["classes"] == ["dog", "rain", "rooster"]
        for i in range(0, len(pcm), 3201):  # odd-sized frames, as a network may cut them
            ws.send_bytes(pcm[i : i + 3201])
        ws.send_text("end")
        heard = []
        try:
            while True:
                heard.append(ws.receive_json())
        except Exception:  # the server closes after the last window
            pass
    assert heard and max(heard, key=lambda m: m["score"])["label"] == "dog"
    assert all(0 < m["end_s"] <= 5.1 for m in heard)


def test_the_live_socket_needs_the_token_when_set(model_path, tmp_path):
    from starlette.websockets import WebSocketDisconnect

    client, _ = _client(model_path, tmp_path, token="t" * 20)
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/api/listen") as ws:
            ws.receive_json()
    assert closed.value.code == 1008
    with client.websocket_connect("/api/listen") as ws:  # the token as the first message, as the page sends it
        ws.send_json({"token": "t" * 20})
        assert ws.receive_json()["ready"]
    with client.websocket_connect("/api/listen", headers={"Authorization": "Bearer " + "t" * 20}) as ws:
        assert ws.receive_json()["ready"]
    # issue 25: never in the address (access logs keep it), and a refusal says why instead of a bare 403
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect(f"/api/listen?token={'t' * 20}") as ws:
            ws.receive_json()
    assert closed.value.code == 1008 and "not in the address" in closed.value.reason
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/api/listen?rate=5") as ws:
            ws.send_json({"token": "t" * 20})
            ws.receive_json()
    assert closed.value.code == 1003 and "rate must be" in closed.value.reason


def test_the_page_hears_a_fake_microphone(model_path, tmp_path):
    from playwright.sync_api import sync_playwright

    from conftest import chromium_path, keep_screenshot

    dog, sr = sf.read(UNSEEN_DOG, dtype="float32")
    mic = tmp_path / "mic.wav"
    sf.write(mic, dog, sr, subtype="PCM_16")  # chromium plays it as the microphone, over and over
    with running_server(model_path) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=[
            "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={mic}", "--autoplay-policy=no-user-gesture-required"])
        try:
            page = browser.new_page()
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.wait_for_selector("#model option", state="attached")
            page.click("#listen")
            try:
                page.locator("#heard li", has_text="dog").first.wait_for(timeout=30_000)  # the page's CSP forbids eval
            except Exception as exc:
                raise AssertionError(f"no 'dog' heard: status {page.inner_text('#live-status')!r}, "
                                     f"heard {page.inner_text('#heard')!r}, errors {errors}") from exc
            page.screenshot(path=str(tmp_path / "page_live.png"))
            page.click("#listen")  # stop
            assert errors == []
        finally:
            browser.close()
    keep_screenshot(tmp_path / "page_live.png")


# --- with a store: search by example, the map, the labelling loop ------------------------------------------------------
TRUTH = {"0": "dog", "1": "rooster", "10": "rain"}  # ESC-50 class numbers at the end of the file names


def _truth(file: str) -> str:
    return TRUTH[file.rsplit(".", 1)[0].split("-")[-1]]


@pytest.fixture(scope="module")
def store_path(model_path, tmp_path_factory):
    """The demo's clips of dog, rooster and rain (3 each, no labels), indexed by the model's front end (aisfx)."""
    root = tmp_path_factory.mktemp("serve-store")
    data = make_demo_subset(root / "demo", per_class=3)
    (data / "metadata.csv").unlink()
    earmark.api.index(data, root / "store", embedder="aisfx")
    return root / "store"


def test_the_store_endpoints_search_play_and_map(model_path, store_path, tmp_path):
    client, uploads = _client(model_path, tmp_path, store=store_path, labelling_dir=tmp_path / "labelling")
    summary = client.get("/api/store").json()
    assert summary["files"] == 9 and summary["windows"] > 9 and summary["front_end"].startswith("aisfx") and summary["labelled"] == {}
    r = client.post("/api/search", files={"file": (UNSEEN_DOG.name, UNSEEN_DOG.read_bytes(), "audio/flac")}, data={"k": "5"})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert len(hits) == 5 and [h["distance"] for h in hits] == sorted(h["distance"] for h in hits)
    assert sum(_truth(h["name"]) == "dog" for h in hits) >= 4  # an unseen dog finds the store's dogs
    assert _left(uploads) == []
    h = hits[0]
    r = client.get("/api/audio", params={"file": h["file"], "start_s": h["start_s"], "end_s": h["end_s"]})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    y, sr = sf.read(io.BytesIO(r.content))
    assert abs(len(y) / sr - (h["end_s"] - h["start_s"])) < 0.05 and np.abs(y).max() > 0.01
    for bad in ("/etc/passwd", "../" + h["name"], h["file"] + "/..", str(store_path / "store.json")):  # only the store's recordings
        r = client.get("/api/audio", params={"file": bad, "start_s": 0, "end_s": 1})
        assert r.status_code == 404 and "no recording" in r.json()["error"], bad
    assert client.get("/api/audio", params={"file": h["file"], "start_s": 0, "end_s": 99}).status_code == 400
    points = client.get("/api/map", params={"max_points": 500}).json()
    assert len(points["points"]) == points["of"] > 9 and all(np.isfinite([p["x"], p["y"]]).all() for p in points["points"])
    assert {p["file"] for p in points["points"]} == {x["file"] for x in client.get("/api/label/next?strategy=random&n=100").json()["windows"]}


def test_the_labelling_loop_trains_in_the_background_and_serves_the_new_model(model_path, store_path, tmp_path):
    import time

    client, _ = _client(model_path, tmp_path, store=store_path, labelling_dir=tmp_path / "labelling")
    assert client.post("/api/retrain").status_code == 400  # nothing labelled yet
    first = client.get("/api/label/next", params={"strategy": "uncertain", "n": 6}).json()
    assert first["model"] == "demo" and len(first["windows"]) == 6
    for w in first["windows"]:  # the user listens and clicks the right class
        r = client.post("/api/label", json={"file": w["file"], "start_s": w["start_s"], "end_s": w["end_s"], "label": _truth(w["name"])})
        assert r.status_code == 200, r.text
    assert sum(r.json()["labelled"].values()) == 6
    assert client.post("/api/label", json={"file": "/etc/passwd", "start_s": 0, "end_s": 1, "label": "dog"}).status_code == 404
    assert client.post("/api/label", json={"file": w["file"], "start_s": 0, "end_s": 1, "label": " "}).status_code == 422
    for start, end in (("NaN", "Infinity"), ("0", "Infinity"), ("-1", "1"), ("2", "1")):  # issue 25: never a row of nan,inf
        body = f'{{"file": {json.dumps(w["file"])}, "start_s": {start}, "end_s": {end}, "label": "dog"}}'
        r = client.post("/api/label", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, (start, end, r.text)
    assert "nan" not in (tmp_path / "labelling" / "labels.csv").read_text().lower()
    again = client.get("/api/label/next", params={"strategy": "uncertain", "n": 6}).json()["windows"]
    assert not {(w["file"], w["start_s"]) for w in again} & {(w["file"], w["start_s"]) for w in first["windows"]}
    for w in again[:3]:
        client.post("/api/label", json={"file": w["file"], "start_s": w["start_s"], "end_s": w["end_s"], "label": _truth(w["name"])})
    counts = client.get("/api/store").json()["labelled"]
    if len(counts) < 2:  # the uncertain picks were all one class: add a window of another
        other = next(w for w in client.get("/api/label/next?strategy=random&n=100").json()["windows"] if _truth(w["name"]) not in counts)
        client.post("/api/label", json={**{k: other[k] for k in ("file", "start_s", "end_s")}, "label": _truth(other["name"])})
    given = {(w["file"], round(w["start_s"], 3)): _truth(w["name"]) for w in first["windows"]}
    on_map = {(p["file"], p["start_s"]): p["label"] for p in client.get("/api/map").json()["points"]}
    assert all(on_map[k] == v for k, v in given.items())  # the map shows the page's labels
    r = client.post("/api/retrain", json={"classifier": "logreg"})
    assert r.status_code == 202 and r.json()["state"] == "running", r.text
    deadline = time.monotonic() + 60
    while (status := client.get("/api/retrain").json())["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status["state"] == "done" and status["model"] == "labelled-1", status
    served = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert set(served) == {"demo", "labelled-1"} and set(served["labelled-1"]["classes"]) == set(client.get("/api/store").json()["labelled"])
    assert (tmp_path / "labelling" / "labelled-1.earmark").is_file() and (tmp_path / "labelling" / "labels.csv").is_file()
    r = client.post("/api/predict", files=[_upload(UNSEEN_DOG)], data={"model": "labelled-1"})
    assert r.status_code == 200 and r.json()["model"] == "labelled-1"
    nxt = client.get("/api/label/next", params={"model": "labelled-1", "n": 5}).json()
    assert nxt["model"] == "labelled-1" and len(nxt["windows"]) == 5


def test_without_a_store_the_store_endpoints_say_how_to_get_one(model_path, tmp_path):
    client, _ = _client(model_path, tmp_path)
    assert client.get("/api/store").json() == {"store": None}  # the page asks, and shows no collection
    r = client.get("/api/map")
    assert r.status_code == 404 and "--store" in r.json()["error"]
    r = client.post("/api/search", files={"file": (UNSEEN_DOG.name, UNSEEN_DOG.read_bytes(), "audio/flac")})
    assert r.status_code == 404 and "--store" in r.json()["error"]


def test_the_page_searches_maps_and_labels_a_collection_in_a_real_browser(model_path, store_path, tmp_path):
    import time

    from playwright.sync_api import sync_playwright

    from conftest import chromium_path, keep_screenshot

    windows = sum(1 for _ in earmark.api.search(store_path, like=str(UNSEEN_DOG), k=1000))
    with running_server(model_path, "--store", str(store_path), "--labelling-dir", str(tmp_path / "labelling")) as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
                                    headless=True)
        try:
            page, errors, elsewhere = _watched_page(browser, url, height=1400)
            page.wait_for_selector("#collection", state="visible")
            page.check("input[value=search]")  # search by example: an unseen dog finds the collection's dogs
            page.set_input_files("#files", str(UNSEEN_DOG))
            page.wait_for_selector("#hits li.hit")
            hits = page.locator("#hits li.hit").all_inner_texts()
            assert len(hits) == 10 and sum(_truth(h.split()[0]) == "dog" for h in hits[:5]) >= 4, hits
            page.locator("#hits li.hit").first.click()
            page.wait_for_selector(f"body[data-playing^='{hits[0].split()[0]} ']", state="attached")
            page.click("#show-map")  # the map: every window, click one to hear it
            page.wait_for_selector("#map-info:has-text('coloured by label')", timeout=60_000)
            assert page.inner_text("#map-info").startswith(f"{windows} of {windows} windows")
            px = page.evaluate("[mapPoints[0].px, mapPoints[0].py]")
            scale = page.evaluate("$('map').width / $('map').clientWidth")
            first = page.evaluate("[mapPoints[0].name, mapPoints[0].start_s.toFixed(2)]")
            page.locator("#map").click(position={"x": px[0] / scale, "y": px[1] / scale})
            page.wait_for_selector(f"body[data-playing^='{first[0]} {first[1]}-']", state="attached")
            page.click("#label-next")  # the labelling loop: listen, click the class, next
            page.wait_for_selector(".class-btn")
            for _ in range(10):
                name = page.inner_text("#current").split()[0]
                before = page.inner_text("#labelled")
                page.click(f".class-btn:text-is('{_truth(name)}')")
                deadline = time.monotonic() + 10
                while (counts := page.inner_text("#labelled")) == before and time.monotonic() < deadline:
                    time.sleep(0.05)
                if _ >= 3 and sum(c in counts for c in TRUTH.values()) >= 2:
                    break
            page.screenshot(path=str(tmp_path / "page_collection.png"), full_page=True)
            page.click("#retrain")
            page.wait_for_selector("#retrain-status:has-text('now using labelled-1')", timeout=60_000)
            assert page.input_value("#model") == "labelled-1"
            assert errors == [] and elsewhere == []
        finally:
            browser.close()
    keep_screenshot(tmp_path / "page_collection.png")


def test_a_timed_out_job_leaves_no_upload_behind(model_path, tmp_path, monkeypatch):
    """Issue 25: the worker thread of a job answered 504 goes on and writes its event file; its folder is removed when
    it ends."""
    import threading
    import time

    import earmark.serve.routes.clips as serve_app

    finished = threading.Event()

    def slow_detect(model, path, threshold, fmt, out_dir):
        time.sleep(1.0)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "upload-0.events.csv").write_text("late\n")
        finished.set()
        raise RuntimeError("too late")

    monkeypatch.setattr(serve_app, "_detect", slow_detect)
    client, uploads = _client(model_path, tmp_path, timeout_s=0.2)
    r = client.post("/api/detect", files={"file": ("a.flac", UNSEEN_DOG.read_bytes(), "audio/flac")})
    assert r.status_code == 504, r.text
    assert finished.wait(10)
    deadline = time.time() + 5
    while _left(uploads) and time.time() < deadline:
        time.sleep(0.05)
    assert _left(uploads) == []


def test_an_upload_without_an_extension_is_known_by_its_content(model_path, tmp_path):
    """Issue 25: a FLAC sent as 'recording' (no extension) is sniffed, not refused."""
    client, uploads = _client(model_path, tmp_path)
    r = client.post("/api/predict", files=[("files", ("recording", UNSEEN_DOG.read_bytes(), "application/octet-stream"))])
    assert r.status_code in (200, 415), r.text
    if r.status_code == 415:  # an octet-stream is refused by type; the same bytes without a type are sniffed
        r = client.post("/api/predict", files=[("files", ("recording", UNSEEN_DOG.read_bytes(), ""))])
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["file"] == "recording" and r.json()["results"][0]["label"] == "dog"
    assert _left(uploads) == []


def test_a_stalled_request_body_is_let_go_with_408():
    """Issue 25: a client that stops sending its body does not hold a connection (and a job) forever."""
    from earmark.serve.app import BodyLimit

    async def app(scope, receive, send):  # an endpoint that reads the whole body first, as the form parser does
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive():
        if not sent_first:
            sent_first.append(True)
            return {"type": "http.request", "body": b"x" * 10, "more_body": True}
        await asyncio.sleep(60)  # the client stalls

    sent: list = []
    sent_first: list = []

    async def send(message):
        sent.append(message)

    async def main():
        await BodyLimit(app, limit=1 << 20, mb=1, body_timeout_s=0.2)({"type": "http"}, receive, send)

    asyncio.run(asyncio.wait_for(main(), 10))
    assert sent[0]["status"] == 408


def test_the_openapi_page_documents_limits_shapes_and_the_token(model_path, tmp_path):
    """Issue 27: routers with declared constraints and response models, the token as a security scheme."""
    client, _ = _client(model_path, tmp_path, token="a" * 20)
    spec = client.get("/openapi.json").json()
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    for path, method in (("/api/predict", "post"), ("/api/detect", "post"), ("/api/models", "get"), ("/api/map", "get")):
        assert spec["paths"][path][method]["security"] == [{"HTTPBearer": []}], path
    schemas = spec["components"]["schemas"]
    form = schemas[spec["paths"]["/api/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].split("/")[-1]]
    assert form["properties"]["top_k"]["minimum"] == 1 and form["properties"]["top_k"]["maximum"] == 50
    detect_form = schemas[spec["paths"]["/api/detect"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].split("/")[-1]]
    assert detect_form["properties"]["format"]["enum"] == ["json", "csv", "audacity", "raven"]
    assert set(schemas["PredictionOut"]["properties"]) >= {"file", "label", "score", "silent", "next"}
    assert set(schemas["Events"]["properties"]) == {"model", "file", "duration_s", "counts", "events"}
    maps = {p["name"]: p["schema"] for p in spec["paths"]["/api/map"]["get"]["parameters"]}
    assert maps["max_points"]["minimum"] == 4 and maps["max_points"]["maximum"] == 20000
    bad = client.post("/api/predict", files=[_upload(UNSEEN_DOG)], data={"top_k": "0"},
                      headers={"Authorization": f"Bearer {'a' * 20}"})
    assert bad.status_code == 422 and bad.json()["error"].startswith("top_k:")
