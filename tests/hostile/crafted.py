"""Model files a hostile user crafts: edited descriptions and tensors, with every checksum fixed up."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path


def rewrite(src: Path, dst: Path, *, meta_edit=None, extra_bytes: int = 0) -> Path:
    """Copy model ``src`` to ``dst``, adding a zero tensor of ``extra_bytes`` to every safetensors part and applying
    ``meta_edit(meta)`` to the description; the parts' sizes and SHA-256 are recomputed, as an attacker would."""
    with zipfile.ZipFile(src) as z:
        items = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(items["earmark.json"])
    for p in meta["parts"].values():
        if p["format"] != "safetensors" or not extra_bytes:
            continue
        blob = items[p["file"]]
        n = int.from_bytes(blob[:8], "little")
        header, data = json.loads(blob[8 : 8 + n]), blob[8 + n :]
        header["extra"] = {"dtype": "U8", "shape": [extra_bytes], "data_offsets": [len(data), len(data) + extra_bytes]}
        h = json.dumps(header).encode()
        h += b" " * (-len(h) % 8)
        items[p["file"]] = new = len(h).to_bytes(8, "little") + h + data + bytes(extra_bytes)
        p["bytes"], p["sha256"] = len(new), hashlib.sha256(new).hexdigest()
    raw = meta_edit(meta) if meta_edit is not None else None  # edits the description, or returns its whole new text
    items["earmark.json"] = (raw if isinstance(raw, str) else json.dumps(meta)).encode()
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, blob in items.items():
            z.writestr(name, blob)
    return dst
