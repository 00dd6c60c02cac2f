"""Keyword spotting: the spotter's smoothing and refractory period, the operating curve, listen --keywords, evaluate-kws."""

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from conftest import available, shared_data
from earmark.errors import ParameterError
from earmark.evaluation.kws import mix_keywords, operating_curve, score_placements, threshold_for, voiced_span
from earmark.inference.keywords import KeywordSpotter, smooth_scores, spot

CLASSES = ["_silence_", "_unknown_", "stop", "yes"]


def _posteriors(n: int, bursts: dict[int, tuple[str, int]], rng) -> np.ndarray:
    """Low noisy scores with, from hop ``i``, ``length`` hops of one class near 0.9 (a keyword passing a 1-s window)."""
    p = rng.uniform(0.0, 0.2, size=(n, len(CLASSES)))
    p[:, 0] += 0.6  # silence wins between keywords
    for i, (label, length) in bursts.items():
        p[i : i + length] = 0.03
        p[i : i + length, CLASSES.index(label)] = rng.uniform(0.85, 0.95, size=length)
    return p / p.sum(axis=1, keepdims=True)


def test_refractory_period_gives_one_event_per_keyword_at_known_positions(rng):
    # keywords at hops 10 (yes), 40 (stop), 70 (yes), each on top for 8 hops (0.8 s at a 0.1-s hop)
    bursts = {10: ("yes", 8), 40: ("stop", 8), 70: ("yes", 8)}
    p = _posteriors(100, bursts, rng)
    times = 1.0 + 0.1 * np.arange(100)

    def run(refractory_s):
        spotter = KeywordSpotter(CLASSES, ["yes", "stop"], threshold=0.6, smooth=3, refractory_s=refractory_s)
        return [e for t, row in zip(times, p) if (e := spotter.push(t, row)) is not None]

    events = run(1.0)
    assert [e.keyword for e in events] == ["yes", "stop", "yes"]
    # smoothing over 3 hops: the mean first passes 0.6 on the burst's second hop
    np.testing.assert_allclose([e.time_s for e in events], times[[11, 41, 71]])
    assert len(run(0.0)) > 10  # without the refractory period a keyword fires on every hop it stays on top
    # silence and the unknown class never fire, even when they are on top
    quiet = KeywordSpotter(CLASSES, ["yes"], threshold=0.5, smooth=1)
    assert quiet.push(0.1, np.array([1.0, 0, 0, 0])) is None and quiet.push(0.2, None) is None


def test_offline_spotting_equals_the_live_spotter(rng):
    p = rng.dirichlet(np.ones(4) * 0.3, size=400)
    times = 0.1 * np.arange(400)
    live = KeywordSpotter(CLASSES, ["stop", "yes"], threshold=0.55, smooth=4, refractory_s=0.7)
    streamed = [(e.time_s, e.keyword) for t, row in zip(times, p) if (e := live.push(t, row)) is not None]
    offline = spot(times, smooth_scores(p[:, [2, 3]], 4), 0.55, 0.7)
    assert streamed == [(t, ["stop", "yes"][k]) for t, k, _ in offline] and len(streamed) > 5


def test_spotter_options_are_checked():
    with pytest.raises(ParameterError, match="'keywords'.*maybe.*_silence_, _unknown_, stop, yes"):
        KeywordSpotter(CLASSES, ["maybe"])
    with pytest.raises(ParameterError, match="'smooth'"):
        KeywordSpotter(CLASSES, ["yes"], smooth=0)
    with pytest.raises(ParameterError, match="'refractory_s'"):
        KeywordSpotter(CLASSES, ["yes"], refractory_s=-1)


def test_mixing_sets_the_speech_to_noise_ratio_and_known_positions(rng):
    sr = 16000
    word = np.zeros(sr, np.float32)
    word[4000:12000] = np.sin(2 * np.pi * 440 * np.arange(8000) / sr)  # voiced 0.25-0.75 s
    assert voiced_span(word, sr) == (4000, 12000)
    noise = (0.01 * rng.normal(size=5 * sr)).astype(np.float32)
    stream, placed = mix_keywords([word, word], [3, 2], noise, sr=sr, snr_db=10, gap_s=2.0)
    assert len(stream) == (2 + 1 + 2 + 1 + 2) * sr
    assert [(p.start_s, p.voiced_end_s, p.column) for p in placed] == [(2.0, 2.75, 3), (5.0, 5.75, 2)]
    alone, _ = mix_keywords([np.zeros_like(word)] * 2, [3, 2], noise, sr=sr, snr_db=10, gap_s=2.0)  # same seed: the noise alone
    for start in (2.25, 5.25):
        a = int(start * sr)
        speech, under = (stream - alone)[a : a + 8000], alone[a : a + 8000]
        np.testing.assert_allclose(speech, word[4000:12000] * speech.max() / word.max(), atol=1e-5)  # the word, only scaled
        snr = 20 * np.log10(np.sqrt(np.mean(speech.astype(np.float64) ** 2)) / np.sqrt(np.mean(under.astype(np.float64) ** 2)))
        assert snr == pytest.approx(10, abs=1e-3)


def test_operating_curve_counts_misses_false_accepts_and_confusions():
    times = 0.1 * np.arange(1, 101)  # a 10-s keyword stream
    scores = np.zeros((100, 2))
    scores[20:25, 0] = 0.9  # keyword 0 placed at 1.5-2.5 s: found at 2.1 s
    scores[55:60, 1] = 0.7  # keyword 1 placed at 5-6 s but keyword 0 fires (a confusion, then a miss)
    scores[55:60, 0] = 0.8
    scores[85:87, 1] = 0.95  # in the noise after the last keyword: a false accept
    from earmark.evaluation.kws import Placement

    placed = [Placement(1.5, 2.0, 0), Placement(5.0, 5.6, 1)]
    lat, outside, confused = score_placements(times, scores, placed, 0.6, refractory_s=1.0, tolerance_s=1.0)
    assert lat[0] == pytest.approx(0.1) and lat[1] is None and (outside, confused) == (1, 1)
    background = [(times, np.zeros((100, 2)))]
    background[0][1][30:33, 1] = 0.99  # one false accept on the background above 0.6 only
    curve = operating_curve(background, 3600.0, {10.0: [(times, scores, placed)]}, thresholds=np.array([0.6, 0.9, 0.96, 0.999]),
                            refractory_s=1.0, tolerance_s=1.0)
    assert curve["false_accepts"] == [2, 2, 1, 0]
    assert curve["frr"]["10.0"] == [0.5, 0.5, 1.0, 1.0] and curve["confusions"] == [1, 0, 0, 0]
    assert threshold_for(curve, 0.5) == 3 and threshold_for(curve, 1.99) == 2 and threshold_for({"fa_per_hour": [3, 2]}, 1) is None


@pytest.fixture(scope="module")
def keyword_model(tmp_path_factory):
    """speech embeddings + logistic regression on 40 clips each of yes / stop / _unknown_ / _silence_ from folds 1-4."""
    from earmark import api

    root = shared_data("speech_commands_dev")
    available("speech")
    rows = [r for r in csv.DictReader(open(root / "metadata.csv")) if r["label"] in CLASSES and r["fold"] != "5"]
    rows = [r for k in CLASSES for r in [r for r in rows if r["label"] == k][:40]]
    subset = tmp_path_factory.mktemp("kws")
    with open(subset / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "label"])
        for r in rows:
            w.writerow([str(root / r["filename"]), r["label"]])
    path = subset / "kws.earmark"
    model = api.train(subset, model="logreg", embedder="speech", gate_db=float("-inf"), cache_dir=subset / "cache")
    model.save(path)
    return path, root


def test_listen_fires_once_per_spoken_keyword_on_a_stream_with_known_positions(keyword_model, tmp_path):
    from earmark import api
    from earmark.audio import load
    from earmark.inference.listen import file_blocks

    path, root = keyword_model
    model = api.load_model(path)
    held = [r for r in csv.DictReader(open(root / "metadata.csv")) if r["fold"] == "5" and r["label"] in ("yes", "stop")]
    clips, labels = [], []
    for r in held:  # held-out speakers' clips that the model recognises on their own (the stream then tests the spotter)
        y = load(root / r["filename"], sr=model.front_end.sample_rate)[0]
        if api.predict(model, [root / r["filename"]]).records[0].label == r["label"]:
            clips.append(y)
            labels.append(r["label"])
        if len(clips) == 4:
            break
    noise = load(root / "background" / "pink_noise.flac", sr=16000)[0]
    stream, placed = mix_keywords(clips, [CLASSES.index(k) for k in labels], noise, sr=16000, snr_db=30, gap_s=2.0)
    wav = tmp_path / "stream.wav"
    sf.write(wav, stream, 16000)
    found = list(api.listen(model, file_blocks(wav, sr=16000, block_s=0.1, realtime=False), keywords="yes,stop",
                            sensitivity=0.5, refractory_s=1.0))
    assert [d.label for d in found] == labels
    for d, p in zip(found, placed):
        assert p.start_s < d.end_s <= p.voiced_end_s + 1.0
    no_refractory = list(api.listen(model, file_blocks(wav, sr=16000, block_s=0.1, realtime=False), keywords="yes,stop",
                                    sensitivity=0.5, refractory_s=0.0))
    assert len(no_refractory) > len(found)
    with pytest.raises(ParameterError, match="'keywords'.*go"):
        next(api.listen(model, iter([]), keywords="yes,go"))


def test_evaluate_kws_cli_writes_the_curve_and_the_sensitivity(keyword_model, tmp_path):
    from typer.testing import CliRunner

    from earmark.cli import app

    path, root = keyword_model
    out, png = tmp_path / "kws.json", tmp_path / "kws.png"
    r = CliRunner().invoke(app, ["evaluate-kws", str(path), str(root), "--keywords", "yes,stop", "--background",
                                 str(root / "background" / "running_tap.flac"), "--test-fold", "5", "--snr-db", "20,5",
                                 "--json", str(out), "--plot", str(png), "-q"])
    assert r.exit_code == 0, r.output
    result = json.loads(out.read_text())
    curve, op = result["curve"], result["operating_point"]
    n = len(curve["thresholds"])
    assert result["n_keywords"] == sum(1 for row in csv.DictReader(open(root / "metadata.csv"))
                                       if row["fold"] == "5" and row["label"] in ("yes", "stop"))
    assert len(curve["frr"]["20.0"]) == n and set(curve["frr"]) == {"20.0", "5.0"}
    assert all(0 <= v <= 1 for v in curve["frr_pooled"]) and curve["frr_pooled"][-1] > 0.5  # at 1 - 1e-12 most keywords are missed
    assert op["fa_per_hour"] <= 1.0 and op["sensitivity"] == pytest.approx(1 - op["threshold"], abs=1e-4)
    by_file = op["false_accepts_by_file"]  # the recording's share of the false accepts (the rest fall between keywords)
    assert list(by_file) == [str(root / "background" / "running_tap.flac")] and 0 <= by_file[list(by_file)[0]] <= op["false_accepts"]
    assert f"--sensitivity {op['sensitivity']:.3g}" in r.output
    assert png.stat().st_size > 10_000
    assert 20 < result["background"]["hours"] * 3600 < 70  # the running tap recording (about 60 s)
    bad = CliRunner().invoke(app, ["evaluate-kws", str(path), str(root), "--keywords", "yes", "--background", str(root / "background"),
                                   "--test-fold", "9"])
    assert bad.exit_code != 0 and "--test-fold" in bad.output and "selects no clip" in bad.output


def test_evaluate_kws_refuses_a_model_trained_on_the_test_speakers(tmp_path):
    from types import SimpleNamespace

    from earmark.api.keywords import _check_held_out

    trained = SimpleNamespace(info={"data": {"root": str(tmp_path), "folds": ["1", "2", "3", "4"]}})
    with pytest.raises(ParameterError, match="'test_folds'.*names folds the model was trained on.*--exclude-fold"):
        _check_held_out(trained, {"4"}, tmp_path)
    _check_held_out(trained, {"5"}, tmp_path)  # a held-out fold
    _check_held_out(trained, {"4"}, tmp_path / "other")  # another dataset's fold 4


def _ambient(fold: str) -> list:
    esc = shared_data("esc10")
    return [esc / r["filename"] for r in csv.DictReader(open(esc / "metadata.csv"))
            if r["fold"] == fold and r["label"] in ("rain", "sea_waves", "crackling_fire", "helicopter", "chainsaw", "clock_tick")]


@pytest.fixture(scope="module")
def stream_model(keyword_model, tmp_path_factory):
    """The same clips, trained stream-style over the first 30 s of three background recordings (kitchen, tap, exercise
    bike) and 12 ESC-10 noise clips (rain, sea, fire, helicopter, chainsaw, clock), as openwakeword's models are: a
    small network over the stack of speech embeddings live windows hold (``speech-stream`` + ``mlp``)."""
    from earmark import api
    from earmark.audio import load
    from earmark.augment.stream import StreamTraining

    path, root = keyword_model
    bg = tmp_path_factory.mktemp("train_background")
    for name in ("doing_the_dishes", "running_tap", "exercise_bike"):
        sf.write(bg / f"{name}.wav", load(root / "background" / f"{name}.flac", sr=16000)[0][: 30 * 16000], 16000)
    for f in _ambient("1")[::4]:  # ESC-10 fold 1's noises: 12 clips, 60 s
        sf.write(bg / f.name.replace(".flac", ".wav"), load(f, sr=16000)[0], 16000)
    stream = StreamTraining(background=(str(bg),), label="_silence_", copies=2, rounds=1, threshold=0.3, hop_s=0.25)
    model = api.train(path.parent, model="mlp", embedder="speech-stream", gate_db=float("-inf"), cache_dir=path.parent / "cache", stream=stream)
    return model, root, path


def test_stream_training_is_recorded_and_mining_adds_the_windows_that_fired(stream_model):
    model, *_ = stream_model
    s = model.info["stream"]
    n_clips = model.info["data"]["n_files"]
    assert model.classes == CLASSES  # the background excerpts joined the data set's own _silence_ class
    assert s["label"] == "_silence_" and s["n_positives"] == 2 * n_clips and s["n_negatives"] == n_clips and s["snr_db"] == [0.0, 20.0]
    assert s["window_s"] == s["min_window_s"] == pytest.approx(2.08) and s["background_hours"] == pytest.approx(150 / 3600, rel=0.01)
    r = s["rounds"][0]
    assert r["windows_scored"] == 3 * 117 + 12 * 13  # every 0.24 s (3 blocks of 80 ms) from 2.08 s on: 30-s recordings, 5-s clips
    assert all(r["added"] == min(r["fired"], n_clips) for r in s["rounds"])
    assert s["n_hard_negatives"] == sum(r["added"] for r in s["rounds"]) and r["added"] > 0


def test_a_stream_trained_keyword_model_fires_once_per_keyword_and_never_on_a_long_noise_stream(stream_model):
    THRESHOLD = 0.5  # noqa: N806  (listen's default sensitivity)
    from earmark import api
    from earmark.audio import load
    from earmark.inference.keywords import stream_scores

    model, root, _ = stream_model
    held = [r for r in csv.DictReader(open(root / "metadata.csv")) if r["fold"] == "5" and r["label"] in ("yes", "stop")]
    clips, labels = [], []
    for r in held:  # held-out speakers' clips that the model recognises on their own (the stream then tests the spotter)
        p = api.predict(model, [root / r["filename"]]).records[0]
        if p.label == r["label"] and p.score >= 0.8 and labels.count(r["label"]) < 3:
            clips.append(load(root / r["filename"], sr=16000)[0])
            labels.append(r["label"])
    cols = [CLASSES.index(k) for k in ("stop", "yes")]
    noise = load(root / "background" / "exercise_bike.flac", sr=16000)[0][30 * 16000 :]  # the part never trained on
    stream, placed = mix_keywords(clips, [("stop", "yes").index(k) for k in labels], noise, sr=16000, snr_db=30, gap_s=2.0)
    times, scores = stream_scores(model, stream, cols, hop_s=0.1)
    events = spot(times, smooth_scores(scores), THRESHOLD, refractory_s=1.0)
    assert len(events) == len(placed)  # one event per keyword (which keyword it takes it for is the benchmark's confusions)
    for (t, _, _), p in zip(events, placed):
        assert p.start_s < t <= p.voiced_end_s + 1.0
    assert [("stop", "yes")[c] for _, c, _ in events][:3] == labels[:3]
    # 2 minutes of the noise of the places trained for, none of it trained on: the kitchen, the tap and the bike
    # after their first 30 s
    bg = root / "background"
    quiet = np.concatenate([load(bg / f"{name}.flac", sr=16000)[0][30 * 16000 : 80 * 16000]
                            for name in ("doing_the_dishes", "running_tap", "exercise_bike")])
    times, scores = stream_scores(model, quiet, cols, hop_s=0.25)
    assert len(times) > 440
    assert spot(times, smooth_scores(scores), THRESHOLD, refractory_s=1.0) == []
