"""Self-contained HTML pages with playable windows: the audio is embedded, so a page opens from disk with no server."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from earmark.fileio import atomic_write

PLAY_RATE = 16_000  # snippets are embedded as 16-bit mono WAV at this rate: 32 kB per second of audio
PAD_S = 0.25  # a little audio either side of a window, so its onset is heard


def snippet_wav(path: str | Path, start_s: float, end_s: float, *, pad_s: float = PAD_S) -> bytes:
    """``[start_s - pad_s, end_s + pad_s]`` of ``path`` as 16-bit WAV bytes at 22,050 Hz, to play.

    Raises
    ------
    AudioLoadError
        If the file cannot be read.
    """
    import soundfile as sf

    from earmark.audio.io import audio_info, read_span

    info = audio_info(path, min_duration_s=0)
    start = max(0.0, start_s - pad_s)
    y = read_span(info, start, end_s + pad_s - start, sr=PLAY_RATE)
    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1.0, 1.0), PLAY_RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def snippet_uri(path: str | Path, start_s: float, end_s: float, *, pad_s: float = PAD_S) -> str:
    """A ``data:audio/wav`` URI of ``[start_s - pad_s, end_s + pad_s]`` of ``path`` (empty if the file cannot be read)."""
    from earmark.errors import AudioLoadError

    try:
        wav = snippet_wav(path, start_s, end_s, pad_s=pad_s)
    except AudioLoadError:
        return ""
    return "data:audio/wav;base64," + base64.b64encode(wav).decode()


def hits_page(out: Path, title: str, hits: list[dict], *, query: dict | None = None) -> Path:
    """Write a page listing ``hits`` (records with file, start_s, end_s and a distance or score), each playable."""
    def player(rec: dict) -> str:
        uri = snippet_uri(rec["file"], rec["start_s"], rec["end_s"])
        return f'<audio controls preload="none" src="{uri}"></audio>' if uri else "(unreadable)"

    rows = []
    for i, h in enumerate(hits, 1):
        value = f"{h['distance']:.4f}" if h.get("distance") is not None else f"{h.get('score', float('nan')):.4f}"
        rows.append(f"<tr><td>{i}</td><td>{html.escape(str(h['file']))}</td><td>{h['start_s']:.2f}</td><td>{h['end_s']:.2f}</td>"
                    f"<td>{value}</td><td>{html.escape(h.get('label') or '')}</td><td>{player(h)}</td></tr>")
    measure = "distance" if hits and hits[0].get("distance") is not None else "score"
    head = ""
    if query:
        head = (f"<p>Query: {html.escape(str(query['file']))} {query.get('span', '')} {player(query)}</p>")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:left}}audio{{height:2em}}</style></head>
<body><h1>{html.escape(title)}</h1>{head}
<table><thead><tr><th>#</th><th>file</th><th>start s</th><th>end s</th><th>{measure}</th><th>label</th><th>listen</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table></body></html>
"""
    with atomic_write(out, "w") as f:
        f.write(page)
    return out
