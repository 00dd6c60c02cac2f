"""``speech-stream``: speech_embedding carried over a stream, the same windows live and from a recording."""

import numpy as np
import pytest

from earmark.embeddings.base import LiveWindows
from tests.conftest import available

SR, BLOCK = 16000, 1280


@pytest.fixture(scope="module")
def front():
    return available("speech-stream")


@pytest.fixture
def words(fsdd):
    """Twelve spoken digits end to end over faint noise: real speech, 7 s or so."""
    from earmark.audio import load

    ys = [load(p, sr=SR)[0] for p in sorted((fsdd / "audio").glob("*_jackson_0.wav"))[:12]]
    y = np.concatenate([np.concatenate([w, np.zeros(2000, np.float32)]) for w in ys])
    return y + 0.001 * np.random.default_rng(0).normal(size=len(y)).astype(np.float32)


def pushed(live, y, rng):
    """Every live window of ``y`` pushed in random pieces: ``(end sample, level, vector)``."""
    out, i = [], 0
    while i < len(y):
        k = int(rng.integers(1, 3000))
        out += [(end, level, embed().vectors[0]) for end, level, embed in live.push(y[i : i + k])]
        i += k
    return out


def test_live_windows_equal_the_recordings_windows(front, words, rng):
    """A window scored live is the last window of the recording up to it, and the only window of the window-long
    excerpt ending there, bit for bit, whatever the pieces the samples came in."""
    live = front.live(hop_s=0.1)
    assert live.hop == BLOCK and live.length == 26 * BLOCK and front.window_s == pytest.approx(2.08)
    got = pushed(live, words, rng)
    ends = [e for e, _, _ in got]
    assert ends == list(range(live.length, len(words) + 1, BLOCK))
    for end, level, vector in got[::7]:
        upto, excerpt = front.embed(words[:end], sr=SR), front.embed(words[end - live.length : end], sr=SR)
        assert len(excerpt.vectors) == 1
        np.testing.assert_array_equal(upto.vectors[-1], vector)
        np.testing.assert_array_equal(excerpt.vectors[0], vector)
        assert excerpt.level_db[0] == pytest.approx(level, abs=1e-4)
        assert upto.times_s[-1] == pytest.approx((end - live.length / 2) / SR)


def test_a_recordings_windows_end_at_its_end(front, words):
    """Windows end at the last whole 80-ms block and every hop before it while they hold only the recording's audio;
    a clip shorter than a window gives one window, the clip at its end after silence."""
    one_s = words[:SR]
    e = front.embed(one_s, sr=SR)
    assert len(e.vectors) == 1 and e.times_s[0] == pytest.approx((12 * BLOCK - front.window_s * SR / 2) / SR)
    n = 5 * SR
    e = front.embed(words[:n], sr=SR)
    last = n // BLOCK
    ends = np.round(e.times_s * SR + front.window_s * SR / 2).astype(int) // BLOCK
    assert list(ends) == list(range(last - 8 * (len(ends) - 1), last + 1, 8)) and ends[0] >= 26 > ends[0] - 8
    tiny = front.embed(words[:500], sr=SR)
    assert len(tiny.vectors) == 1 and tiny.duration_s == pytest.approx(500 / SR)
    silent = front.embed(np.zeros(SR, np.float32), sr=SR)
    assert silent.level_db[0] <= -100


def test_generic_live_windows_lie_on_a_fixed_grid(rng):
    """Any front end's live windows end at length, length + hop, ... whatever the pieces, each the newest ring."""
    front = available("mfcc")
    y = rng.normal(size=3 * front.sample_rate).astype(np.float32)
    live = LiveWindows(front, hop_s=0.1, ring_s=0.5)
    got, i = [], 0
    while i < len(y):
        k = int(rng.integers(1, 9000))
        got += [(end, embed()) for end, _, embed in live.push(y[i : i + k])]
        i += k
    assert [e for e, _ in got] == list(range(live.length, len(y) + 1, live.hop))
    end, emb = got[5]
    np.testing.assert_allclose(emb.vectors, front.embed(y[end - live.length : end], sr=front.sample_rate).vectors)


def test_stream_training_material_is_window_long(front, tmp_path, words):
    """Stream-like training for a front end whose live windows hold a whole window: copies, excerpts and cut-off
    words are a window long (the clip's voiced part inside), so each is one window like a live one."""
    import soundfile as sf

    from earmark.augment.stream import StreamTraining, voiced_span

    (tmp_path / "bg").mkdir()
    sf.write(tmp_path / "bg" / "noise.wav", 0.05 * np.random.default_rng(1).normal(size=10 * SR).astype(np.float32), SR)
    st = StreamTraining(background=(str(tmp_path / "bg"),), copies=3).for_front_end(front)
    assert st.min_window_s == pytest.approx(2.08) and "min_window_s" in st.describe()
    assert st.fingerprint() != StreamTraining(background=(str(tmp_path / "bg"),), copies=3).fingerprint()
    word = words[: int(0.8 * SR)]
    for copy in st.copies_of(word, SR, seed=3):
        assert len(copy) == 26 * BLOCK and len(front.embed(copy, sr=SR).vectors) == 1
    n = st.length(len(word), SR)
    from earmark.augment.stream import _padded

    padded = _padded(word, n)
    a, b = voiced_span(padded, SR)
    assert n == 26 * BLOCK and b - a == np.subtract(*voiced_span(word, SR)[::-1])  # the word at the end, whole
    shifts = [st.draw(n, np.random.default_rng(k), sr=SR, lengths=[10 * SR], clip=padded).shift for k in range(200)]
    ends = np.array(shifts) + b
    assert ends.max() > n - 1000 and ends.min() < n - 7000  # the word whole, ending in the window's last 0.5 s
    assert np.all((ends >= n - 8000) & (ends <= n))
    assert all(len(c) == 26 * BLOCK for c in st.partial_words([word], sr=SR))
    assert StreamTraining(background=(str(tmp_path / "bg"),)).for_front_end(available("mfcc")).min_window_s == 0


def test_cut_off_words_in_window_long_material_have_begun_or_ended_a_while_ago(words):
    from earmark.augment.stream import STALE_S, _padded, cut_off, voiced_span

    n = 26 * BLOCK
    y = _padded(words[: int(0.8 * SR)], n)
    a, b = voiced_span(y, SR)
    begun = stale = 0
    for k in range(300):
        shift, keep = cut_off(y, np.random.default_rng(k), sr=SR, stale_s=STALE_S)
        if a + shift > n - (b - a):  # the start of the word at the window's end, 20-60% of it
            begun += 1
            assert 0.2 <= keep <= 0.6 and n - (a + shift) == pytest.approx(keep * (b - a), abs=2)
        else:  # ended 0.9 s or more before the window's end, at least 40% of it still in the window
            stale += 1
            assert b + shift <= n - STALE_S * SR and b + shift >= 0.4 * (b - a) - 1
    assert begun > 100 and stale > 100
