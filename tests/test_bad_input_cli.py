"""Bad input and options found by a hostile test of earmark 0.1: one test each (issue 7's defects 1-13 and rough edges).

Every case must end in a clear line naming the file or option and the fix, never a traceback,
and must lose nothing else.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
import zipfile

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

import earmark
from earmark.cli import app
from earmark.errors import ModelFileError, ParameterError
from earmark.pipeline import Model
from tests.conftest import DEMO


def run(*args, **kw):
    return CliRunner().invoke(app, [str(a) for a in args], **kw)


def _trained(demo_subset, cache_dir, path, classifier):
    r = run("train", demo_subset, "--out", path, "--embedder", "mfcc", "--classifier", classifier, "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    return path


@pytest.fixture
def model_file(demo_subset, cache_dir, tmp_path):
    return _trained(demo_subset, cache_dir, tmp_path / "m.earmark", "logreg")


@pytest.fixture
def knn_model_file(demo_subset, cache_dir, tmp_path):
    """A model whose head is stored through skops (logreg and mlp heads are stored as arrays)."""
    return _trained(demo_subset, cache_dir, tmp_path / "knn.earmark", "knn")


def _rows(root):
    return list(csv.DictReader(open(root / "metadata.csv")))


def _write_rows(root, rows, extra=()):
    with open(root / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "label"])
        for r in rows:
            w.writerow([r["filename"], r["label"]])
        for r in extra:
            w.writerow(r)


# 1 -----------------------------------------------------------------------------------------
def test_duplicate_rows_cannot_leak_across_folds(demo_subset, cache_dir):
    clean = earmark.evaluate(demo_subset, embedder="mfcc", classifier="knn", cv=3, cache_dir=cache_dir)
    rows = _rows(demo_subset)
    _write_rows(demo_subset, rows * 5)
    dup = earmark.evaluate(demo_subset, embedder="mfcc", classifier="knn", cv=3, cache_dir=cache_dir)
    assert dup["n_files"] == 9 and dup["accuracy_mean"] == clean["accuracy_mean"] < 1.0
    assert dup["data"]["duplicate_rows_dropped"] == 36 and dup["n_skipped"] == 0
    # a copy of the same audio under another name and label is reported, and neither row is used
    shutil.copy(demo_subset / rows[0]["filename"], demo_subset / "copy.flac")
    _write_rows(demo_subset, rows, extra=[["copy.flac", "rain" if rows[0]["label"] != "rain" else "dog"]])
    r = earmark.evaluate(demo_subset, embedder="mfcc", classifier="knn", cv=2, cache_dir=cache_dir)
    conflicts = [s for s in r["skipped"] if "different labels" in s["reason"]]
    assert len(conflicts) == 2 and r["n_files"] == 8
    # a copy with the same label under another name is dropped as a duplicate, named in the skipped list
    _write_rows(demo_subset, rows, extra=[["copy.flac", rows[0]["label"]]])
    r = earmark.evaluate(demo_subset, embedder="mfcc", classifier="knn", cv=3, cache_dir=cache_dir)
    assert r["n_files"] == 9 and [s["file"].rsplit("/", 1)[-1] for s in r["skipped"]] == ["copy.flac"]
    assert "duplicate of" in r["skipped"][0]["reason"]


# 2 -----------------------------------------------------------------------------------------
def test_unopenable_files_with_the_cache_on_are_reported_and_the_rest_printed(model_file, demo_subset, cache_dir, tmp_path):
    good = sorted(demo_subset.glob("*.flac"))[0]
    loop = tmp_path / "loop.wav"
    loop.symlink_to(loop)
    r = run("predict", model_file, tmp_path / "nonexistent.wav", loop, good, "--format", "csv", "--cache-dir", cache_dir)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert str(good) in r.stdout and len(r.stdout.strip().splitlines()) == 2
    assert "no such file" in r.stderr and "link loop" in r.stderr and len(r.stderr.strip().splitlines()) == 2


# 3 -----------------------------------------------------------------------------------------
def test_model_file_members_are_size_checked_before_inflating(knn_model_file, tmp_path, monkeypatch):
    model_file = knn_model_file
    import earmark.persistence as persistence

    meta = json.loads(zipfile.ZipFile(model_file).read("earmark.json"))
    padded = tmp_path / "padded.earmark"
    with zipfile.ZipFile(model_file) as src, zipfile.ZipFile(padded, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, json.dumps(meta) + " " * (20 << 20) if item.filename == "earmark.json" else data)
    assert padded.stat().st_size < 1 << 20  # 20 MiB of spaces deflate to a few kB
    with pytest.raises(ModelFileError, match="earmark.json declares 2097.* over the 16777216 limit"):
        Model.load(padded)
    # a part that inflates past the cap is refused from its declared size, before it is read
    monkeypatch.setattr(persistence, "MAX_PART_BYTES", 1 << 20)
    bomb = tmp_path / "bomb.earmark"
    with zipfile.ZipFile(model_file) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, b"\0" * (8 << 20) if item.filename == "parts/head.skops" else src.read(item))
    with pytest.raises(ModelFileError, match="parts/head.skops declares 8388608 bytes"):
        Model.load(bomb)


# 4 -----------------------------------------------------------------------------------------
def test_a_cache_folder_that_cannot_be_written_is_skipped_with_one_warning(model_file, demo_subset, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    clips = sorted(demo_subset.glob("*.flac"))[:3]
    r = run("predict", model_file, *clips, "--format", "csv", "--cache-dir", blocked)
    assert r.exit_code == 0, r.output
    assert len(r.stdout.strip().splitlines()) == 4
    assert r.stderr.count("warning:") == 1 and "cannot be written" in r.stderr


# 5 -----------------------------------------------------------------------------------------
def test_file_names_and_labels_are_never_read_as_markup(model_file, demo_subset, cache_dir, tmp_path):
    good = sorted(demo_subset.glob("*.flac"))[0]
    odd = [tmp_path / "take[/1].flac", tmp_path / "[dog] bark.flac", tmp_path / "[bold]x[/bold].flac"]
    (tmp_path / "take[").mkdir()
    (tmp_path / "[bold]x[").mkdir()
    for p in odd:
        shutil.copy(good, p)
    r = run("predict", model_file, *odd, "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    for p in odd:
        assert str(p) in r.output
    one = tmp_path / "one"
    one.mkdir()
    (one / "[red]rain").mkdir()
    shutil.copy(good, one / "[red]rain" / "a.flac")
    r = run("train", one, "--out", tmp_path / "x.earmark", "--embedder", "mfcc", "--cache-dir", cache_dir)
    assert r.exit_code == 1 and "Got 1 class ([red]rain)" in r.output


# 6 -----------------------------------------------------------------------------------------
def test_unwritable_outputs_fail_first_in_one_line(demo_subset, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = tmp_path / "cache"
    for args, option in ((["--json", blocker / "sub" / "e.json"], "--json"), (["--report", blocker], "--report")):
        r = run("evaluate", demo_subset, "--embedder", "mfcc", "--cv", "3", "--cache-dir", cache, *args)
        assert r.exit_code == 1 and "Traceback" not in r.output and r.output.startswith(f"error: {option}"), r.output
        assert len(r.output.strip().splitlines()) == 1
    r = run("train", demo_subset, "--embedder", "mfcc", "--out", blocker / "m.earmark", "--cache-dir", cache)
    assert r.exit_code == 1 and r.output.startswith("error: --out")
    assert not cache.exists()  # refused before any embedding


# 7 -----------------------------------------------------------------------------------------
def test_digital_silence_is_reported_not_labelled(model_file, demo_subset, cache_dir, tmp_path):
    silent = tmp_path / "silence.wav"
    sf.write(silent, np.zeros(44100 * 3, np.float32), 44100)
    r = run("predict", model_file, silent, "--format", "json", "--cache-dir", cache_dir)
    assert r.exit_code == 0 and json.loads(r.stdout)[0] == {"file": str(silent), "label": "(silent)", "score": None, "silent": True, "next": []}
    shutil.copy(silent, demo_subset / "silence.wav")
    with open(demo_subset / "metadata.csv", "a") as f:
        f.write("silence.wav,dog\n")
    m = earmark.train(demo_subset, embedder="mfcc", cache_dir=cache_dir)
    assert m.info["data"]["n_files"] == 9 and any("silent" in s["reason"] for s in m.info["skipped"])
    # a short, quiet but real sound (0.3 s at -55 dBFS RMS) is not silence, although zero-padding it to the
    # 1 s mfcc window puts that window at -60.2 dBFS, under the gate
    t = np.arange(int(0.3 * 22050)) / 22050
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, (10 ** (-55 / 20) * np.sqrt(2) * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050, subtype="FLOAT")
    (p,) = Model.load(model_file).predict(quiet)
    assert not p.silent and p.label in ("dog", "rain", "rooster")


# 8 -----------------------------------------------------------------------------------------
def _edit(path, fn):
    with zipfile.ZipFile(path) as z:
        items = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(items["earmark.json"])
    fn(meta, items)
    items["earmark.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, d in items.items():
            z.writestr(n, d)


@pytest.mark.parametrize("edit, message", [
    (lambda m, i: m.update(format_version="2"), "'format_version' is '2', not a format number"),
    (lambda m, i: m.update(classes="dog"), "'classes' is 'dog'"),
    (lambda m, i: m["model"].update(params=[1]), "'model.params' is"),
    (lambda m, i: m.update(gate_db="loud"), "'gate_db' is 'loud'"),
    (lambda m, i: m.pop("front_end"), "'front_end' is None"),
    (lambda m, i: m["parts"].pop("fitted"), "a 'fitted' part"),
])
def test_hand_edited_descriptions_are_refused_in_one_line(model_file, edit, message):
    _edit(model_file, edit)
    with pytest.raises(ModelFileError, match=message.replace("(", r"\(").replace("[", r"\[")):
        Model.load(model_file)


def test_a_trusted_but_wrong_head_object_is_refused(knn_model_file):
    model_file = knn_model_file
    import hashlib

    import skops.io as sio
    from sklearn.preprocessing import StandardScaler

    blob = sio.dumps(StandardScaler())

    def swap(meta, items):
        items["parts/head.skops"] = blob
        meta["parts"]["head"]["sha256"] = hashlib.sha256(blob).hexdigest()

    _edit(model_file, swap)
    with pytest.raises(ModelFileError, match="not a fitted scikit-learn pipeline"):
        Model.load(model_file)


def test_format_1_files_still_load_and_odd_ones_are_refused(demo_subset, tmp_path):
    from tests.conftest import REPO

    v1 = REPO / "tests" / "fixtures" / "v1-mfcc-logreg.earmark"
    m = Model.load(v1)
    files = [demo_subset / n for n in ("1-100032-A-0.flac", "1-110389-A-0.flac", "1-17367-A-10.flac", "1-21189-A-10.flac",
                                        "1-26806-A-1.flac", "1-27724-A-1.flac")]
    np.testing.assert_allclose(m.predict_proba(files), np.load(REPO / "tests" / "fixtures" / "v1-mfcc-logreg.proba.npy"), atol=1e-6)
    odd = tmp_path / "odd.earmark"
    shutil.copy(v1, odd)
    _edit(odd, lambda meta, items: meta.update(n_features="forty"))
    with pytest.raises(ModelFileError, match="feature_shape"):
        Model.load(odd)


# 9 -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, option", [
    (["listen", "--input", "-", "--rate", "0"], "'--rate'"),
    (["listen", "--input", "-", "--rate", "-8000"], "'--rate'"),
    (["listen", "--input", "-", "--hop-s", "0.00000001"], "'--hop-s'"),
    (["listen", "--input", "-", "--threshold", "1.5"], "'--threshold'"),
    (["listen", "--input", "-", "--threshold", "0"], "'--threshold'"),
    (["detect", "REC", "--threshold", "-1"], "'--threshold'"),
    (["detect", "REC", "--hop-s", "0"], "'--hop-s'"),
])
def test_every_stream_and_detect_option_is_validated(model_file, demo_subset, tmp_path, args, option):
    rec = sorted(demo_subset.glob("*.flac"))[0]
    args = [str(rec) if a == "REC" else a for a in args]
    r = run(args[0], model_file, *args[1:], "--out", tmp_path / "ev") if args[0] == "detect" else run(args[0], model_file, *args[1:], input=b"")
    assert r.exit_code == 1 and f"The {option} option must be" in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert not (tmp_path / "ev").exists() or not list((tmp_path / "ev").iterdir())


# 10 ----------------------------------------------------------------------------------------
def test_top_k_beyond_the_classes_keeps_the_csv_rectangular(model_file, demo_subset):
    r = run("predict", model_file, sorted(demo_subset.glob("*.flac"))[0], "--format", "csv", "--top-k", "7")
    assert r.exit_code == 0, r.output
    header, row = list(csv.reader(r.output.strip().splitlines()))
    assert header == ["file", "label", "score", "label_2", "score_2", "label_3", "score_3"] and len(row) == len(header)


# 11 ----------------------------------------------------------------------------------------
def test_outputs_honour_the_umask(model_file, demo_subset, tmp_path):
    old = os.umask(0o022)
    try:
        m = Model.load(model_file)
        path = m.save(tmp_path / "u.earmark")
        assert path.stat().st_mode & 0o777 == 0o644
        r = run("detect", model_file, sorted(demo_subset.glob("*.flac"))[0], "--out", tmp_path / "ev")
        assert r.exit_code == 0 and all(p.stat().st_mode & 0o777 == 0o644 for p in (tmp_path / "ev").iterdir())
    finally:
        os.umask(old)


# 12 ----------------------------------------------------------------------------------------
def test_temporaries_of_a_killed_process_are_cleaned_up(model_file, tmp_path):
    stale = tmp_path / ".u.earmark.abc123.tmp"
    stale.write_bytes(b"half a model")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh = tmp_path / ".u.earmark.new999.tmp"  # written after this process started: another writer's, left alone
    fresh.write_bytes(b"in progress")
    Model.load(model_file).save(tmp_path / "u.earmark")
    assert not stale.exists() and fresh.exists()


# 13 ----------------------------------------------------------------------------------------
def test_model_predict_accepts_one_path(model_file, demo_subset):
    clip = sorted(demo_subset.glob("*.flac"))[0]
    m = Model.load(model_file)
    (one,) = m.predict(str(clip))
    assert one.path == clip and one.label in m.classes


def test_unknown_classifier_params_fail_before_any_embedding(demo_subset, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(ParameterError, match="'bogus'.*LogisticRegression"):
        earmark.train(demo_subset, embedder="mfcc", classifier_params={"bogus": 1}, cache_dir=cache)
    assert not cache.exists()


def test_paths_outside_the_dataset_are_flagged_and_refused_when_strict(demo_subset, cache_dir, tmp_path):
    outside = tmp_path / "elsewhere.flac"
    shutil.copy(sorted(demo_subset.glob("*.flac"))[0], outside)
    rows = _rows(demo_subset)
    _write_rows(demo_subset, rows[1:], extra=[["../elsewhere.flac", rows[0]["label"]]])
    r = run("evaluate", demo_subset, "--embedder", "mfcc", "--cv", "2", "--cache-dir", cache_dir)
    assert r.exit_code == 0 and r.stderr.count("point outside") == 1
    r = run("evaluate", demo_subset, "--embedder", "mfcc", "--cv", "2", "--strict-paths", "--cache-dir", cache_dir)
    assert r.exit_code == 1 and "'../elsewhere.flac' points outside" in r.output


def test_symlink_loops_in_class_folders_are_reported(demo_subset, cache_dir, tmp_path):
    root = tmp_path / "classes"
    clips = sorted(demo_subset.glob("*.flac"))
    for i, label in enumerate(("a", "b")):
        (root / label).mkdir(parents=True)
        shutil.copy(clips[2 * i], root / label / "x.flac")
        shutil.copy(clips[2 * i + 1], root / label / "y.flac")
    (root / "a" / "loop.flac").symlink_to(root / "a" / "loop.flac")
    r = earmark.evaluate(root, embedder="mfcc", cv=2, cache_dir=cache_dir)
    assert r["n_files"] == 4 and [s["file"].rsplit("/", 1)[-1] for s in r["skipped"]] == ["loop.flac"]


# rough edges -------------------------------------------------------------------------------
def test_train_on_a_subset_of_folds_and_cv_with_folds_is_refused(demo_subset, cache_dir, tmp_path):
    rows = _rows(demo_subset)
    with open(demo_subset / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "label", "fold"])
        for i, r in enumerate(rows):
            w.writerow([r["filename"], r["label"], str(i % 3 + 1)])
    r = run("train", demo_subset, "--out", tmp_path / "m.earmark", "--embedder", "mfcc", "--folds", "fold", "--exclude-fold", "1",
            "--cache-dir", cache_dir)
    assert r.exit_code == 0 and "6 clips, folds 2, 3" in r.output, r.output
    r = run("train", demo_subset, "--out", tmp_path / "m.earmark", "--embedder", "mfcc", "--folds", "fold", "--train-folds", "9")
    assert r.exit_code == 1 and "The '--train-folds' option names folds ['9']" in r.output
    r = run("evaluate", demo_subset, "--embedder", "mfcc", "--folds", "fold", "--cv", "10")
    assert r.exit_code == 1 and "The '--cv' option (10) draws its own test folds and would ignore the '--folds' option (fold)" in r.output
    r = run("evaluate", demo_subset, "--embedder", "mfcc", "--folds", "fold", "--test-fold", "7", "--cache-dir", cache_dir)
    assert r.exit_code == 1 and "The '--test-fold' option names folds ['7']" in r.output


def test_help_shows_flags_as_flags_and_arguments_plainly():
    r = run("train", "--help")
    assert "train [OPTIONS] DATA\n" in r.output
    assert "<bool>" not in r.output and "--no-cache " in r.output


def test_progress_lines_off_a_terminal_unless_quiet(demo_subset, monkeypatch):
    import earmark.progress

    monkeypatch.setattr(earmark.progress, "EVERY_S", 0.0)
    r = run("evaluate", demo_subset, "--embedder", "mfcc", "--cv", "3", "--no-cache")
    assert r.exit_code == 0 and "embedding (mfcc): 9/9" in r.stderr
    r = run("evaluate", demo_subset, "--embedder", "mfcc", "--cv", "3", "--no-cache", "--quiet")
    assert r.exit_code == 0 and "embedding (mfcc)" not in r.stderr


def test_detect_is_exclusive_by_default_and_writes_to_the_working_directory(model_file, demo_subset, tmp_path, monkeypatch):
    clips = sorted(demo_subset.glob("*.flac"))
    y = np.concatenate([earmark.audio.load(c, sr=22050)[0] for c in clips])
    rec = tmp_path / "long.wav"
    sf.write(rec, y, 22050)
    monkeypatch.chdir(tmp_path)
    r = run("detect", model_file, rec, "--threshold", "0.3")
    assert r.exit_code == 0 and f"to {tmp_path / 'earmark-events'}" in r.output.replace("\n", "")
    events = sorted((float(e["start_s"]), float(e["end_s"])) for e in csv.DictReader(open(tmp_path / "earmark-events" / "long.events.csv")))
    assert events and all(a[1] <= b[0] + 1e-9 for a, b in zip(events, events[1:]))


def test_birdnet_runs_quietly(demo_subset, cache_dir, tmp_path):
    import subprocess
    import sys

    from tests.conftest import available

    available("birdnet")
    code = "import numpy as np; from earmark.embeddings import get_embedder; get_embedder('birdnet').embed(np.zeros(48000 * 4, np.float32), sr=48000)"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "XNNPACK" not in p.stderr and "INFO" not in p.stderr, p.stderr



@pytest.mark.parametrize("module, extra, argv", [
    ("pyarrow", "explore", ["index", "STORE_PARENT/s", "--store", "STORE_PARENT/store"]),
    ("distributed", "dask", ["index", "STORE_PARENT/s", "--store", "STORE_PARENT/store", "--workers", "2"]),
])
def test_a_missing_extra_is_named_with_its_install_command(monkeypatch, tmp_path, module, extra, argv):
    (tmp_path / "s").mkdir()
    shutil.copy(sorted((DEMO / "train").glob("*.flac"))[0], tmp_path / "s")
    monkeypatch.setitem(__import__("sys").modules, module, None)  # as if the extra were not installed
    r = CliRunner().invoke(app, [a.replace("STORE_PARENT", str(tmp_path)) for a in argv])
    assert r.exit_code == 1
    line = r.output.strip().splitlines()[-1]
    assert f"pip install 'earmark[{extra}]'" in line and len(r.output.strip().splitlines()) == 1


def test_version_is_the_packages_one():
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == f"earmark {earmark.__version__}"
    import importlib.metadata

    assert importlib.metadata.version("earmark") == earmark.__version__
