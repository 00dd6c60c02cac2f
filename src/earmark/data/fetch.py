"""Download the public data sets the tutorials and benchmarks use, checked, into the layout earmark reads.

``fetch(name, dest)`` downloads the data set's archive from its official source (or ``url``, a mirror of the same
file), resuming a partial download with an HTTP range request, checks its size and SHA-256 before anything is
unpacked, unpacks it (refusing members that would land outside the folder) and writes ``dest/NAME/`` with the audio
and a ``metadata.csv`` that ``earmark train``/``evaluate`` read as they are:

- ``esc10`` and ``esc50`` (Piczak 2015; ESC-10 CC BY 3.0, ESC-50 CC BY-NC 3.0): ``filename, label, fold, target,
  src_file, take``; use ``--folds fold``.
- ``fsdd`` (free spoken digits, CC BY-SA 4.0): ``filename, label`` (the digit), ``digit, speaker, take, split``
  (the official split: takes 0-4 test); use ``--folds split --test-fold test``, or ``--label-column speaker``.
- ``speech-commands`` (v0.02, Warden 2018, CC BY 4.0): ``filename, label`` (the 12-class task: ten keywords and
  ``_unknown_``), ``word, speaker, split`` (the official validation and test lists); its background noise under
  ``background/``.

The finished folder appears in one rename, so an interrupted run never leaves a half-written data set where a whole
one is expected; a checksum that does not match is refused in one line, and the bad file removed.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from earmark.embeddings.cache import file_sha256
from earmark.errors import DatasetError, ParameterError, did_you_mean

log = logging.getLogger(__name__)

CHUNK = 1 << 20
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")


@dataclass(frozen=True)
class Source:
    """Where a data set's archive comes from, what it must hash to, and how it becomes earmark's layout."""

    url: str
    sha256: str | None  # None: no published checksum; the first download's is recorded and reported
    layout: Callable[[Path, Path], int]  # (unpacked archive, new data set folder) -> clips written
    licence: str
    note: str = ""


def _esc(subset: bool):
    def layout(unpacked: Path, out: Path) -> int:
        root = _only_child(unpacked)
        rows = list(csv.DictReader(open(root / "meta" / "esc50.csv", newline="")))
        keep = [r for r in rows if not subset or r["esc10"].strip().lower() == "true"]
        (out / "audio").mkdir(parents=True)
        for r in keep:
            shutil.move(root / "audio" / r["filename"], out / "audio" / r["filename"])
        _write_csv(out / "metadata.csv", ("filename", "label", "fold", "target", "src_file", "take"),
                   ([f"audio/{r['filename']}", r["category"], r["fold"], r["target"], r["src_file"], r["take"]] for r in keep))
        return len(keep)

    return layout


def _fsdd(unpacked: Path, out: Path) -> int:
    recordings = _only_child(unpacked) / "recordings"
    (out / "audio").mkdir(parents=True)
    rows = []
    for f in sorted(recordings.glob("*.wav")):
        digit, speaker, take = f.stem.split("_")
        shutil.move(f, out / "audio" / f.name)
        rows.append([f"audio/{f.name}", digit, digit, speaker, take, "test" if int(take) < 5 else "train"])
    _write_csv(out / "metadata.csv", ("filename", "label", "digit", "speaker", "take", "split"), rows)
    return len(rows)


def _speech_commands(unpacked: Path, out: Path) -> int:
    root = unpacked if (unpacked / "testing_list.txt").is_file() else _only_child(unpacked)
    split = {}
    for name, value in (("validation_list.txt", "validation"), ("testing_list.txt", "test")):
        split |= {line.strip(): value for line in open(root / name) if line.strip()}
    (out / "audio").mkdir(parents=True)
    rows = []
    for word_dir in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("_")):
        for f in sorted(word_dir.glob("*.wav")):
            name = f"{word_dir.name}__{f.name}"
            shutil.move(f, out / "audio" / name)
            rows.append([f"audio/{name}", word_dir.name if word_dir.name in KEYWORDS else "_unknown_", word_dir.name,
                         f.name.split("_nohash_")[0], split.get(f"{word_dir.name}/{f.name}", "train")])
    if (root / "_background_noise_").is_dir():
        (out / "background").mkdir()
        for f in sorted((root / "_background_noise_").glob("*.wav")):
            shutil.move(f, out / "background" / f.name)
    _write_csv(out / "metadata.csv", ("filename", "label", "word", "speaker", "split"), rows)
    return len(rows)


SOURCES = {
    "esc10": Source("https://github.com/karolpiczak/ESC-50/archive/master.zip",
                    "805afc618aff80eff0641d51311647871fead5807da68bb18e43a27db47a79ce", _esc(subset=True),
                    "CC BY 3.0 (the ESC-10 subset)", "the 400 ESC-10 clips of ESC-50's archive (646 MB)"),
    "esc50": Source("https://github.com/karolpiczak/ESC-50/archive/master.zip",
                    "805afc618aff80eff0641d51311647871fead5807da68bb18e43a27db47a79ce", _esc(subset=False),
                    "CC BY-NC 3.0 (non-commercial)", "2,000 clips, 50 classes (646 MB)"),
    "fsdd": Source("https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.tar.gz", None, _fsdd,
                   "CC BY-SA 4.0", "3,000 spoken digits, 6 speakers (about 10 MB)"),
    "speech-commands": Source("http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
                              "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58", _speech_commands,
                              "CC BY 4.0", "105,829 one-second words from 2,618 speakers (2.3 GB)"),
}


def fetch(name: str, dest: str | Path, *, url: str | None = None, sha256: str | None = None, progress: bool = False) -> dict:
    """Download data set ``name`` into ``dest/name`` (see the module docstring); returns what was done.

    ``url`` fetches the same archive from a mirror; with ``sha256`` it may be another copy, checked against that
    instead (``sha256`` without ``url`` is refused: the official archives' checksums are built in). A data set already in ``dest/name`` is left alone. A download cut short resumes where it stopped.

    Raises
    ------
    ParameterError
        For an unknown ``name`` (with the closest one).
    DatasetError
        If the download fails, or the archive's checksum or contents are not what they must be.
    """
    if sha256 is not None and url is None:
        raise ParameterError("--sha256 checks a mirror's copy; give the mirror with --url (the official archives' checksums are "
                             "built in).")
    if name not in SOURCES:
        raise ParameterError(f"No data set {name!r}: earmark fetches {', '.join(SOURCES)}.{did_you_mean(name, SOURCES)}")
    source = SOURCES[name]
    dest = Path(dest)
    target = dest / name
    if (target / "metadata.csv").is_file():
        log.info("%s is already there; nothing to do", target)
        return {"name": name, "path": str(target), "downloaded": False}
    if target.exists():
        raise DatasetError(f"{target}: exists but holds no metadata.csv; move it away or pick another folder.")
    expected = sha256 or source.sha256
    if expected is not None and not (len(expected) == 64 and all(c in "0123456789abcdef" for c in expected.lower())):
        raise ParameterError(f"The 'sha256' parameter must be 64 hexadecimal digits. Got {expected!r} instead.")
    dest.mkdir(parents=True, exist_ok=True)
    address = url or source.url
    archive = dest / ".downloads" / PurePosixPath(address.split("?")[0]).name
    _download(address, archive, progress=progress)
    digest = file_sha256(archive)
    if expected is not None and digest != expected.lower():
        archive.unlink()
        raise DatasetError(f"{address}: the download's SHA-256 is {digest}, not {expected.lower()}: it is corrupt or not "
                           "the archive earmark knows; it was deleted; run the command again, or check the address.")
    if expected is None:
        log.warning("%s has no published checksum; this download's SHA-256 is %s (recorded in %s/SOURCE.txt)", address,
                    digest, target)
    with tempfile.TemporaryDirectory(dir=dest, prefix=f".{name}-") as work:
        unpacked, out = Path(work) / "unpacked", Path(work) / name
        _unpack(archive, unpacked)
        try:
            n = source.layout(unpacked, out)
        except (OSError, KeyError, ValueError, csv.Error) as exc:
            raise DatasetError(f"{address}: the archive does not hold {name} as it should ({type(exc).__name__}: {exc}).") from None
        (out / "SOURCE.txt").write_text(f"{name}: {source.note}\nsource: {address}\nsha256: {digest}"
                                        f"{'' if expected else ' (no published checksum: recorded at download)'}\n"
                                        f"licence: {source.licence}\n")
        os.replace(out, target)
    archive.unlink()
    return {"name": name, "path": str(target), "downloaded": True, "clips": n, "sha256": digest, "verified": expected is not None}


def _download(url: str, path: Path, *, progress: bool) -> None:
    """``url`` into ``path``, through ``path.part``: a partial file is resumed with a range request (restarted if the
    server ignores it); the finished file is renamed into place."""
    import http.client
    import urllib.error
    import urllib.request

    from earmark.progress import track

    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            resumed = bool(have) and response.status == 206
            total = response.length + (have if resumed else 0) if response.length is not None else None
            if have:
                log.info("%s: %s", url, f"resuming at {have} bytes" if resumed else "the server cannot resume; starting again")

            def chunks():
                while chunk := response.read(CHUNK):
                    yield chunk

            left = None if total is None else -(-(total - (have if resumed else 0)) // CHUNK)
            with open(part, "ab" if resumed else "wb") as f:
                for chunk in track(chunks(), description=f"fetch {path.name} (MiB)", total=left, enabled=progress):
                    f.write(chunk)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the partial file is the whole file
            os.replace(part, path)
            return
        raise DatasetError(f"{url}: the server answered {exc.code} {exc.reason}; check the address, or try again later.") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise DatasetError(f"{url}: the download stopped ({getattr(exc, 'reason', exc)}); run the command again to resume "
                           f"it ({part.stat().st_size if part.exists() else 0} bytes kept).") from None
    if total is not None and part.stat().st_size != total:
        raise DatasetError(f"{url}: the download stopped at {part.stat().st_size} of {total} bytes; run the command again to "
                           "resume it.")
    os.replace(part, path)


def _unpack(archive: Path, into: Path) -> None:
    """Unpack a zip or tar archive, refusing members that would land outside ``into`` (absolute, ``..``, links)."""
    into.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                for member in z.namelist():
                    _inside(into, member, archive)
                z.extractall(into)
        else:
            with tarfile.open(archive) as t:
                t.extractall(into, filter="data")  # refuses absolute paths, '..', links out and devices
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise DatasetError(f"{archive}: not a readable archive ({exc}); delete it and run the command again.") from None


def _inside(root: Path, member: str, archive: Path) -> None:
    if PurePosixPath(member).is_absolute() or ".." in PurePosixPath(member).parts:
        raise DatasetError(f"{archive}: member {member!r} would be written outside the folder; refused.")


def _only_child(folder: Path) -> Path:
    children = [p for p in folder.iterdir() if not p.name.startswith(".")]
    return children[0] if len(children) == 1 and children[0].is_dir() else folder


def _write_csv(path: Path, header, rows) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
