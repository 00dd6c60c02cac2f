"""The embedding store, index and search (issue 12) on real demo clips (ESC-10 recordings)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import earmark
from earmark import api
from earmark.cli import app
from earmark.explore.search import AnnIndex, approximate_search, exact_search, parse_like, query_vectors
from earmark.explore.store import Store, StoreError, StoreLock


def _files(folder):
    return sorted(folder.glob("*.flac"))


def _keys(store):
    t = store.table()
    return list(zip(t["file"].tolist(), np.round(t["start_s"], 4).tolist()))


def test_index_then_add_embeds_only_new_files(demo_subset, tmp_path):
    files = _files(demo_subset)
    first = tmp_path / "first"
    first.mkdir()
    for f in files[:6]:
        shutil.copy(f, first / f.name)
    store = tmp_path / "store"
    r1 = api.index(first, store, embedder="mfcc")
    assert len(r1.added) == 6 and r1.unchanged == 0 and r1.windows > 6
    for f in files[6:]:
        shutil.copy(f, first / f.name)
    r2 = api.index(first, store)
    assert sorted(map(os.path.basename, r2.added)) == sorted(f.name for f in files[6:]) and r2.unchanged == 6
    st = Store.open(store)
    keys = _keys(st)
    assert len(keys) == len(set(keys)) == r1.windows + r2.windows
    assert len(st.files()) == 9 and len(st.shards()) == 2
    r3 = api.index(first, store)  # nothing new: nothing embedded, nothing written
    assert r3.added == [] and r3.unchanged == 9 and len(Store.open(store).shards()) == 2


def test_a_changed_file_replaces_its_windows_and_a_copy_reuses_them(demo_subset, tmp_path):
    folder = tmp_path / "rec"
    shutil.copytree(demo_subset, folder)
    store = tmp_path / "store"
    api.index(folder, store, embedder="mfcc")
    before = Store.open(store).table()
    victim, donor = _files(folder)[0], _files(folder)[-1]
    shutil.copy(donor, victim)  # the file now holds other audio
    r = api.index(folder, store)
    assert r.copied == [str(victim)] or r.changed == [str(victim)]
    after = Store.open(store).table()
    assert len(after["file"]) == len(before["file"]) - int((before["file"] == str(victim.resolve())).sum()) \
        + int((before["file"] == str(donor.resolve())).sum())
    st = Store.open(store)
    a = st.vectors()[after["file"] == str(victim.resolve())]
    b = st.vectors()[after["file"] == str(donor.resolve())]
    np.testing.assert_array_equal(a, b)  # same bytes, same embeddings (copied, not recomputed)


def test_an_interrupted_index_resumes_without_duplicates(demo_subset, tmp_path, monkeypatch):
    from earmark.embeddings.mfcc import MfccEmbedder

    whole = tmp_path / "whole"
    api.index(demo_subset, whole, embedder="mfcc")
    expected = sorted(_keys(Store.open(whole)))

    calls = {"n": 0}
    real = MfccEmbedder.embed_file

    def dies_on_the_fifth(self, path):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the fifth file
        return real(self, path)

    monkeypatch.setattr(MfccEmbedder, "embed_file", dies_on_the_fifth)
    store = tmp_path / "store"
    with pytest.raises(KeyboardInterrupt):
        api.index(demo_subset, store, embedder="mfcc", shard_windows=1)  # one shard per file
    st = Store.open(store)
    assert len(st.files()) == 4 and not (store / ".lock").exists()
    assert not list((store / "shards").glob(".*.tmp"))  # nothing half-written
    monkeypatch.setattr(MfccEmbedder, "embed_file", real)
    r = api.index(demo_subset, store)
    assert r.unchanged == 4 and len(r.added) == 5
    assert sorted(_keys(Store.open(store))) == expected


def test_search_finds_the_query_itself_first(demo_subset, tmp_path):
    store = tmp_path / "store"
    api.index(demo_subset, store, embedder="mfcc")
    st = Store.open(store)
    for f in _files(demo_subset)[:3]:
        hits = exact_search(st, query_vectors(st, str(f)), 5)
        assert hits[0].file == str(f.resolve())
        t = st.table()
        mine = np.flatnonzero(t["file"] == str(f.resolve()))
        loudest = mine[np.argmax(t["level_db"][mine])]
        a, b = t["start_s"][loudest], t["end_s"][loudest]
        one = exact_search(st, query_vectors(st, f"{f}@{a}-{b}"), 3)  # exactly the file's loudest stored window
        assert (one[0].file, one[0].start_s) == (str(f.resolve()), a)
        assert one[0].distance < 0.01  # the same audio, cut from the file on its own
        assert [h.distance for h in one] == sorted(h.distance for h in one)


def test_approximate_search_agrees_with_exact(demo_subset, tmp_path):
    store = tmp_path / "store"
    api.index(demo_subset, store, embedder="mfcc", hop_s=0.25)
    st = Store.open(store)
    vectors = st.vectors()[st.table()["level_db"] >= -60]  # digital silence (padded clips) embeds alike: ties, not misses
    recall = []
    for i in np.random.default_rng(0).choice(len(vectors), 30, replace=False):  # stored windows as queries
        exact = {(h.file, h.start_s) for h in exact_search(st, vectors[i], 10)}
        approx = {(h.file, h.start_s) for h in approximate_search(st, vectors[i], 10)}
        recall.append(len(exact & approx) / len(exact))
    assert np.mean(recall) >= 0.95, recall
    assert (store / "ann" / "index.usearch").is_file()
    built = (store / "ann" / "index.usearch").stat().st_mtime_ns
    hits = api.search(store, like=str(_files(demo_subset)[0]), k=5, approximate=True)
    assert hits[0]["file"] == str(_files(demo_subset)[0].resolve())
    assert (store / "ann" / "index.usearch").stat().st_mtime_ns == built  # not rebuilt while the store is unchanged
    assert json.loads((store / "ann" / "ann.json").read_text()) == AnnIndex(st)._state(-60.0)


def test_a_store_refuses_another_front_end(demo_subset, tmp_path):
    store = tmp_path / "store"
    api.index(demo_subset, store, embedder="mfcc")
    with pytest.raises(StoreError, match=r"holds mfcc .* embeddings.*--embedder"):
        api.index(demo_subset, store, embedder="aisfx")
    model = earmark.train(demo_subset, embedder="aisfx", classifier="logreg", cache_dir=tmp_path / "cache")
    with pytest.raises(StoreError, match=r"holds mfcc .* embeddings.*--model"):
        api.search(store, model=model, label="dog")
    with pytest.raises(StoreError, match="no embedding store here"):
        api.search(tmp_path / "nowhere", like=str(_files(demo_subset)[0]))


def test_model_search_lists_the_class_windows_first(demo_subset, tmp_path):
    store = tmp_path / "store"
    api.index(demo_subset, store, embedder="mfcc", labels=demo_subset / "metadata.csv")
    model = earmark.train(demo_subset, embedder="mfcc", classifier="logreg", cache_dir=tmp_path / "cache")
    hits = api.search(store, model=model, label="rooster", k=5)
    assert [h["label"] for h in hits] == ["rooster"] * 5
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_a_second_writer_is_refused_and_a_dead_ones_lock_is_taken_over(demo_subset, tmp_path):
    store = tmp_path / "store"
    api.index(demo_subset, store, embedder="mfcc")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = store / ".lock"
        import socket

        lock.write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname(), "since": "now"}))
        with pytest.raises(StoreError, match=f"being written by process {sleeper.pid}"):
            api.index(demo_subset, store)
    finally:
        sleeper.kill()
        sleeper.wait()
    r = api.index(demo_subset, store)  # that process is gone: its lock is taken over
    assert r.unchanged == 9 and not (store / ".lock").exists()
    with StoreLock(store):
        with pytest.raises(StoreError, match="being written"):
            StoreLock(store).__enter__()


def test_like_specs_parse_and_bad_ones_say_how():
    assert parse_like("a.wav") == (parse_like("a.wav")[0], None, None)
    path, start, end = parse_like("dir/rec 1.flac@12.5-15")
    assert str(path) == "dir/rec 1.flac" and (start, end) == (12.5, 15.0)
    with pytest.raises(earmark.errors.ParameterError, match="END > START"):
        parse_like("a.wav@3-2")


def test_cli_index_and_search_with_a_playable_page(demo_subset, tmp_path):
    store = tmp_path / "store"
    r = CliRunner().invoke(app, ["index", str(demo_subset), "--store", str(store), "--embedder", "mfcc", "-q"])
    assert r.exit_code == 0, r.output
    assert "9 added" in r.output
    query = _files(demo_subset)[2]
    html = tmp_path / "hits.html"
    r = CliRunner().invoke(app, ["search", str(store), "--like", str(query), "-k", "4", "-f", "csv", "--html", str(html), "-q"])
    assert r.exit_code == 0, r.output
    lines = [line for line in r.output.strip().splitlines() if not line.startswith("wrote ")]  # the runner mixes in stderr
    assert lines[0] == "file,start_s,end_s,distance,label" and len(lines) == 1 + 4 and lines[1].startswith(str(query.resolve()))
    page = html.read_text()
    assert page.count("data:audio/wav;base64,") == 5  # the query and four hits, embedded
    bad = CliRunner().invoke(app, ["search", str(store), "--like", str(tmp_path / "missing.wav")])
    assert bad.exit_code == 1 and "missing.wav is not a file" in bad.output


@pytest.fixture
def labelled_store(tmp_path):
    """ESC-10's demo clips of three classes (9 recordings), indexed with their labels by mfcc."""
    from conftest import make_demo_subset

    data = make_demo_subset(tmp_path / "demo", per_class=3)
    store = tmp_path / "store"
    api.index(data, store, embedder="mfcc", labels=data / "metadata.csv")
    return data, store


def test_kmeans_clusters_every_loud_window_and_keeps_the_assignment(labelled_store, tmp_path):
    from earmark.explore.cluster import load_clusters

    data, _ = labelled_store
    store = tmp_path / "aisfx-store"  # mfcc's clusters of these 9 clips are hardly purer than one cluster
    api.index(data, store, embedder="aisfx", labels=data / "metadata.csv")
    out = tmp_path / "clusters.csv"
    r = api.cluster(store, method="kmeans", k=3, out=out)
    st = Store.open(store)
    t = st.table()
    loud = t["level_db"] >= -60
    assert sum(c["size"] for c in r["clusters"]) == r["n_windows"] == int(loud.sum())
    kept = load_clusters(st)
    assert set(kept[loud]) == {0, 1, 2} and (kept[~loud] == -2).all()
    lines = out.read_text().splitlines()
    assert lines[0] == "file,start_s,end_s,cluster,label" and len(lines) == 1 + int(loud.sum())
    # the clusters follow the sounds: purer than one cluster of everything (the largest class's share)
    purity = sum(max(c["labels"].values()) for c in r["clusters"]) / r["n_windows"]
    _, counts = np.unique(t["label"][loud], return_counts=True)
    assert purity > counts.max() / counts.sum() + 0.1
    for c in r["clusters"]:  # the typical windows belong to their cluster
        for e in c["examples"]:
            i = np.flatnonzero((t["file"] == e["file"]) & np.isclose(t["start_s"], e["start_s"]))[0]
            assert kept[i] == c["cluster"]


def test_hdbscan_runs_on_a_sample_and_assigns_the_rest(labelled_store):
    _, store = labelled_store
    r = api.cluster(store, method="hdbscan", min_cluster_size=5)
    assert r["n_windows"] == sum(c["size"] for c in r["clusters"]) + r["noise"]
    assert len(r["clusters"]) >= 2
    from earmark.explore.cluster import cluster_store

    sampled = cluster_store(Store.open(store), method="hdbscan", min_cluster_size=5, sample=20)
    assert (sampled.assignment >= -1).sum() == r["n_windows"]  # every loud window got a cluster (or noise), not just the 20


def test_label_picks_unlabelled_windows_and_training_from_the_filled_file_works(labelled_store, tmp_path):
    import csv

    data, store = labelled_store
    unlabelled = tmp_path / "more"
    unlabelled.mkdir()
    from conftest import make_demo_subset

    extra = make_demo_subset(tmp_path / "extra", per_class=5)  # the next two clips of each class, without labels
    for f in sorted(extra.glob("*.flac")):
        if not (data / f.name).exists():
            shutil.copy(f, unlabelled / f.name)
    api.index(unlabelled, store)
    model = earmark.train(data, embedder="mfcc", classifier="logreg", cache_dir=tmp_path / "cache")
    picked = tmp_path / "to_label.csv"
    rows = api.label(store, model, strategy="uncertain", n=8, out=picked)
    assert len(rows) == 8 and all(Path(r["file"]).parent == unlabelled.resolve() for r in rows)  # labelled windows are not picked
    scores = [r["score"] for r in rows]
    rnd = api.label(store, model, strategy="random", n=8)
    top = api.label(store, model, strategy="top", n=8, label="dog")
    assert len({(r["file"], r["start_s"]) for r in rnd}) == 8 and all(r["suggested"] == "dog" for r in top)
    assert np.mean(scores) < np.mean([r["score"] for r in top])  # the closest calls are less sure than the surest finds
    # the user fills in the labels (here: from the file names' ESC-50 class numbers), then trains from the store
    truth = {"0": "dog", "1": "rooster", "10": "rain"}
    filled = tmp_path / "labelled.csv"
    with open(picked) as f, open(filled, "w", newline="") as g:
        reader = csv.DictReader(f)
        w = csv.DictWriter(g, reader.fieldnames)
        w.writeheader()
        for r in reader:
            w.writerow({**r, "label": truth[Path(r["file"]).stem.split("-")[-1]]})
    r = CliRunner().invoke(app, ["train", "--from-store", str(store), "--labels", str(filled), "--out", str(tmp_path / "m.earmark"), "-q"])
    assert r.exit_code == 0, r.output
    m = earmark.Model.load(tmp_path / "m.earmark")
    assert m.front_end.name == "mfcc" and m.info["data"]["n_windows"] == 8 and set(m.classes) <= set(truth.values())
    preds = m.predict(sorted(data.glob("*.flac")))
    assert all(p.label in truth.values() for p in preds)
    # the next round leaves out what was labelled: the same strategy and model now pick 8 other windows
    r = CliRunner().invoke(app, ["label", str(store), "--model", str(tmp_path / "m.earmark"), "--strategy", "random", "-n", "200",
                                 "--exclude", str(filled), "--out", str(tmp_path / "next.csv"), "-q"])
    assert r.exit_code == 0, r.output
    again = {(r["file"], round(float(r["start_s"]), 3)) for r in csv.DictReader(open(tmp_path / "next.csv"))}
    done = {(r["file"], round(r["start_s"], 3)) for r in rows}
    assert again and not again & done
    everything = {(r["file"], round(r["start_s"], 3)) for r in api.label(store, m, strategy="random", n=200)}
    assert done <= everything and everything - done == again  # only the excluded windows are missing


def test_label_and_train_from_store_refuse_bad_input_clearly(labelled_store, tmp_path):
    _, store = labelled_store
    bad = tmp_path / "bad.csv"
    bad.write_text("file,start_s,end_s,label\nx.wav,one,2,dog\n")
    r = CliRunner().invoke(app, ["train", "--from-store", str(store), "--labels", str(bad), "--out", str(tmp_path / "m.earmark")])
    assert r.exit_code == 1 and "line 2" in r.output and "not numbers" in r.output
    empty = tmp_path / "empty.csv"
    empty.write_text("file,start_s,end_s,label\nx.wav,1,2,\n")
    r = CliRunner().invoke(app, ["train", "--from-store", str(store), "--labels", str(empty), "--out", str(tmp_path / "m.earmark")])
    assert r.exit_code == 1 and "fill in the label column" in r.output
    r = CliRunner().invoke(app, ["cluster", str(store), "--method", "kmeans"])
    assert r.exit_code == 1 and "-k N" in r.output


def test_an_int8_store_is_made_queried_and_kept_apart(demo_subset, tmp_path):
    store = tmp_path / "int8"
    r = CliRunner().invoke(app, ["index", str(demo_subset), "--store", str(store), "--backend", "onnx-int8", "-q"])
    assert r.exit_code == 0, r.output
    st = Store.open(store)
    assert st.meta["front_end"]["params"]["backend"] == "onnx-int8" and st.front_end.backend == "onnx-int8"
    query = _files(demo_subset)[4]
    assert api.search(store, like=str(query), k=1)[0]["file"] == str(query.resolve())  # queries embedded the store's way
    with pytest.raises(earmark.errors.ParameterError, match="int8 and float32 ones do not mix"):
        api.index(demo_subset, store, backend="onnx")
    fp32 = tmp_path / "fp32"
    api.index(demo_subset, fp32, backend="torch")
    with pytest.raises(earmark.errors.ParameterError, match="holds float32 aisfx embeddings"):
        api.index(demo_subset, fp32, backend="onnx-int8")
    assert api.index(demo_subset, fp32, backend="onnx").unchanged == 9  # torch and onnx float32 make the same embeddings


def test_audacity_label_files_round_trip_into_training(labelled_store, tmp_path):
    from earmark.data.labels import read_audacity, write_audacity

    data, store = labelled_store
    model = earmark.train(data, embedder="mfcc", classifier="logreg", cache_dir=tmp_path / "cache")
    api.index(data, tmp_path / "unlabelled", embedder="mfcc")  # the same clips, no labels: all may be picked
    folder = tmp_path / "to_label"
    r = CliRunner().invoke(app, ["label", str(tmp_path / "unlabelled"), "--model", str(tmp_path / "m0.earmark"), "--out", str(folder)])
    assert r.exit_code == 1 and "no such model file" in r.output  # (a missing model is named)
    rows = api.label(tmp_path / "unlabelled", model, strategy="random", n=12, out=folder, fmt="audacity")
    files = sorted(folder.glob("*.labels.txt"))
    assert files and sum(len(read_audacity(f)) for f in files) == 12
    truth = {"0": "dog", "1": "rooster", "10": "rain"}
    for f in files:  # the user corrects every suggestion to what they hear (here: the file name's class)
        events = read_audacity(f)
        cls = truth[f.name.removesuffix(".labels.txt").split("-")[-1]]
        write_audacity([type(e)(e.start_s, e.end_s, cls) for e in events], f)
    m = api.train_from_store(tmp_path / "unlabelled", folder)
    assert m.info["data"]["n_windows"] == len(rows) and m.info["skipped"] == []


def test_window_length_is_a_store_setting_for_front_ends_that_take_one(demo_subset, tmp_path):
    store = tmp_path / "store"
    r = CliRunner().invoke(app, ["index", str(demo_subset), "--store", str(store), "--embedder", "mfcc", "--window-s", "2.0",
                                 "--hop-s", "1.0", "-q"])
    assert r.exit_code == 0, r.output
    t = Store.open(store).table()
    assert Store.open(store).meta["window_s"] == 2.0 and np.allclose((t["end_s"] - t["start_s"])[t["start_s"] > 0], 2.0, atol=0.01)
    bad = CliRunner().invoke(app, ["index", str(demo_subset), "--store", str(store), "--window-s", "1.0"])
    assert bad.exit_code == 1 and "holds windows of 2 s" in bad.output
    fixed = CliRunner().invoke(app, ["index", str(demo_subset), "--store", str(tmp_path / "a"), "--window-s", "1.0"])
    assert fixed.exit_code == 1 and "aisfx's window is fixed at 2.32 s" in fixed.output


def test_finished_files_are_written_as_time_passes_and_merged_at_the_end(tmp_path):
    from conftest import make_demo_subset
    from earmark.explore.store import Store

    data = make_demo_subset(tmp_path / "demo", per_class=3)
    files = sorted(data.glob("*.flac"))
    seen = []
    st = Store.create(tmp_path / "store", earmark.embeddings.get_embedder("mfcc"))
    real_write = st._write_shard

    def write(batch):  # record how many shards exist as each is written
        n = real_write(batch)
        seen.append(len(st.shards()))
        return n

    st._write_shard = write
    report = st.add(files, flush_s=0.0)  # every finished file is written at once
    assert len(report.added) == 9 and seen[:9] == list(range(1, 10))  # one shard per file as they finished...
    assert len(st.shards()) == 1  # ...merged into one at the end
    ref = api.index(data, tmp_path / "ref", embedder="mfcc")
    t, r = st.table(("file", "start_s")), Store.open(tmp_path / "ref").table(("file", "start_s"))
    assert ref.windows == report.windows and sorted(zip(t["file"], t["start_s"])) == sorted(zip(r["file"], r["start_s"]))
