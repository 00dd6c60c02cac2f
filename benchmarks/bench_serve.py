"""Load, burst and bad-input test of ``earmark serve`` on this machine's loopback interface only (issue 13).

    python benchmarks/bench_serve.py --work DIR [--model M.earmark] [--seconds 60] [--clients 8] [--burst 60]

Starts ``earmark serve`` (uvicorn, 127.0.0.1, a free port, 2 job slots and 16
places in line) with the demo model (trained from ``data/demo/train`` into
DIR if ``--model`` is not given), then:

1. bad uploads, one of each kind, over HTTP: status and message, and whether
   the server's upload folder is empty afterwards;
2. ``--clients`` clients, each posting 5-s ESC-10 clips one after another for
   ``--seconds``: requests per second, median and 95th-percentile latency,
   errors, and the server's resident memory sampled every second;
3. a burst of ``--burst`` requests at once: only 200 and 429 may come back,
   and a normal request afterwards must succeed.

Everything is bounded in count and time and the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import data_root, machine

REPO = Path(__file__).resolve().parents[1]


def bad_uploads(clip: Path) -> list[tuple[str, tuple]]:
    import soundfile as sf

    wav = io.BytesIO()
    sf.write(wav, sf.read(clip, dtype="float32")[0], 44100, format="WAV")
    return [
        ("text named .wav, sent as audio/wav", ("notes.wav", b"just some text, not a recording\n" * 20, "audio/wav")),
        ("an HTML page (text/html)", ("page.html", b"<html></html>", "text/html")),
        ("an empty file", ("empty.wav", b"", "audio/wav")),
        ("a truncated WAV (first 20 kB)", ("cut.wav", wav.getvalue()[:20_000], "audio/wav")),
        ("random bytes named .flac", ("noise.flac", os.urandom(50_000), "audio/flac")),
        ("a 0.05-s WAV (shorter than earmark reads)", ("blip.wav", _short_wav(), "audio/wav")),
        ("a file over the size limit (101 MB)", ("huge.wav", b"\0" * (101 << 20), "audio/wav")),
        ("a path in the file name", ("../../etc/passwd.wav", b"RIFF" + os.urandom(100), "audio/wav")),
    ]


def _short_wav() -> bytes:
    import numpy as np
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros(800, np.float32), 16000, format="WAV")
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--burst", type=int, default=60)
    args = ap.parse_args()
    import httpx
    import psutil

    print(machine())
    args.work.mkdir(parents=True, exist_ok=True)
    model = args.model
    if model is None:
        model = args.work / "demo.earmark"
        if not model.is_file():
            subprocess.run([sys.executable, "-c", "from earmark.cli import main; main()", "train", str(REPO / "data/demo/train"),
                            "--out", str(model), "-q"], check=True)
    clips = sorted((data_root() / "esc10" / "audio").glob("*.flac"))
    random.Random(0).shuffle(clips)
    clips = [(c.name, c.read_bytes()) for c in clips[:40]]
    tmp = args.work / "tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-c", "from earmark.cli import main; main()", "serve", str(model), "--port", str(port),
                               "--max-jobs", "2", "--max-queue", "16", "-q"], env={**os.environ, "TMPDIR": str(tmp)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/models", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            raise SystemExit("the server did not answer within 90 s")
        proc = psutil.Process(server.pid)
        uploads = tmp / "earmark-uploads"

        print("\n1. bad uploads (POST /api/predict):")
        print("| upload | status | message |\n| --- | --- | --- |")
        for what, (name, blob, kind) in bad_uploads(data_root() / "esc10" / "audio" / "1-100032-A-0.flac"):
            r = httpx.post(f"{url}/api/predict", files=[("files", (name, blob, kind))], timeout=60)
            body = r.json()
            message = body.get("error") or "; ".join(f"{s['file']}: {s['reason']}" for s in body.get("skipped", [])) or str(body)
            print(f"| {what} | {r.status_code}{' (file skipped)' if r.status_code == 200 else ''} | {message} |")
        left = [p for p in uploads.rglob("*") if p.is_file()] if uploads.exists() else []
        print(f"files left in the upload folder: {len(left)}; server still answers: "
              f"{httpx.post(f'{url}/api/predict', files=[('files', (clips[0][0], clips[0][1], 'audio/flac'))], timeout=60).status_code}")

        print(f"\n2. load: {args.clients} clients posting 5-s clips for {args.seconds:g} s")
        latencies, statuses, memory = [], [], []
        stop = time.monotonic() + args.seconds
        lock = threading.Lock()

        def client(seed: int) -> None:
            rng = random.Random(seed)
            with httpx.Client(timeout=120) as c:
                while time.monotonic() < stop:
                    name, blob = rng.choice(clips)
                    t0 = time.perf_counter()
                    r = c.post(f"{url}/api/predict", files=[("files", (name, blob, "audio/flac"))])
                    with lock:
                        latencies.append(time.perf_counter() - t0)
                        statuses.append(r.status_code)

        def sample() -> None:
            while time.monotonic() < stop:
                memory.append(proc.memory_info().rss / 1e6)
                time.sleep(1.0)

        with ThreadPoolExecutor(args.clients) as pool:  # warm-up: every worker thread's first job
            list(pool.map(lambda i: httpx.post(f"{url}/api/predict", files=[("files", (clips[i][0], clips[i][1], "audio/flac"))],
                                               timeout=120), range(args.clients)))
        stop = time.monotonic() + args.seconds
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.clients + 1) as pool:
            pool.submit(sample)
            list(pool.map(client, range(args.clients)))
        wall = time.perf_counter() - t0
        errors = sum(1 for s in statuses if s != 200)
        q = sorted(latencies)
        print(f"{len(statuses)} requests in {wall:.1f} s: {len(statuses) / wall:.2f} requests/s ({len(statuses) * 5 / wall:.0f} s of "
              f"audio per second); latency median {statistics.median(q) * 1000:.0f} ms, p95 {q[int(0.95 * (len(q) - 1))] * 1000:.0f} ms; "
              f"errors {errors} ({sorted(set(statuses))}); server memory (after a warm-up request per client) {memory[0]:.0f} MB at "
              f"the start, {memory[len(memory) // 2]:.0f} MB half-way, {memory[-1]:.0f} MB at the end, {max(memory):.0f} MB at most")

        print(f"\n3. burst: {args.burst} requests at once")

        def one(i: int) -> int:
            name, blob = clips[i % len(clips)]
            return httpx.post(f"{url}/api/predict", files=[("files", (name, blob, "audio/flac"))], timeout=300).status_code

        with ThreadPoolExecutor(args.burst) as pool:
            burst = list(pool.map(one, range(args.burst)))
        counts = {s: burst.count(s) for s in sorted(set(burst))}
        after = one(0)
        print(f"statuses {counts}; the server is {'alive' if server.poll() is None else 'DOWN'}; a request afterwards: {after}; "
              f"files left in the upload folder: {len([p for p in uploads.rglob('*') if p.is_file()]) if uploads.exists() else 0}")
    finally:
        server.terminate()
        server.wait(20)


if __name__ == "__main__":
    main()
