"""Issue 25, defects 1 and 8: outputs never replace what is not a regular file, never an input of the command."""

from __future__ import annotations

import hashlib
import os
import stat
import threading

import pytest

from earmark.errors import OutputError
from earmark.fileio import atomic_write, check_writable_file
from tests.hostile.conftest import one_line_error, run


def test_atomic_write_keeps_a_symlink_and_replaces_its_target(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    with atomic_write(link, "w") as f:
        f.write("new")
    assert link.is_symlink() and real.read_text() == "new"


def test_atomic_write_writes_through_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    with atomic_write(fifo, "w") as f:
        f.write("rows\n")
    reader.join(10)
    assert got == ["rows\n"] and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_full_device_is_an_error_and_stays_a_device():
    with pytest.raises(OutputError, match="No space left"):
        with atomic_write("/dev/full", "w") as f:
            f.write("x" * 10000)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_an_output_that_is_an_input_is_refused_before_any_work(tmp_path):
    model = tmp_path / "m.earmark"
    model.write_bytes(b"model")
    with pytest.raises(OutputError, match="also an input"):
        check_writable_file(tmp_path / "." / "m.earmark", "out", inputs=[model])
    link = tmp_path / "alias.earmark"
    link.symlink_to(model)
    with pytest.raises(OutputError, match="also an input"):
        check_writable_file(link, "out", inputs=[model])


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def store(trained, tmp_path_factory):
    data, _, _ = trained
    path = tmp_path_factory.mktemp("store") / "store"
    assert run("index", data, "--store", path, "--embedder", "mfcc", "-q").exit_code == 0
    return path


@pytest.fixture
def writers(trained, store, tmp_path):
    """Every command that writes one file, as ``(name, option, args-before-the-output)``."""
    data, model, cache = trained
    clip = sorted(data.glob("*.flac"))[0]
    return {
        "label --out": ("label", [store, "--model", model, "-n", "3", "--out"]),
        "map --out": ("map", [store, "--out"]),
        "cluster --out": ("cluster", [store, "-k", "2", "--out"]),
        "cluster --html": ("cluster", [store, "-k", "2", "--html"]),
        "search --html": ("search", [store, "--like", clip, "-k", "2", "--html"]),
        "train --out": ("train", [data, "--embedder", "mfcc", "--cache-dir", cache, "--out"]),
        "predict --out": ("predict", [model, clip, "--format", "csv", "--cache-dir", cache, "--out"]),
        "evaluate --json": ("evaluate", [data, "--embedder", "mfcc", "--cv", "3", "--cache-dir", cache, "--json"]),
        "curve --json": ("curve", [data, "--embedders", "mfcc", "--shots", "1", "--repeats", "1", "--cv", "3", "--cache-dir", cache, "--json"]),
        "compare --json": ("compare", [data, "--embedders", "mfcc", "--models", "logreg", "--cv", "3", "--cache-dir", cache, "--json"]),
        "export --out": ("export", [model, "--format", "c", "--out"]),
    }


@pytest.mark.parametrize("what", ["train --out", "predict --out", "evaluate --json", "curve --json", "compare --json", "export --out",
                                  "label --out", "map --out", "cluster --out", "cluster --html", "search --html"])
def test_every_writer_keeps_symlinks_and_refuses_full_devices(writers, what, tmp_path):
    command, args = writers[what]
    r = run(command, *args, "/dev/full", "-q")
    one_line_error(r, "/dev/full")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    real = tmp_path / "real.out"
    real.write_text("old")
    link = tmp_path / "link.out"
    link.symlink_to(real)
    r = run(command, *args, link, "-q")
    assert r.exit_code == 0, r.output
    assert link.is_symlink() and real.read_bytes() != b"old"


def test_export_over_its_own_model_is_refused(trained, tmp_path):
    _, model, _ = trained
    before = _digest(model)
    one_line_error(run("export", model, "--format", "c", "--out", model), "also an input")
    assert _digest(model) == before


def test_predict_and_evaluate_never_write_over_their_inputs(trained):
    data, model, cache = trained
    clip = sorted(data.glob("*.flac"))[0]
    before = _digest(clip)
    one_line_error(run("predict", model, clip, "--format", "csv", "--out", clip, "--cache-dir", cache), "also an input")
    assert _digest(clip) == before
    meta = data / "metadata.csv"
    before = _digest(meta)
    one_line_error(run("evaluate", data, "--embedder", "mfcc", "--cv", "3", "--json", meta, "--cache-dir", cache), "also an input")
    assert _digest(meta) == before
