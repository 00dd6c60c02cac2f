"""earmark index on a Dask cluster (issue 14): a local cluster on 127.0.0.1, the same store as one process, faults.

Every cluster here is local (127.0.0.1) and has two worker processes; every wait is bounded. The tests that are
about starting, losing or resuming a cluster start their own (``workers=2``, as ``--workers 2`` does); the others
share one module-wide cluster and reach it by its address (``scheduler=``, as ``--scheduler`` does), so both ways
in are exercised and the suite pays for a cluster's start once instead of a dozen times.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import DEMO
from earmark import api
from earmark.errors import ParameterError
from earmark.explore.store import Store
from earmark.inference.detect import DetectionSettings

pytest.importorskip("distributed")


def _rows(store: Path):
    """The store's rows in a fixed order: (file, start_s) pairs and their embeddings."""
    st = Store.open(store)
    t = st.table(("file", "start_s", "level_db"))
    order = np.lexsort((t["start_s"], t["file"]))
    return [(str(f), round(float(s), 4)) for f, s in zip(t["file"][order], t["start_s"][order])], st.vectors()[order]


@pytest.fixture(scope="module")
def collection(tmp_path_factory) -> Path:
    """The demo's 80 training clips, a copy of one under another name, and a corrupt file."""
    root = tmp_path_factory.mktemp("scale") / "recordings"
    shutil.copytree(DEMO / "train", root)
    (root / "metadata.csv").unlink()
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    shutil.copy(sorted(root.glob("*.flac"))[0], root / "twin.flac")  # the same bytes twice in one run: embedded once
    return root


@pytest.fixture(scope="module")
def single(collection, tmp_path_factory) -> tuple[Path, object]:
    """The same collection indexed by aisfx in one process: the reference."""
    store = tmp_path_factory.mktemp("single") / "store"
    return store, api.index(collection, store, embedder="aisfx")


def test_a_local_cluster_makes_the_same_store_and_reports_the_corrupt_file(collection, single, tmp_path):
    store, report = single
    r = api.index(collection, tmp_path / "store", embedder="aisfx", workers=2)
    assert len(r.added) == 80 and r.windows == report.windows
    assert [Path(c).name for c in r.copied] == [Path(c).name for c in report.copied] == ["twin.flac"]
    assert [s["file"] for s in r.skipped] == [str(collection / "broken.wav")] == [s["file"] for s in report.skipped]
    keys, vectors = _rows(tmp_path / "store")
    ref_keys, ref_vectors = _rows(store)
    assert keys == ref_keys and len(set(keys)) == len(keys)  # the same rows, none twice
    np.testing.assert_allclose(vectors, ref_vectors, rtol=0, atol=1e-5)
    again = api.index(collection, tmp_path / "store", embedder="aisfx", workers=2)  # a rerun finds nothing to do
    assert again.unchanged == 81 and not again.added and again.windows == 0


def test_a_worker_killed_mid_run_is_replaced_and_its_files_redone(collection, single, tmp_path):
    from earmark.scale import dask_client

    ref_keys, _ = _rows(single[0])
    st = Store.create(tmp_path / "store", Store.open(single[0]).front_end)
    files = sorted(collection.glob("*.*"))
    result = {}
    with dask_client(workers=2) as client:
        pids = client.run(os.getpid)  # worker address -> process id
        from earmark.threads import process_cores

        shares = set(client.run(lambda: os.environ.get("EARMARK_THREADS")).values())
        assert shares == {str(max(1, process_cores() // 2))}  # the cores shared out: 1 each on a 2-core machine
        run = threading.Thread(target=lambda: result.update(report=st.add(files, client=client)))
        run.start()
        deadline = time.monotonic() + 120
        while len(st.shards()) < 5 and run.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run.is_alive(), "the run ended before a worker could be killed"
        os.kill(next(iter(pids.values())), signal.SIGKILL)  # one worker dies mid-run; its nanny starts another
        run.join(180)
        assert not run.is_alive()
        assert len(client.run(os.getpid)) == 2  # replaced
    report = result["report"]
    assert len(report.added) == 80 and [s["file"] for s in report.skipped] == [str(collection / "broken.wav")]
    keys, _ = _rows(tmp_path / "store")
    assert keys == ref_keys  # nothing missing, nothing twice


def test_a_run_killed_half_way_is_resumed_by_the_next(collection, single, tmp_path):
    ref_keys, _ = _rows(single[0])
    store = tmp_path / "store"
    cmd = [sys.executable, "-c", "from earmark.cli import main; main()", "index", str(collection), "--store", str(store),
           "--embedder", "aisfx", "--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            shards = sorted((store / "shards").glob("*.parquet")) if (store / "shards").is_dir() else []
            if shards:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole run, cluster included, at once
        proc.wait(30)
    done_first = {k[0] for k in _rows(store)[0]}
    assert 0 < len(done_first) < 80
    r = api.index(collection, store, embedder="aisfx", workers=2)  # the stale lock is taken over; only the rest is embedded
    assert r.unchanged + len(r.added) + len(r.copied) == 81 and r.unchanged == len(done_first)
    keys, _ = _rows(store)
    assert keys == ref_keys


def test_cluster_options_are_checked_before_anything_starts(collection, tmp_path):
    with pytest.raises(ParameterError, match="--workers and --scheduler"):
        api.index(collection, tmp_path / "s", embedder="mfcc", workers=2, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ParameterError, match="--workers 0"):
        api.index(collection, tmp_path / "s", embedder="mfcc", workers=0)
    with pytest.raises(ParameterError, match="--scheduler 127.0.0.1:1: give the scheduler's address"):
        api.index(collection, tmp_path / "s", embedder="mfcc", scheduler="127.0.0.1:1")
    with pytest.raises(ParameterError, match="cannot be reached"):
        from earmark.scale import dask_client

        with dask_client(scheduler="tcp://127.0.0.1:9", timeout_s=2):
            pass


@pytest.fixture(scope="module")
def address():
    """The scheduler address of a local cluster shared by this module's tests (stopped after them), started as
    ``--workers 2`` starts one: two processes on 127.0.0.1, the cores shared out."""
    from earmark.scale import dask_client

    with dask_client(workers=2) as client:
        yield client.scheduler.address


@pytest.fixture(scope="module")
def mfcc_model(tmp_path_factory) -> Path:
    import earmark
    from conftest import make_demo_subset

    root = tmp_path_factory.mktemp("scale-model")
    return earmark.train(make_demo_subset(root / "demo", per_class=4), embedder="mfcc", classifier="logreg").save(root / "m.earmark")


def test_detect_on_a_cluster_writes_the_same_events_and_a_rerun_does_only_what_is_missing(mfcc_model, address, tmp_path):
    import soundfile as sf

    clips = sorted((DEMO / "train").glob("*.flac"))
    recs = tmp_path / "recordings"
    recs.mkdir()
    for i in range(4):  # 4 recordings of 40 s: 8 clips each, with silence between some
        parts = []
        for j, c in enumerate(clips[i * 8 : i * 8 + 8]):
            y, sr = sf.read(c, dtype="float32")
            parts += [y, np.zeros(sr * (j % 2), np.float32)]
        sf.write(recs / f"field-{i}.flac", np.concatenate(parts), sr)
    (recs / "broken.flac").write_bytes(b"fLaC" + b"\0" * 100)
    one = api.detect(mfcc_model, recs, out_dir=tmp_path / "one")
    many = api.detect(mfcc_model, recs, out_dir=tmp_path / "many", scheduler=address)
    assert len(many.records) == len(one.records) == 4 and sum(len(r["events"]) for r in many.records) > 4
    assert [s["file"] for s in many.skipped] == [s["file"] for s in one.skipped] == [str(recs / "broken.flac")]
    for r in one.records:  # the same event files, byte for byte
        name = Path(r["written_to"]).name
        assert (tmp_path / "many" / name).read_bytes() == Path(r["written_to"]).read_bytes(), name
    again = api.detect(mfcc_model, recs, out_dir=tmp_path / "many", scheduler=address)
    assert len(again.resumed) == 4 and again.records == []  # all done: nothing run again
    # an interrupted run: one recording's output and record are missing -> only it runs
    manifest = tmp_path / "many" / ".earmark-done.jsonl"
    lines = manifest.read_text().splitlines()
    gone = json.loads(lines[-1])
    manifest.write_text("\n".join(lines[:-1]) + "\n")
    Path(gone["output"]).unlink()
    third = api.detect(mfcc_model, recs, out_dir=tmp_path / "many", scheduler=address)
    assert [r["recording"] for r in third.records] == [gone["recording"]] and len(third.resumed) == 3
    assert Path(gone["output"]).read_bytes() == (tmp_path / "one" / Path(gone["output"]).name).read_bytes()
    other = api.detect(mfcc_model, recs, out_dir=tmp_path / "many", scheduler=address, settings=DetectionSettings(threshold=0.8))
    assert len(other.records) == 4 and not other.resumed  # other settings: another run


def test_long_recordings_go_out_in_stretches_with_the_results_of_one_pass(mfcc_model, address, tmp_path, caplog):
    import logging

    import soundfile as sf

    clips = sorted((DEMO / "train").glob("*.flac"))
    recs = tmp_path / "recordings"
    recs.mkdir()
    for i in range(2):  # 2 recordings of 80 s, 16 clips each: 5 stretches of 15 s each on the cluster
        sf.write(recs / f"field-{i}.flac", np.concatenate([sf.read(c, dtype="float32")[0] for c in clips[i * 16 : i * 16 + 16]]), 44100)
    with caplog.at_level(logging.INFO, logger="earmark.embeddings.spans"):
        many = api.index(recs, tmp_path / "many", embedder="aisfx", scheduler=address, stretch_s=15)
    assert caplog.text.count("stretches of about 15 s") == 2
    one = api.index(recs, tmp_path / "one", embedder="aisfx")
    assert len(many.added) == len(one.added) == 2
    rows_many, vecs_many = _rows(tmp_path / "many")
    rows_one, vecs_one = _rows(tmp_path / "one")
    assert rows_many == rows_one and len(rows_one) == 2 * 67  # 80 s: 67 windows of 2.32 s every 1.16 s
    assert np.abs(vecs_many - vecs_one).max() <= 1e-5  # aisfx runs at the file's 44.1 kHz: stretches are the same samples

    def events(batch):
        return sorted((Path(r["recording"]).name, round(e.start_s, 3), round(e.end_s, 3), e.label) for r in batch.records for e in r["events"])

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="earmark.embeddings.spans"):
        cut = api.detect(mfcc_model, recs, out_dir=tmp_path / "cut", scheduler=address, stretch_s=15)
    assert caplog.text.count("stretches of about 15 s") == 2  # mfcc resamples to 22.05 kHz: scores equal to rounding
    whole = api.detect(mfcc_model, recs, out_dir=tmp_path / "whole")
    assert events(cut) == events(whole) and len(events(whole)) > 4
    many = api.predict(mfcc_model, recs, scheduler=address, stretch_s=15, out=tmp_path / "p.csv")
    one = api.predict(mfcc_model, recs)
    by_file = {str(p.path): p for p in one.records}
    for p in many.records:
        assert p.labels == by_file[str(p.path)].labels and p.n_windows == by_file[str(p.path)].n_windows
        np.testing.assert_allclose(p.scores, by_file[str(p.path)].scores, atol=1e-5)


def test_predict_on_a_cluster_appends_rows_as_files_finish_and_never_twice(mfcc_model, collection, address, tmp_path):
    import csv

    from typer.testing import CliRunner

    from earmark.cli import app

    out = tmp_path / "preds.csv"
    r = CliRunner().invoke(app, ["predict", str(mfcc_model), str(collection), "--format", "csv", "--out", str(out), "--scheduler", address,
                                 "-k", "1", "-q"])
    assert r.exit_code == 1 and "broken.wav" in r.output  # the corrupt file is reported, the rest done
    rows = list(csv.reader(open(out)))
    r1 = CliRunner().invoke(app, ["predict", str(mfcc_model), str(collection), "--format", "csv", "--out", str(tmp_path / "one.csv"),
                                  "-k", "1", "-q"])
    assert r1.exit_code == 1 and "broken.wav" in r1.output
    ref = list(csv.reader(open(tmp_path / "one.csv")))
    assert rows[0] == ref[0] == ["file", "label", "score", "label_2", "score_2"]
    assert sorted(rows[1:]) == sorted(ref[1:]) and len(rows) == 82  # 81 readable files, the same rows as one process
    r = CliRunner().invoke(app, ["predict", str(mfcc_model), str(collection), "--format", "csv", "--out", str(out), "--scheduler", address,
                                 "-k", "1", "-q"])
    assert "0 file(s) classified, 81 done before" in r.output
    assert list(csv.reader(open(out))) == rows  # a rerun appends nothing: every file is done


def test_a_predict_on_a_cluster_needs_an_out_file(mfcc_model, collection, tmp_path):
    with pytest.raises(ParameterError, match="give --out FILE"):
        api.predict(mfcc_model, collection, workers=2)


def test_cluster_progress_says_files_hours_speed_and_failures(capsys):
    from earmark.scale import Tally

    t = Tally(3, what="detecting on the cluster", enabled=True, every_s=0.0)
    t.add(audio_s=1800.0)  # a line as it goes (every_s=0: after each file but the last)
    t.add(failed=True)
    t.add(audio_s=1800.0)
    line = t.finish()
    assert line.startswith("detecting on the cluster: 3/3 files, 1.00 h of audio in ") and line.endswith("x realtime), 1 failed")
    assert capsys.readouterr().err.count("detecting on the cluster:") == 3

    class Done:  # a finished stretch task: dask calls a done-callback at once when the future is already done
        def add_done_callback(self, fn):
            fn(self)

    long = Tally(1, what="indexing", enabled=True, every_s=0.0)
    long.expect_parts([Done(), Done()])  # one long recording: it says how far its stretches are before it is done
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("0/1 files, 0.00 h of audio in 0 s, 0 failed, 2/2 stretches of long recordings")


def test_earmark_threads_sets_the_cores_a_process_uses(monkeypatch):
    from earmark.threads import process_cores

    monkeypatch.setenv("EARMARK_THREADS", "1")
    assert process_cores() == 1
    monkeypatch.setenv("EARMARK_THREADS", "junk")  # not a number: all the process may use
    assert process_cores() == len(os.sched_getaffinity(0))


def test_int8_on_a_cluster_is_calibrated_on_the_recordings_given_and_caches_where_told(collection, address, tmp_path):
    """Issue 27's defect: the cluster path dropped --calibration-data (each worker calibrated on the model's training
    folder instead) and the cache settings."""
    import earmark
    from conftest import make_demo_subset

    model = earmark.train(make_demo_subset(tmp_path / "demo", per_class=3), embedder="aisfx", classifier="logreg",
                          use_cache=False).save(tmp_path / "a.earmark")
    recs = sorted(collection.glob("*.flac"))[:4]
    quiet = tmp_path / "quiet"  # a calibration set unlike the training clips: the same clips 30 dB down
    quiet.mkdir()
    import soundfile as sf

    for f in recs[:2]:
        y, sr = sf.read(f, dtype="float32")
        sf.write(quiet / f.name, 0.03 * y, sr)

    def scores(batch):
        return {str(p.path): np.asarray(p.scores, float) for p in batch.records}

    local = scores(api.predict(model, recs, backend="onnx-int8", calibration=quiet, use_cache=False))
    default = scores(api.predict(model, recs, backend="onnx-int8", use_cache=False))
    cluster = scores(api.predict(model, recs, backend="onnx-int8", calibration=quiet, scheduler=address, out=tmp_path / "p.csv",
                                 cache_dir=tmp_path / "cache"))
    assert cluster.keys() == local.keys() == default.keys()
    for f in local:
        np.testing.assert_allclose(cluster[f], local[f], atol=1e-6)
    assert max(np.abs(local[f] - default[f]).max() for f in local) > 1e-4  # the calibration set matters, so the test can fail
    assert len(list((tmp_path / "cache").rglob("*.npz"))) == len(recs)  # the workers embedded through the cache given
    with pytest.raises(ParameterError, match="--calibration-data .*nowhere"):  # checked before a cluster starts
        api.predict(model, recs, backend="onnx-int8", calibration=tmp_path / "nowhere", scheduler=address, out=tmp_path / "q.csv")


def test_a_cluster_run_keeps_a_bounded_number_of_files_in_flight(address):
    """Issue 27: every file used to be submitted at once (a million futures on the scheduler); now at most
    ``max_in_flight`` are out, one more going in as each comes back, and every result still arrives."""
    from earmark.scale import dask_client, in_flight_limit, map_unordered

    with dask_client(scheduler=address) as client:
        submitted, seen, most = [0], [0], [0]
        submit = client.submit

        def counting_submit(*args, **kwargs):
            submitted[0] += 1
            most[0] = max(most[0], submitted[0] - seen[0])
            return submit(*args, **kwargs)

        client.submit = counting_submit
        results = {}
        for item, result in map_unordered(client, pow, [(i, 2) for i in range(40)], max_in_flight=3):
            seen[0] += 1
            results[item[0]] = result
        assert results == {i: i * i for i in range(40)} and submitted[0] == 40
        assert most[0] == 3
        assert in_flight_limit(client) == max(8, 4 * sum(client.nthreads().values()))
