"""earmark fetch: archives served by a local HTTP server on 127.0.0.1 (built from copies of the shared data, as the
official archives lay them out), never the internet. Checksums verified, a corrupt download refused and deleted, a
download cut short resumed with a range request (or restarted where the server cannot resume), every layout read by
earmark as it is."""

from __future__ import annotations

import csv
import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from conftest import shared_data
from earmark.cli import app
from earmark.data import load_dataset
from earmark.data.fetch import fetch
from earmark.errors import DatasetError, ParameterError


def _wav(path: Path) -> bytes:
    y, sr = sf.read(path, dtype="int16")
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _esc50_zip() -> bytes:
    """ESC-50's archive layout: ESC-50-master/meta/esc50.csv and audio/*.wav; four ESC-10 clips and one that is not."""
    esc = shared_data("esc10")
    rows = list(csv.DictReader(open(esc / "metadata.csv")))[:4]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        meta = ["filename,fold,target,category,esc10,src_file,take"]
        for r in rows:
            name = Path(r["filename"]).with_suffix(".wav").name
            z.writestr(f"ESC-50-master/audio/{name}", _wav(esc / r["filename"]))
            meta.append(f"{name},{r['fold']},{r['target']},{r['label']},True,{r['src_file']},{r['take']}")
        z.writestr("ESC-50-master/audio/5-9032-A-49.wav", _wav(esc / rows[0]["filename"]))
        meta.append("5-9032-A-49.wav,5,49,hand_saw,False,9032,A")
        z.writestr("ESC-50-master/meta/esc50.csv", "\n".join(meta) + "\n")
    return buf.getvalue()


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _fsdd_tar() -> bytes:
    fsdd = shared_data("fsdd")
    files = [fsdd / "audio" / n for n in ("0_george_0.wav", "0_george_7.wav", "1_jackson_3.wav", "1_jackson_30.wav")]
    return _tar({f"free-spoken-digit-dataset-1.0.10/recordings/{f.name}": f.read_bytes() for f in files})


def _speech_commands_tar() -> bytes:
    sc = shared_data("speech_commands_dev")
    rows = [r for r in csv.DictReader(open(sc / "metadata.csv")) if r["speaker"]]
    yes = [r for r in rows if r["label"] == "yes"][:2]
    other = [r for r in rows if r["label"] == "_unknown_"][:1]
    members, names = {}, []
    for r, word in [(yes[0], "yes"), (yes[1], "yes"), (other[0], "bed")]:
        name = f"{word}/{r['speaker']}_nohash_{len(names)}.wav"
        members[name] = _wav(sc / r["filename"])
        names.append(name)
    members["_background_noise_/white_noise.wav"] = _wav(sorted((sc / "background").glob("white_noise*"))[0])
    members["testing_list.txt"] = (names[1] + "\n").encode()
    members["validation_list.txt"] = (names[2] + "\n").encode()
    return _tar(members)


class _Server(http.server.ThreadingHTTPServer):
    files: dict[str, bytes]
    cut_once: set  # paths whose next full response stops half-way
    no_range: bool = False
    ranges: list


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        data = self.server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        header = self.headers.get("Range")
        self.server.ranges.append(header)
        if header and not self.server.no_range:
            start = int(header.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if self.path in self.server.cut_once:
            self.server.cut_once.discard(self.path)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)  # the connection drops half-way
            return
        self.wfile.write(body)


@contextmanager
def serving(files: dict[str, bytes]):
    server = _Server(("127.0.0.1", 0), _Handler)
    server.files, server.cut_once, server.ranges = files, set(), []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def archives():
    return {"/esc50.zip": _esc50_zip(), "/fsdd.tar.gz": _fsdd_tar(), "/sc.tar.gz": _speech_commands_tar()}


def test_each_data_set_arrives_checked_in_the_layout_earmark_reads(archives, tmp_path):
    with serving(archives) as (_, url):
        esc = fetch("esc10", tmp_path, url=url + "/esc50.zip", sha256=_sha(archives["/esc50.zip"]))
        fsdd = fetch("fsdd", tmp_path, url=url + "/fsdd.tar.gz", sha256=_sha(archives["/fsdd.tar.gz"]))
        sc = fetch("speech-commands", tmp_path, url=url + "/sc.tar.gz", sha256=_sha(archives["/sc.tar.gz"]))
    assert esc["verified"] and esc["clips"] == 4  # the ESC-10 rows only: hand_saw is ESC-50's
    ds = load_dataset(tmp_path / "esc10", fold_column="fold")
    truth = list(csv.DictReader(open(shared_data("esc10") / "metadata.csv")))[:4]
    assert sorted(c.label for c in ds.clips) == sorted(r["label"] for r in truth) and len(ds.missing) == 0
    assert sorted(c.fold for c in ds.clips) == sorted(r["fold"] for r in truth)
    rows = {r["filename"]: r for r in csv.DictReader(open(tmp_path / "fsdd" / "metadata.csv"))}
    assert fsdd["clips"] == 4 and {k: (v["label"], v["speaker"], v["split"]) for k, v in rows.items()} == {
        "audio/0_george_0.wav": ("0", "george", "test"), "audio/0_george_7.wav": ("0", "george", "train"),
        "audio/1_jackson_3.wav": ("1", "jackson", "test"), "audio/1_jackson_30.wav": ("1", "jackson", "train")}
    a, _ = sf.read(tmp_path / "fsdd" / "audio" / "0_george_0.wav")
    b, _ = sf.read(shared_data("fsdd") / "audio" / "0_george_0.wav")
    assert np.array_equal(a, b)  # the audio itself, untouched
    rows = list(csv.DictReader(open(tmp_path / "speech-commands" / "metadata.csv")))
    assert sc["clips"] == 3 and [(r["label"], r["word"], r["split"]) for r in rows] == [
        ("_unknown_", "bed", "validation"), ("yes", "yes", "train"), ("yes", "yes", "test")]
    assert (tmp_path / "speech-commands" / "background" / "white_noise.wav").is_file()
    assert "sha256: " + _sha(archives["/esc50.zip"]) in (tmp_path / "esc10" / "SOURCE.txt").read_text()
    assert not list((tmp_path / ".downloads").iterdir())  # archives removed once unpacked
    assert fetch("esc10", tmp_path)["downloaded"] is False  # already there: nothing fetched, nothing touched


def test_a_corrupt_download_is_refused_and_deleted(archives, tmp_path):
    bad = bytearray(archives["/fsdd.tar.gz"])
    bad[len(bad) // 2] ^= 0xFF
    with serving({"/fsdd.tar.gz": bytes(bad)}) as (_, url):
        with pytest.raises(DatasetError, match=r"SHA-256 is [0-9a-f]{64}, not [0-9a-f]{64}: it is corrupt .*deleted"):
            fetch("fsdd", tmp_path, url=url + "/fsdd.tar.gz", sha256=_sha(archives["/fsdd.tar.gz"]))
    assert not (tmp_path / "fsdd").exists() and not list((tmp_path / ".downloads").iterdir())
    with pytest.raises(ParameterError, match="64 hexadecimal"):
        fetch("fsdd", tmp_path, url="http://127.0.0.1:9/x.tar.gz", sha256="abc")


def test_a_download_cut_short_resumes_where_it_stopped(archives, tmp_path):
    data = archives["/esc50.zip"]
    with serving({"/esc50.zip": data}) as (server, url):
        server.cut_once.add("/esc50.zip")
        with pytest.raises(DatasetError, match="the download stopped.*run the command again to resume"):
            fetch("esc10", tmp_path, url=url + "/esc50.zip", sha256=_sha(data))
        kept = (tmp_path / ".downloads" / "esc50.zip.part").stat().st_size
        assert 0 < kept < len(data) and not (tmp_path / "esc10").exists()
        done = fetch("esc10", tmp_path, url=url + "/esc50.zip", sha256=_sha(data))
        assert server.ranges == [None, f"bytes={kept}-"]  # the second request asked only for the rest
    assert done["clips"] == 4 and done["sha256"] == _sha(data)


def test_a_server_that_cannot_resume_starts_again_cleanly(archives, tmp_path):
    data = archives["/fsdd.tar.gz"]
    (tmp_path / ".downloads").mkdir(parents=True)
    (tmp_path / ".downloads" / "fsdd.tar.gz.part").write_bytes(b"x" * 1000)  # a stale partial download
    with serving({"/fsdd.tar.gz": data}) as (server, url):
        server.no_range = True
        done = fetch("fsdd", tmp_path, url=url + "/fsdd.tar.gz", sha256=_sha(data))
    assert done["sha256"] == _sha(data) and done["clips"] == 4


def test_an_archive_that_writes_outside_its_folder_is_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../../evil.txt", "x")
    with serving({"/esc50.zip": buf.getvalue()}) as (_, url):
        with pytest.raises(DatasetError, match="outside the folder"):
            fetch("esc10", tmp_path / "d", url=url + "/esc50.zip", sha256=_sha(buf.getvalue()))
    assert not (tmp_path / "evil.txt").exists()


def test_the_command_fetches_and_says_where(archives, tmp_path):
    with serving(archives) as (_, url):
        r = CliRunner().invoke(app, ["fetch", "fsdd", "--to", str(tmp_path), "--url", url + "/fsdd.tar.gz", "--sha256",
                                     _sha(archives["/fsdd.tar.gz"]), "-q"])
    assert r.exit_code == 0, r.output
    assert f"4 clips -> {tmp_path / 'fsdd'} (SHA-256 checked)" in r.output
    r = CliRunner().invoke(app, ["fetch", "fsdd", "--to", str(tmp_path), "--sha256", "0" * 64])
    assert r.exit_code == 1 and "give the mirror with --url" in r.output
