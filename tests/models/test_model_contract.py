"""The clip-model contract: scikit-learn's own checks over every registered model, and a model
defined only here (a nearest-centroid classifier) run through every command with no change to earmark."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks
from typer.testing import CliRunner

from earmark.cli import app
from earmark.models import MODELS, ClipModel, Tensors, get_model, register_model, unregister_model
from earmark.models.finetune import BACKBONES, Backbone, FinetuneClassifier


class NearestCentroid(ClipModel):
    """Windows scored by a softmax over negative distances to each class's mean window."""

    def __init__(self, *, aggregation: str = "mean", temperature: float = 1.0) -> None:
        self.aggregation = aggregation
        self.temperature = temperature

    def _fit(self, clips, y) -> None:
        windows = np.concatenate([c.reshape(len(c), -1) for c in clips])
        labels = np.repeat(y, [len(c) for c in clips])
        self.mean_, self.scale_ = windows.mean(0), windows.std(0) + 1e-9
        z = (windows - self.mean_) / self.scale_
        self.centroids_ = np.stack([z[labels == k].mean(0) for k in range(len(self.classes_))])

    def _window_proba(self, windows) -> np.ndarray:
        z = (windows.reshape(len(windows), -1) - self.mean_) / self.scale_
        d = np.linalg.norm(z[:, None, :] - self.centroids_[None], axis=2) / np.sqrt(z.shape[1])
        e = np.exp(-(d - d.min(axis=1, keepdims=True)) / self.temperature)
        return e / e.sum(axis=1, keepdims=True)

    def _parts(self) -> dict:
        return {"centroids": Tensors(centroids=self.centroids_, mean=self.mean_, scale=self.scale_)}

    def _restore(self, parts) -> None:
        t = parts["centroids"]
        self.centroids_, self.mean_, self.scale_ = t["centroids"], t["mean"], t["scale"]


class _AsChannels(torch.nn.Module):
    def forward(self, x):
        return x.reshape(len(x), 1, -1)


class _FourPositions(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pool = torch.nn.Sequential(torch.nn.AdaptiveAvgPool1d(4), torch.nn.Flatten())

    def forward(self, x):
        return self.pool(x)


class _TinyPretrained(torch.nn.Module):
    """A stand-in backbone with fixed 'pretrained' weights that takes windows of any width (scikit-learn's checks use tables)."""

    def __init__(self) -> None:
        super().__init__()
        nn = torch.nn
        self.b1 = nn.Sequential(nn.Conv1d(1, 4, 1), nn.BatchNorm1d(4), nn.ReLU())
        self.b2 = nn.Sequential(nn.Conv1d(4, 8, 1), nn.BatchNorm1d(8), nn.ReLU())
        with torch.no_grad():
            for i, p in enumerate(self.parameters()):
                p.copy_(torch.linspace(-1, 1, p.numel()).reshape(p.shape) * (0.5 + 0.1 * i))


# The fine-tuning estimator runs scikit-learn's checks on this backbone: the checks feed tables of a few columns, and
# aisfx takes 100 x 96 log-mel blocks only (it is trained for real in tests/models/test_finetune.py).
BACKBONES["tiny-test"] = Backbone(front_end="mfcc", load=_TinyPretrained, blocks=("b1", "b2"), prepare=_AsChannels,
                                  pool=_FourPositions, dims=32)


@pytest.fixture
def centroid_model():
    register_model("centroid", NearestCentroid, kind="embedding head", description="nearest class mean (test only)")
    yield "centroid"
    unregister_model("centroid")


def _estimators():
    yield from (get_model(name) for name in MODELS if not name.startswith("finetune:") and name not in ("lstm-tagger", "sed-crnn"))
    yield get_model("lstm-tagger", hidden=16, learning_rate=0.01, max_epochs=30)  # toy tables: a small, fast tagger
    yield get_model("sed-crnn", hidden=8, learning_rate=0.02, max_epochs=12, patience=12)
    yield FinetuneClassifier("tiny-test", learning_rate=0.03)  # toy tables need a faster head than log-mel blocks
    yield NearestCentroid()


def _expected_failures(estimator) -> dict:
    return getattr(estimator, "_expected_failed_checks", lambda: {})()


@parametrize_with_checks(list(_estimators()), expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_a_model_defined_in_a_test_runs_through_every_command(centroid_model, demo_subset, cache_dir, tmp_path):
    model = tmp_path / "c.earmark"
    r = run("models")
    assert r.exit_code == 0 and "centroid" in r.output and "nearest class mean" in r.output

    r = run("train", demo_subset, "--model", "centroid", "--embedder", "mfcc", "--out", model, "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    meta = json.loads(zipfile.ZipFile(model).read("earmark.json"))
    assert meta["model"]["name"] == "centroid" and meta["parts"]["centroids"]["format"] == "safetensors"

    clips = sorted(demo_subset.glob("*.flac"))
    r = run("predict", model, *clips, "--format", "json", "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    truth = dict(line.split(",") for line in (demo_subset / "metadata.csv").read_text().split()[1:])
    assert len(rows) == len(truth) == 9
    assert sum(row["label"] == truth[row["file"].rsplit("/", 1)[-1]] for row in rows) >= 7  # its own training clips

    r = run("evaluate", demo_subset, "--model", "centroid", "--embedder", "mfcc", "--cv", "3", "--json", tmp_path / "e.json",
            "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    result = json.loads((tmp_path / "e.json").read_text())
    assert result["classifier"]["name"] == "centroid" and len(result["folds"]) == 3 and result["accuracy_mean"] > 1 / 3

    r = run("curve", demo_subset, "--models", "centroid,knn", "--embedders", "mfcc", "--shots", "1,2", "--repeats", "2", "--cv", "3",
            "--json", tmp_path / "c.json", "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    assert {s["classifier"] for s in json.loads((tmp_path / "c.json").read_text())["summary"]} == {"centroid", "knn"}

    r = run("compare", demo_subset, "--models", "centroid,logreg", "--embedders", "mfcc", "--cv", "3", "--json", tmp_path / "k.json",
            "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    assert [row["classifier"] for row in json.loads((tmp_path / "k.json").read_text())["rows"]] == ["centroid", "logreg"]

    r = run("detect", model, clips[0], "--out", tmp_path / "events", "--threshold", "0.4")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "events" / f"{clips[0].stem}.events.csv").is_file()

    from earmark.pipeline import Model

    loaded = Model.load(model)
    assert isinstance(loaded.estimator, NearestCentroid) and loaded.classes == ["dog", "rain", "rooster"]
    ws = loaded.window_scores(clips[0])
    assert ws.scores.shape == (len(ws.times_s), 3) and np.allclose(ws.scores[~ws.gated].sum(axis=1), 1.0)


class _BandEnergy:
    """A front end written outside earmark: log energy in 8 linear bands per 0.5-s window at 16 kHz."""

    @staticmethod
    def make(**params):
        from earmark.embeddings.base import SecondsWindows

        class BandEnergy(SecondsWindows):
            name, version, sample_rate, licence = "band-energy", "1", 16000, "none"

            def __init__(self, *, window_s: float = 0.5, hop_s: float = 0.25) -> None:
                super().__init__(window_s=window_s, hop_s=hop_s)
                self.dims = 8

            def params(self) -> dict:
                return {"window_s": self._window_s, "hop_s": self._hop_s}

            def embed_stream(self, chunks):
                n, hop = int(self._window_s * self.sample_rate), int(self._hop_s * self.sample_rate)
                return self._embed_windows(chunks, length=n, hop=hop, batch_size=64, embed=self._vectors)

            def _vectors(self, windows):
                power = np.abs(np.fft.rfft(windows * np.hanning(windows.shape[1]), axis=1)) ** 2
                return np.log10(np.stack([b.sum(axis=1) for b in np.array_split(power, 8, axis=1)], axis=1) + 1e-10).astype(np.float32)

        return BandEnergy(**params)


def test_a_front_end_and_a_model_from_outside_run_through_train_predict_detect_and_export(centroid_model, demo_subset,
                                                                                              tmp_path):
    """Issue 27: an embedder registered from outside the package (register_embedder, as register_model for models)."""
    from earmark.embeddings import EMBEDDERS, register_embedder, unregister_embedder
    from earmark.errors import ParameterError

    register_embedder("band-energy", _BandEnergy.make)
    try:
        with pytest.raises(ParameterError, match="registered already"):
            register_embedder("band-energy", _BandEnergy.make)
        model = tmp_path / "b.earmark"
        r = run("train", demo_subset, "--model", "centroid", "--embedder", "band-energy", "--out", model, "--no-cache")
        assert r.exit_code == 0, r.output
        meta = json.loads(zipfile.ZipFile(model).read("earmark.json"))
        assert meta["front_end"]["name"] == "band-energy" and meta["front_end"]["params"] == {"window_s": 0.5, "hop_s": 0.25}
        clips = sorted(demo_subset.glob("*.flac"))
        r = run("predict", model, *clips, "--format", "json", "--no-cache")
        assert r.exit_code == 0, r.output
        assert len(json.loads(r.output)) == 9
        r = run("detect", model, clips[0], "--out", tmp_path / "events")
        assert r.exit_code == 0 and (tmp_path / "events" / f"{clips[0].stem}.events.csv").is_file(), r.output
        r = run("export", model, "--out", tmp_path / "b.onnx")  # export refuses politely, naming what it cannot take
        assert r.exit_code == 1 and "Model 'centroid' (NearestCentroid) cannot be exported" in r.output
        head = tmp_path / "h.earmark"
        r = run("train", demo_subset, "--classifier", "logreg", "--embedder", "band-energy", "--out", head, "--no-cache")
        assert r.exit_code == 0, r.output
        r = run("export", head, "--out", tmp_path / "h.onnx")
        assert r.exit_code == 1 and "band-energy" in r.output and len(r.output.strip().splitlines()) == 1, r.output
        assert not (tmp_path / "h.onnx").exists()
    finally:
        unregister_embedder("band-energy")
    assert "band-energy" not in EMBEDDERS


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_model_round_trips_its_parts(name, rng, tmp_path):
    from earmark.persistence import read_model_file, write_model_file

    X = [rng.normal(size=(3, 8)) + (k % 3) for k in range(30)]
    y = np.array(["a", "b", "c"] * 10)
    est = clone(get_model(name))
    if name.startswith("finetune:"):  # its backbone takes its own front end's windows only (aisfx: 100 x 96 blocks)
        X = [rng.random((1, 100, 96), dtype=np.float32) * (1 + k % 3) for k in range(9)]
        y, est = y[:9], est.set_params(max_epochs=1)
    est.fit(X, y)
    path = write_model_file(tmp_path / "m.earmark", {
        "earmark_version": "test", "model": {"name": name, "kind": MODELS[name].kind, "params": est.get_params(deep=False)},
        "front_end": {"name": "mfcc", "version": "1", "params": {}}, "classes": ["a", "b", "c"], "gate_db": None, "info": {}},
        est.fitted_parts())
    _, parts = read_model_file(path)
    back = get_model(name, **est.get_params(deep=False)).restore_parts(parts)
    np.testing.assert_allclose(back.predict_proba(X), est.predict_proba(X))
    np.testing.assert_allclose(back.window_proba(X[0]), est.window_proba(X[0]))


def test_an_unregistered_estimator_evaluates_but_is_not_saved(demo_subset, cache_dir, tmp_path):
    import earmark
    from earmark.errors import ParameterError

    r = earmark.evaluate(demo_subset, model=NearestCentroid(temperature=0.5), embedder="mfcc", cv=3, cache_dir=cache_dir)
    assert r["classifier"]["name"] == "NearestCentroid" and r["classifier"]["model_params"]["temperature"] == 0.5
    assert len(r["folds"]) == 3 and r["accuracy_mean"] > 1 / 3
    m = earmark.train(demo_subset, model=NearestCentroid(), embedder="mfcc", cache_dir=cache_dir)
    with pytest.raises(ParameterError, match="not registered"):
        m.save(tmp_path / "x.earmark")
    assert not list(tmp_path.glob("*.earmark")) and not list(tmp_path.glob(".*.tmp"))
