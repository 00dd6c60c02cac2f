"""Networks trained here: parameter counts, shapes, learning, repeatability, persistence, detect and listen."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from earmark.cli import app
from earmark.models import get_model
from earmark.models.networks import ARCHITECTURES, build_network, count_parameters

PAPER_COUNTS = {"sbcnn": 250_000, "vgg-small": 50_000, "timbre": 10_000, "crnn": 28_000}


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS))
def test_parameter_counts_are_within_20_percent_of_the_papers(name):
    n = count_parameters(build_network(name, (128, 128), 10))
    assert abs(n - PAPER_COUNTS[name]) <= 0.2 * PAPER_COUNTS[name], n


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
@pytest.mark.parametrize("shape", [(128, 128), (128, 40), (64, 300), (12,)])
def test_any_patch_size_gives_one_row_of_logits_per_window(name, shape):
    import torch

    from earmark.models.networks import WAVEFORM

    net = build_network(name, shape, 4).eval()
    if name in WAVEFORM:
        x = torch.zeros(3, int(np.prod(shape)))
    else:
        x = torch.zeros(3, *shape) if len(shape) == 2 else torch.zeros(3, shape[0], 1)
    assert net(x).shape == (3, 4)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_each_network_overfits_a_tiny_batch(name, rng):
    # four classes of patches with a known answer: a bright band at a class-specific height
    y = np.repeat(np.arange(4), 6)
    X = rng.normal(0, 1, (24, 1, 32, 24)).astype(np.float32)
    for i, k in enumerate(y):
        X[i, 0, 4 + 6 * k : 8 + 6 * k] += 4.0
    est = get_model(name, max_epochs=60, validation_fraction=0.0, learning_rate=3e-3, patience=60, random_state=1)
    est.fit(list(X), np.array(["a", "b", "c", "d"])[y])
    losses = [e["loss"] for e in est.history_["epochs"]]
    assert losses[-1] < 0.5 * losses[0]
    assert (est.predict(list(X)) == np.array(["a", "b", "c", "d"])[y]).mean() >= 0.9


def test_training_repeats_exactly_for_a_seed(rng):
    X = list(rng.normal(0, 1, (20, 2, 16, 12)).astype(np.float32))
    y = np.array(["x", "y"] * 10)
    a = get_model("timbre", max_epochs=3, random_state=3).fit(X, y)
    b = get_model("timbre", max_epochs=3, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.history_["n_validation_clips"] == 4  # 15% of each class's ten clips, whole clips


def test_a_network_model_runs_through_train_predict_detect_listen(demo_subset, cache_dir, tmp_path):
    runner = CliRunner()
    model = tmp_path / "net.earmark"
    r = runner.invoke(app, ["train", str(demo_subset), "--model", "timbre", "--max-epochs", "3", "--out", str(model),
                            "--cache-dir", str(cache_dir)])
    assert r.exit_code == 0, r.output
    assert "trained timbre on logmel features: 9 clips" in r.output
    assert "epoch 3/3: loss " in r.output and "validation loss" in r.output  # one progress line per epoch
    import zipfile

    meta = json.loads(zipfile.ZipFile(model).read("earmark.json"))
    assert meta["model"]["params"]["max_epochs"] == 3 and meta["front_end"]["name"] == "logmel"
    assert {n: p["format"] for n, p in meta["parts"].items()} == {"weights": "safetensors", "standardise": "safetensors",
                                                                   "history": "json", "fitted": "json"}
    clips = sorted(demo_subset.glob("*.flac"))
    trained = predicts_the_same_after_loading(model, clips[:3], tmp_path)
    ws = trained.window_scores(clips[0])
    assert ws.scores.shape == (3, 3)  # a 5 s clip: three 3 s patches a second apart

    detect_and_listen(model, clips, tmp_path)


def predicts_the_same_after_loading(model, clips, tmp_path):
    """Probabilities for ``clips`` and a 0.1 s tone (shorter than any window) sum to 1 and repeat after loading; returns the model."""
    from earmark.pipeline import Model

    trained = Model.load(model)
    short = tmp_path / "short.wav"
    sf.write(short, 0.3 * np.sin(2 * np.pi * 440 * np.arange(4410) / 22050).astype(np.float32), 22050)
    first = trained.predict_proba([*clips, short])
    assert first.shape == (len(clips) + 1, len(trained.classes)) and np.allclose(first.sum(axis=1), 1.0)
    np.testing.assert_allclose(Model.load(model).predict_proba([*clips, short]), first)  # load gives identical predictions
    return trained


def detect_and_listen(model, clips, tmp_path) -> None:
    """``detect`` on the clips joined into one recording writes events; ``listen`` to the first clip reports its stream."""
    runner = CliRunner()
    long = tmp_path / "long.wav"
    sf.write(long, np.concatenate([sf.read(c, dtype="float32")[0] for c in clips]), 44100)
    r = runner.invoke(app, ["detect", str(model), str(long), "--out", str(tmp_path / "ev"), "--threshold", "0.4"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "ev" / "long.events.csv").is_file()
    r = runner.invoke(app, ["listen", str(model), "--input", str(clips[0]), "--no-realtime", "--threshold", "0.01"])
    assert r.exit_code == 0, r.output
    assert "stream ended:" in r.output and "latency" in r.output


def test_models_lists_the_networks_with_their_parameter_counts():
    r = CliRunner().invoke(app, ["models"])
    assert r.exit_code == 0
    for name, count in (("sbcnn", "241,434"), ("vgg-small", "53,186"), ("timbre", "9,826"), ("crnn", "27,530"), ("wavecnn", "93,578")):
        line = next(line for line in r.output.splitlines() if line.startswith(f"│ {name} "))
        assert count in line and "network" in line and ("wave" if name == "wavecnn" else "logmel") in line


def test_bad_network_options_are_one_line_before_any_audio_work(demo_subset, tmp_path):
    cache = tmp_path / "cache"
    r = CliRunner().invoke(app, ["train", str(demo_subset), "--model", "sbcnn", "--augment", "reverb", "--out", str(tmp_path / "m.earmark"),
                                 "--cache-dir", str(cache)])
    assert r.exit_code == 1 and "The '--augment' option names 'reverb'" in r.output and len(r.output.strip().splitlines()) == 1
    assert not cache.exists()
    r = CliRunner().invoke(app, ["train", str(demo_subset), "--model", "logreg", "--max-epochs", "3", "--out", str(tmp_path / "m.earmark")])
    assert r.exit_code == 1 and "takes no parameter 'max_epochs'" in r.output


def test_wavecnn_learns_from_raw_samples(demo_subset, cache_dir, tmp_path):
    import earmark

    m = earmark.train(demo_subset, model="wavecnn", model_params={"max_epochs": 2}, cache_dir=cache_dir)
    assert m.front_end.name == "wave" and m.estimator.network_[1].kernel_size == (80,)
    from earmark.pipeline import Model

    clips = sorted(demo_subset.glob("*.flac"))[:2]
    np.testing.assert_allclose(Model.load(m.save(tmp_path / "w.earmark")).predict_proba(clips), m.predict_proba(clips))
