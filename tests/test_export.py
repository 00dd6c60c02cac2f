"""ONNX export: the graph equals earmark on real clips, runs without earmark, and int8 keeps accuracy on real ESC-10 clips."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import earmark
from earmark.cli import app
from earmark.errors import ParameterError
from earmark.export.runner import Runner, cut_windows

pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")

UNSEEN = sorted((Path(__file__).resolve().parents[1] / "data" / "demo" / "unseen").glob("*.flac"))


def _subset(root: Path, dest: Path, keep, per_class: int, label: str = "label") -> tuple[Path, list[tuple[Path, str]]]:
    """A dataset folder whose metadata.csv lists (by absolute path) ``per_class`` clips per class of ``root``'s rows that ``keep``."""
    rows = [r for r in csv.DictReader(open(root / "metadata.csv")) if keep(r)]
    picked = []
    for value in sorted({r[label] for r in rows}):
        picked += [r for r in rows if r[label] == value][:per_class]
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "label"])
        for r in picked:
            w.writerow([str(root / r["filename"]), r[label]])
    return dest, [(root / r["filename"], r[label]) for r in picked]


@pytest.fixture(scope="module")
def head_models(tmp_path_factory):
    """logreg and rf heads on aisfx embeddings of the demo subset (3 classes), saved."""
    from conftest import make_demo_subset

    root = tmp_path_factory.mktemp("export")
    data = make_demo_subset(root / "demo", per_class=4)
    out = {}
    for name in ("logreg", "svm", "rf", "knn", "mlp"):
        m = earmark.train(data, model=name, cache_dir=root / "cache")
        out[name] = m.save(root / f"{name}.earmark")
    return out


@pytest.mark.parametrize("name", ["logreg", "svm", "rf", "knn", "mlp"])
def test_onnx_head_equals_earmark_on_real_clips(head_models, name, tmp_path):
    model = earmark.Model.load(head_models[name])
    record = earmark.api.export(model, tmp_path / "m.onnx")
    runner = Runner(record["out"])
    assert runner.classes == model.classes and runner.meta["sample_rate"] == 44100
    expected = model.predict_proba(UNSEEN)
    labels = [p.label for p in model.predict(UNSEEN)]
    for path, want, label in zip(UNSEEN, expected, labels):
        got = runner.predict_file(path)
        assert got["label"] == label
        assert max(abs(got["scores"][c] - want[i]) for i, c in enumerate(model.classes)) < 1e-4


def test_onnx_window_grid_and_levels_match_the_front_end():
    """The runner cuts a file into the graph's windows on earmark's own grid: same count, same levels."""
    from earmark.audio import load
    from earmark.embeddings import get_embedder
    from earmark.export.graphs import front_graph

    for name in ("aisfx-mel", "logmel", "kws-mel", "wave"):
        front = get_embedder(name)
        for seconds in (0.4, 5.0):  # shorter than one window (zero-padded), and several windows
            y, _ = load(UNSEEN[0], sr=front.sample_rate)
            y = y[: int(seconds * front.sample_rate)]
            ref = front.embed(y, sr=front.sample_rate)
            graph = front_graph(front)
            windows = cut_windows(y, graph.framing)
            assert len(windows) == len(ref.vectors), (name, seconds)
            import torch

            with torch.no_grad():
                args = (torch.from_numpy(windows.copy()),) + ((torch.full((len(windows), 1), float(np.abs(y).max())),)
                                                    if graph.uses_peak else ())
                features, level = graph.module(*args)
            if seconds < front.window_s and name != "wave":
                # a clip shorter than one window: earmark's spectrogram stops at its last whole frame, the graph's
                # frames run on into the zero padding and see the clip's last samples once more (the stated difference)
                np.testing.assert_allclose(level.numpy(), ref.level_db, atol=0.5)
                continue
            np.testing.assert_allclose(level.numpy(), ref.level_db, atol=0.01)
            scale = np.abs(ref.vectors).max()
            np.testing.assert_allclose(features.numpy(), ref.vectors, atol=max(1e-4, 1e-3 * scale))


@pytest.fixture(scope="module")
def network_model(tmp_path_factory):
    """sbcnn on log-mel patches of the demo subset, two epochs: a network trained here."""
    from conftest import make_demo_subset

    root = tmp_path_factory.mktemp("export-net")
    data = make_demo_subset(root / "demo", per_class=4)
    m = earmark.train(data, model="sbcnn", model_params={"max_epochs": 2}, cache_dir=root / "cache")
    return m.save(root / "sbcnn.earmark")


def test_onnx_network_equals_earmark_on_real_clips(network_model, tmp_path):
    model = earmark.Model.load(network_model)
    record = earmark.api.export(model, tmp_path / "net.onnx")
    runner = Runner(record["out"])
    assert "peak" not in runner.inputs  # only aisfx normalises by the file's peak
    expected = model.predict_proba(UNSEEN)
    for path, want in zip(UNSEEN, expected):
        got = runner.predict_file(path)
        assert got["label"] == model.classes[int(np.argmax(want))]
        # the log-mel patches agree to 0.05 dB (float32 FFTs differ in the last bits, which dB magnifies in faint bands)
        assert max(abs(got["scores"][c] - want[i]) for i, c in enumerate(model.classes)) < 5e-3


def _run_without_earmark(runner: Path, *args) -> subprocess.CompletedProcess:
    """Run the exported runner in a fresh interpreter in which ``import earmark`` fails."""
    code = ("import sys, runpy\n"
            "sys.modules['earmark'] = None  # earmark is not importable here\n"
            "try:\n    import earmark\nexcept ImportError:\n    pass\nelse:\n    sys.exit('earmark was importable')\n"
            f"sys.argv = {[str(runner), *map(str, args)]!r}\n"
            "runpy.run_path(sys.argv[0], run_name='__main__')\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=runner.parent)


@pytest.mark.parametrize("kind", ["head", "network"])
def test_exported_model_runs_without_earmark(kind, head_models, network_model, tmp_path):
    source = head_models["logreg"] if kind == "head" else network_model
    model = earmark.Model.load(source)
    result = CliRunner().invoke(app, ["export", str(source), "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 0, result.output
    runner = tmp_path / "earmark_onnx_runner.py"
    assert not re.search(r"^\s*(import earmark\b|from earmark[ .])", runner.read_text(), re.M)
    done = _run_without_earmark(runner, tmp_path / "m.onnx", *UNSEEN, "--top-k", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "file,label,score"
    for line, pred in zip(lines[1:], model.predict(UNSEEN, top_k=2)):
        path, label, score, second = line.split(",")
        assert (Path(path).name, label) == (pred.path.name, pred.label)
        assert abs(float(score) - pred.score) < (1e-3 if kind == "head" else 5e-3)
        assert second.split(":")[0] == pred.labels[1]


def test_runner_reports_a_bad_file_and_goes_on(head_models, tmp_path):
    earmark.api.export(head_models["logreg"], tmp_path / "m.onnx")
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really")
    done = _run_without_earmark(tmp_path / "earmark_onnx_runner.py", tmp_path / "m.onnx", bad, UNSEEN[0])
    assert done.returncode == 1
    assert "broken.wav: skipped" in done.stderr
    assert UNSEEN[0].name in done.stdout  # the good file after the bad one was still classified


def test_int8_keeps_accuracy_on_real_esc10_clips(esc10, tmp_path):
    """int8 (calibrated on the training clips) against float32 on held-out ESC-10 clips of another fold."""
    train, _ = _subset(esc10, tmp_path / "train", lambda r: r["fold"] != "5", per_class=6)
    test_rows = [r for r in csv.DictReader(open(esc10 / "metadata.csv")) if r["fold"] == "5"]
    test = [r for label in sorted({r["label"] for r in test_rows}) for r in [x for x in test_rows if x["label"] == label][:4]]
    model = earmark.train(train, cache_dir=tmp_path / "cache")
    fp32 = Runner(earmark.api.export(model, tmp_path / "fp32.onnx")["out"])
    record = earmark.api.export(model, tmp_path / "int8.onnx", int8=True, calibration=[train])
    int8 = Runner(record["out"])
    assert int8.meta["int8"] and record["bytes"] < 0.5 * Path(tmp_path / "fp32.onnx").stat().st_size
    truth = [r["label"] for r in test]
    a = [fp32.predict_file(esc10 / r["filename"])["label"] for r in test]
    b = [int8.predict_file(esc10 / r["filename"])["label"] for r in test]
    acc_fp32 = np.mean([x == t for x, t in zip(a, truth)])
    acc_int8 = np.mean([x == t for x, t in zip(b, truth)])
    assert acc_fp32 >= 0.7  # the float32 graph is a working classifier on these clips
    assert acc_int8 >= acc_fp32 - 0.05  # the stated bound on 40 clips: at most 2 more errors
    assert np.mean([x == y for x, y in zip(a, b)]) >= 0.9


def test_export_refuses_what_it_cannot_hold(tmp_path, demo_subset):
    model = earmark.train(demo_subset, embedder="mfcc", cache_dir=tmp_path / "cache")
    path = model.save(tmp_path / "mfcc.earmark")
    result = CliRunner().invoke(app, ["export", str(path), "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 1
    assert "Front end 'mfcc' cannot be exported to ONNX" in result.output and "aisfx" in result.output
    assert not (tmp_path / "m.onnx").exists()
    model.info["data"]["root"] = str(tmp_path / "gone")
    with pytest.raises(ParameterError, match="--calibration-data"):
        earmark.api.export(model, tmp_path / "m.onnx", int8=True)


def test_bench_reports_every_runtime(head_models):
    result = CliRunner().invoke(app, ["bench", str(head_models["logreg"]), "--windows", "4", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["runtime"] for r in rows] == ["earmark", "onnx fp32"]
    assert all(r["ms_per_window"] > 0 and r["x_realtime"] > 0 for r in rows)
    assert rows[1]["bytes"] > 18_000_000  # the aisfx weights are in the graph


# --- the aisfx network on onnxruntime inside earmark --------------------------------------
@pytest.fixture
def graph_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EARMARK_CACHE_DIR", str(tmp_path / "graphs"))
    return tmp_path / "graphs" / "onnx"


def test_onnx_backends_embed_real_clips_like_torch(graph_cache):
    from earmark.embeddings import get_embedder

    demo = sorted((UNSEEN[0].parents[1] / "train").glob("*.flac"))
    torch_front = get_embedder("aisfx", backend="torch")
    fp32 = get_embedder("aisfx", backend="onnx")
    int8 = get_embedder("aisfx", backend="onnx-int8", calibration=demo[:20])
    assert torch_front.fingerprint() == fp32.fingerprint() == get_embedder("aisfx").fingerprint()  # the same numbers: one cache
    assert int8.fingerprint() != fp32.fingerprint()  # int8 embeddings never stand in for float32 ones
    assert int8.with_hop(0.5).calibration == int8.calibration
    cosines = []
    for path in UNSEEN:
        ref = torch_front.embed_file(path).vectors
        np.testing.assert_allclose(fp32.embed_file(path).vectors, ref, atol=1e-4)
        got = int8.embed_file(path).vectors
        cosines += list((got * ref).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1))
    assert np.mean(cosines) > 0.98 and min(cosines) > 0.85
    assert len(list(graph_cache.glob("aisfx-*.onnx"))) == 2  # float32 and int8, built once and kept
    from earmark.embeddings.aisfx import auto_backend

    assert auto_backend() == "onnx"  # onnxruntime is installed here: the default runs on it


def test_predict_with_the_int8_backend(head_models, graph_cache):
    fp32 = CliRunner().invoke(app, ["predict", str(head_models["logreg"]), *map(str, UNSEEN), "-f", "csv", "-q"])
    int8 = CliRunner().invoke(app, ["predict", str(head_models["logreg"]), *map(str, UNSEEN), "-f", "csv", "-q",
                                    "--backend", "onnx-int8", "--no-cache"])
    assert fp32.exit_code == 0 and int8.exit_code == 0, int8.output
    labels = lambda out: [line.split(",")[1] for line in out.strip().splitlines()[1:]]  # noqa: E731
    assert labels(int8.output) == labels(fp32.output)  # calibrated on the model's training data, found from its file


def test_backend_refuses_models_without_the_aisfx_network(tmp_path, demo_subset, head_models):
    model = earmark.train(demo_subset, embedder="mfcc", cache_dir=tmp_path / "cache")
    path = model.save(tmp_path / "mfcc.earmark")
    result = CliRunner().invoke(app, ["predict", str(path), str(UNSEEN[0]), "--backend", "onnx"])
    assert result.exit_code == 1 and "--backend applies to a front end whose network runs on a choice of runtimes (aisfx)" in result.output
    result = CliRunner().invoke(app, ["predict", str(head_models["logreg"]), str(UNSEEN[0]), "--backend", "tensorrt"])
    assert result.exit_code == 1 and "--backend" in result.output and "onnx-int8" in result.output


# --- C ------------------------------------------------------------------------------------
def _sanitizers_work(compiler: str, tmp_path: Path) -> bool:
    """Whether this compiler can build with AddressSanitizer (memory errors then abort the example program)."""
    probe = tmp_path / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    built = subprocess.run([compiler, "-fsanitize=address,undefined", "-o", str(tmp_path / "probe"), str(probe)], capture_output=True)
    return built.returncode == 0 and subprocess.run([str(tmp_path / "probe")], capture_output=True).returncode == 0


@pytest.mark.parametrize("head", ["logreg", "mlp", "rf"])
def test_c_export_compiles_and_agrees_with_python_on_real_digits(head, fsdd, tmp_path):
    """Train on two FSDD speakers, compile the exported header with the system C compiler, classify another speaker's clips."""
    import shutil

    from earmark.export.c import import_emlearn

    emlearn = import_emlearn()

    from earmark.audio import load

    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "a C compiler is needed (the Makefile's system packages install gcc)"
    train, _ = _subset(fsdd, tmp_path / "train", lambda r: r["speaker"] in ("jackson", "george"), per_class=8, label="digit")
    _, test = _subset(fsdd, tmp_path / "test", lambda r: r["speaker"] == "nicolas", per_class=2, label="digit")
    params = {"hidden_layer_sizes": [32], "max_iter": 800} if head == "mlp" else ({"n_estimators": 30} if head == "rf" else None)
    model = earmark.train(train, embedder="mfcc", classifier=head, classifier_params=params, cache_dir=tmp_path / "cache")
    path = model.save(tmp_path / "digits.earmark")
    result = CliRunner().invoke(app, ["export", str(path), "--format", "c", "--out", str(tmp_path / "digits.h")])
    assert result.exit_code == 0, result.output
    example = tmp_path / "digits_example.c"
    binary = tmp_path / "classify"
    checks = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"] if _sanitizers_work(compiler, tmp_path) else []
    subprocess.run([compiler, "-O2", "-std=c99", "-Wall", "-Werror", "-Wno-unused-function", "-Wno-unused-variable", *checks,
                    "-I", emlearn.includedir, "-o", str(binary), str(example), "-lm"], check=True, capture_output=True, text=True)
    python = model.predict([p for p, _ in test])
    agree = 0
    for (clip, _), pred in zip(test, python):
        y, _ = load(clip, sr=22050)
        raw = tmp_path / "clip.f32"
        y.astype("<f4").tofile(raw)
        label, score, _ = subprocess.run([str(binary), str(raw)], check=True, capture_output=True, text=True).stdout.strip().split(",")
        agree += label == pred.label
        assert abs(float(score) - pred.score) < 0.02 or label != pred.label
    assert agree == len(test)  # the same class as Python for every clip
    # a recording of several windows (eight clips end to end, 2-4 s): the windows, the gate and the average
    import soundfile as sf

    y = np.concatenate([load(clip, sr=22050)[0] for clip, _ in test[:8]])
    sf.write(tmp_path / "three.wav", y, 22050, subtype="FLOAT")
    y.astype("<f4").tofile(tmp_path / "three.f32")
    label, score, n_windows = subprocess.run([str(binary), str(tmp_path / "three.f32")], check=True, capture_output=True,
                                             text=True).stdout.strip().split(",")
    pred = model.predict(tmp_path / "three.wav")[0]
    assert int(n_windows) == pred.n_windows > 1
    assert label == pred.label and abs(float(score) - pred.score) < 0.02


def test_c_export_refuses_other_models(head_models, tmp_path):
    result = CliRunner().invoke(app, ["export", str(head_models["logreg"]), "--format", "c", "--out", str(tmp_path / "m.h")])
    assert result.exit_code == 1 and "--format c takes models on the mfcc front end" in result.output
    assert not (tmp_path / "m.h").exists()


def test_the_lazy_api_gives_functions_not_modules():
    """earmark.api loads its modules on first use; no module name may shadow an operation of the same name."""
    import importlib

    api = importlib.import_module("earmark.api")
    for name in api.__all__:
        getattr(api, name)
    for name in api._MODULES:
        importlib.import_module(f"earmark.api.{name}")
    assert all(not isinstance(getattr(api, name), type(api)) for name in api.__all__)
    assert callable(earmark.api.export) and callable(earmark.api.bench)


def test_a_model_trained_on_int8_keeps_its_network(demo_subset, tmp_path, monkeypatch):
    """train --backend onnx-int8 calibrates on the training clips; the model's predictions run on that int8 network."""
    monkeypatch.setenv("EARMARK_CACHE_DIR", str(tmp_path / "here"))
    path = tmp_path / "int8.earmark"
    result = CliRunner().invoke(app, ["train", str(demo_subset), "--out", str(path), "--backend", "onnx-int8", "-q"])
    assert result.exit_code == 0, result.output
    model = earmark.Model.load(path)
    assert model.front_end.backend == "onnx-int8" and model.front_end.params()["calibration_key"]
    ok = CliRunner().invoke(app, ["predict", str(path), *map(str, UNSEEN), "-f", "csv", "-q"])
    assert ok.exit_code == 0 and ok.output.count("\n") == 1 + len(UNSEEN), ok.output
    monkeypatch.setenv("EARMARK_CACHE_DIR", str(tmp_path / "elsewhere"))  # another machine: its network is not there
    from earmark.embeddings import aisfx

    aisfx._session.cache_clear()  # a new process would not have it open either
    moved = CliRunner().invoke(app, ["predict", str(path), str(UNSEEN[0]), "-q"])
    assert moved.exit_code == 1 and "--calibration-data" in moved.output and "--backend onnx" in moved.output
    fp32 = CliRunner().invoke(app, ["predict", str(path), str(UNSEEN[0]), "-q", "--backend", "onnx"])
    assert fp32.exit_code == 0, fp32.output


def test_detect_and_listen_take_the_backend(head_models, tmp_path):
    """torch and onnxruntime float32 give the same events; listen runs on the int8 network."""
    outs = {}
    for backend in ("torch", "onnx"):
        result = CliRunner().invoke(app, ["detect", str(head_models["logreg"]), *map(str, UNSEEN), "--backend", backend,
                                          "--out", str(tmp_path / backend), "-q"])
        assert result.exit_code == 0, result.output
        outs[backend] = sorted((p.name, p.read_text().splitlines()) for p in (tmp_path / backend).glob("*.csv"))
    assert len(outs["onnx"]) == len(UNSEEN) and [n for n, _ in outs["torch"]] == [n for n, _ in outs["onnx"]]
    for (_, a), (_, b) in zip(outs["torch"], outs["onnx"]):  # same events; scores within the runtimes' float32 spread
        assert len(a) == len(b) and a[0] == b[0]
        for ra, rb in zip(a[1:], b[1:]):
            (sa, ea, la, *va), (sb, eb, lb, *vb) = ra.split(","), rb.split(",")
            assert (sa, ea, la) == (sb, eb, lb)
            np.testing.assert_allclose(np.float64(va), np.float64(vb), atol=1e-5)
    result = CliRunner().invoke(app, ["listen", str(head_models["logreg"]), "--input", str(UNSEEN[1]), "--no-realtime",
                                      "--backend", "onnx-int8", "--threshold", "0.4"])
    assert result.exit_code == 0, result.output
    assert " dog " in result.output  # 2-114280-A-0 is a dog: the int8 network hears it as one


def test_auto_backend_falls_back_to_torch_when_the_graph_cannot_be_built(graph_cache, monkeypatch, caplog):
    """A failing exporter (a torch/onnxscript mismatch, say) costs a warning, not the user's work; the numbers are torch's."""
    from earmark.embeddings import aisfx, get_embedder, onnxrt

    def broken(*args, **kwargs):
        raise RuntimeError("exporter broke")

    aisfx.auto_backend.cache_clear()
    aisfx._session.cache_clear()
    monkeypatch.setattr(onnxrt, "torch_to_onnx", broken)
    monkeypatch.setattr(aisfx, "_AUTO_FALLBACK", set())
    try:
        got = get_embedder("aisfx").embed_file(UNSEEN[0]).vectors
        assert "running it on torch" in caplog.text
        np.testing.assert_allclose(got, get_embedder("aisfx", backend="torch").embed_file(UNSEEN[0]).vectors, atol=1e-6)
        with pytest.raises(RuntimeError, match="exporter broke"):  # asked for onnx by name: the error is the user's to see
            get_embedder("aisfx", backend="onnx").embed_file(UNSEEN[0])
    finally:
        aisfx.auto_backend.cache_clear()
        aisfx._session.cache_clear()


@pytest.mark.parametrize("method", ["mean", "vote", "max", "linsoft"])
@pytest.mark.parametrize("multilabel", [False, True])
def test_the_runner_aggregates_as_earmark(method, multilabel):
    """The runner carries its own copy of earmark's window-to-clip rules (it may not import earmark): they must agree."""
    from earmark.export.runner import aggregate
    from earmark.models.aggregation import aggregate_clips

    rng = np.random.default_rng(3)
    proba = rng.random((7, 4))
    if not multilabel:
        proba /= proba.sum(axis=1, keepdims=True)
    want = aggregate_clips(proba, [len(proba)], method, multilabel=multilabel)[0]
    np.testing.assert_allclose(aggregate(proba, method, multilabel), want, rtol=1e-12)
