"""Stream-like training's draws against known answers: offsets, SNRs, negative counts, hard negatives, bad backgrounds."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from earmark.augment.stream import Draw, StreamTraining, false_firing, place, voiced_span
from earmark.errors import ParameterError

SR = 16000


def burst(on_s: float, off_s: float, length_s: float = 1.0, freq: float = 700.0, amplitude: float = 0.3) -> np.ndarray:
    """A 1-s clip, silent but for a tone between ``on_s`` and ``off_s``."""
    y = np.zeros(int(length_s * SR), np.float32)
    t = np.arange(int(on_s * SR), int(off_s * SR))
    y[t] = amplitude * np.sin(2 * np.pi * freq * t / SR)
    return y


@pytest.fixture
def background(tmp_path, rng):
    folder = tmp_path / "bg"
    folder.mkdir()
    sf.write(folder / "a.wav", (0.05 * rng.standard_normal(5 * SR)).astype(np.float32), SR)
    sf.write(folder / "b.flac", (0.02 * rng.standard_normal(3 * SR)).astype(np.float32), SR)
    return folder


def test_voiced_span_finds_the_burst():
    a, b = voiced_span(burst(0.2, 0.5), SR)
    assert a == int(0.2 * SR) and b == int(0.5 * SR)


def test_each_placement_keeps_the_voiced_part_inside_the_window_and_the_drawn_snr(background):
    stream = StreamTraining(background=(str(background),), snr_db=(-5, 25))
    recs = stream.recordings(SR)
    clip = burst(0.2, 0.5, amplitude=0.02)  # quiet enough that no mix is scaled down for clipping
    rng = np.random.default_rng(3)
    shifts, snrs = [], []
    for _ in range(300):
        d = stream.draw(len(clip), rng, sr=SR, lengths=[len(r) for r in recs], clip=clip)
        a, b = voiced_span(clip, SR)
        assert 0 <= a + d.shift and b + d.shift <= len(clip)  # the tone stays whole inside the window
        assert -5 <= d.snr_db <= 25 and 0 <= d.start <= len(recs[d.recording]) - len(clip)
        shifts.append(d.shift)
        snrs.append(d.snr_db)
        bg = stream.excerpt(recs, d, len(clip))
        out = place(clip, bg, d, sr=SR)
        moved = place(clip, np.zeros_like(bg), d, sr=SR)  # the shifted clip alone
        noise = out - moved
        lo, hi = a + d.shift, b + d.shift
        measured = 10 * np.log10(np.mean(moved[lo:hi].astype(np.float64) ** 2) / np.mean(noise[lo:hi].astype(np.float64) ** 2))
        assert measured == pytest.approx(d.snr_db, abs=0.01)
    # the offsets cover the whole allowed range (-0.2 s .. +0.5 s), the SNRs the whole interval
    assert min(shifts) < -0.15 * SR and max(shifts) > 0.45 * SR
    assert min(snrs) < 0 and max(snrs) > 20


def test_shift_moves_the_clip_by_exactly_its_samples():
    clip = burst(0.2, 0.5)
    out = place(clip, np.zeros_like(clip), Draw(shift=800, snr_db=10, recording=0, start=0), sr=SR)
    assert np.array_equal(out[800:], clip[:-800]) and not out[:800].any()
    out = place(clip, np.zeros_like(clip), Draw(shift=-1600, snr_db=10, recording=0, start=0), sr=SR)
    assert np.array_equal(out[:-1600], clip[1600:])


def test_negatives_are_excerpts_of_the_background_in_the_asked_ratio(background):
    stream = StreamTraining(background=(str(background),), negatives=1.5)
    recs = stream.recordings(SR)
    excerpts = stream.negative_excerpts(37, SR // 2, sr=SR, seed=1)
    assert len(excerpts) == 56  # round(1.5 * 37)
    for x in excerpts:
        assert len(x) == SR // 2
        hits = [r for r in recs for s in [np.flatnonzero(np.isclose(r, x[0], atol=0))] if any(np.array_equal(r[i : i + len(x)], x) for i in s)]
        assert hits, "each negative is a contiguous stretch of one background recording"
    again = stream.negative_excerpts(37, SR // 2, sr=SR, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(excerpts, again))
    assert StreamTraining(background=(str(background),), negatives=0).negative_excerpts(37, SR, sr=SR) == []


def test_copies_are_seeded_and_counted(background):
    stream = StreamTraining(background=(str(background),), copies=3)
    clip = burst(0.3, 0.6)
    a, b = stream.copies_of(clip, SR, seed=[5, 0]), stream.copies_of(clip, SR, seed=[5, 0])
    assert len(a) == 3 and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], stream.copies_of(clip, SR, seed=[6, 0])[0])
    assert len({x.tobytes() for x in a}) == 3
    assert stream.fingerprint() != StreamTraining(background=(str(background),), copies=2).fingerprint()
    assert stream.fingerprint() != StreamTraining(background=(str(background),), copies=3, snr_db="5,20").fingerprint()


def test_false_firing_returns_exactly_the_windows_at_or_above_the_threshold_highest_first():
    scores = np.array([[0.9, 0.1, 0.0],   # label column 0 (background): never fires
                       [0.2, 0.7, 0.1],
                       [0.1, 0.2, 0.5],
                       [0.5, 0.49, 0.01],
                       [0.0, 0.3, 0.95]])
    assert false_firing(scores, [1, 2], 0.5).tolist() == [4, 1, 2]
    assert false_firing(scores, [1, 2], 0.5, limit=2).tolist() == [4, 1]
    assert false_firing(scores, [1, 2], 0.96).tolist() == []
    assert false_firing(np.zeros((0, 3)), [1], 0.5).tolist() == []


def test_bad_backgrounds_and_settings_are_one_clear_line_each(tmp_path, background):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ParameterError, match=r"'stream'.*holds no audio files"):
        StreamTraining(background=(str(empty),))
    with pytest.raises(ParameterError, match=r"'stream'.*does not exist"):
        StreamTraining(background=(str(tmp_path / "nowhere"),))
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.wav").write_text("not audio")
    sf.write(junk / "short.wav", np.ones(100, np.float32) * 0.1, SR)
    sf.write(junk / "silent.wav", np.zeros(3 * SR, np.float32), SR)
    with pytest.raises(ParameterError, match=r"none of its 3 audio files is usable"):
        StreamTraining(background=(str(junk),)).recordings(SR)
    for kw, match in (({"snr_db": "20,0"}, "low end above"), ({"snr_db": "a,b"}, "two numbers"), ({"snr_db": (float("nan"), 1)}, "stream_snr"),
                      ({"copies": 1.5}, "stream_copies"), ({"negatives": -1}, "stream_negatives"), ({"rounds": 11}, "hard_negative_rounds"),
                      ({"label": "a;b"}, "stream_label"), ({"threshold": 0}, "mining_threshold")):
        with pytest.raises(ParameterError, match=match):
            StreamTraining(background=(str(background),), **kw)


def test_cut_off_words_keep_20_to_60_percent_of_the_voiced_part_at_one_edge(background):
    from earmark.augment.stream import cut_off

    clip = burst(0.3, 0.7)
    rng = np.random.default_rng(0)
    edges = set()
    for _ in range(200):
        shift, keep = cut_off(clip, rng, sr=SR)
        out = place(clip, np.zeros_like(clip), Draw(shift, 10, 0, 0), sr=SR)
        on = np.flatnonzero(np.abs(out) > 1e-6)
        left = (on[-1] - on[0] + 1) / (0.4 * SR)
        assert 0.2 <= keep <= 0.6 and left == pytest.approx(keep, abs=0.01)
        assert on[0] <= 2 or on[-1] >= len(clip) - 2  # at the window's start (its end) or at its end (its start)
        edges.add(bool(on[0] <= 2))
    assert edges == {True, False}
    stream = StreamTraining(background=(str(background),), partials=0.5)
    assert len(stream.partial_words([clip] * 9, sr=SR, seed=2)) == 4  # round(0.5 * 9)


def test_train_stream_options_fail_in_one_line_before_any_work_and_write_nothing(tmp_path, monkeypatch):
    """A background folder with no usable audio, and stream options with what they cannot go with, via the CLI."""
    from typer.testing import CliRunner

    from earmark.cli import app
    from earmark.embeddings import cache as cache_module
    from tests.conftest import make_demo_subset

    data = make_demo_subset(tmp_path / "data")
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.wav").write_text("not audio")
    sf.write(junk / "silent.flac", np.zeros(2 * SR, np.float32), SR)
    embedded = []
    monkeypatch.setattr(cache_module.EmbeddingCache, "get", lambda *a, **k: embedded.append(a) or pytest.fail("embedded"))
    out = tmp_path / "m.earmark"
    cases = [(["--stream", junk], "'--stream' option (" + str(junk) + "): none of its 2 audio files is usable"),
             (["--stream", tmp_path / "empty"], "does not exist"),
             (["--stream", junk.parent / "data", "--stream-snr", "30,10"], "'--stream-snr' option (30,10) has its low end above"),
             (["--stream", junk, "--cv", "3"], "--stream works with a DATA folder of clips and trains one model; leave out --cv"),
             (["--stream", junk, "--hard-negative-rounds", "-1"], "'--hard-negative-rounds' option must be an integer")]
    for extra, message in cases:
        r = CliRunner().invoke(app, ["train", str(data), "--out", str(out), "--embedder", "mfcc", *map(str, extra)])
        assert r.exit_code != 0 and message in r.output, (extra, r.output)
        assert "Traceback" not in r.output and len([ln for ln in r.output.splitlines() if ln.startswith("error:")]) == 1
        assert not out.exists() and not embedded
