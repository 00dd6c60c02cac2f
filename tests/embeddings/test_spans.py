"""Long recordings embedded in stretches (earmark.embeddings.spans): the same windows as one pass, for every front end.

The 40-s file is cut into 10-s stretches, far shorter than the 600 s a cluster uses, so that every seam is tested
several times; each stretch still carries its few windows of warm-up on both sides."""

import numpy as np
import pytest
import soundfile as sf

from conftest import DEMO, available
from earmark.audio import stream
from earmark.embeddings import EMBEDDERS, get_embedder, spans


@pytest.fixture(scope="module")
def long_file(tmp_path_factory):
    """40 s at 44.1 kHz: eight real demo clips end to end (44.1 kHz is resampled by every front end but aisfx)."""
    clips = sorted((DEMO / "train").glob("*.flac"))[::10][:8]
    y = np.concatenate([sf.read(c, dtype="float32")[0] for c in clips])
    path = tmp_path_factory.mktemp("spans") / "long.flac"
    sf.write(path, y, 44100)
    return path


def test_a_stream_of_part_of_a_file_is_that_part(long_file):
    y, _ = sf.read(long_file, dtype="float32")
    part = np.concatenate(list(stream(long_file, start=44100, stop=3 * 44100, block_frames=10_000)))
    np.testing.assert_array_equal(part, y[44100 : 3 * 44100])
    assert np.concatenate(list(stream(long_file, start=len(y) - 5))).tolist() == y[-5:].tolist()


@pytest.mark.parametrize("name", sorted(EMBEDDERS))
def test_stretches_give_the_windows_of_one_pass(long_file, name):
    front = available(name)
    whole = front.embed_file(long_file)
    plan = spans.plan(front, long_file, 10.0)
    joined = spans.embed_whole(front, long_file, 10.0)
    if not front.splittable:
        assert plan == [spans.Span(0, None)]  # run whole: nothing to compare
        return
    assert len(plan) >= 3 and plan[-1].count is None
    assert len(joined.times_s) == len(whole.times_s)
    np.testing.assert_allclose(joined.times_s, whole.times_s, rtol=0, atol=1e-9)
    np.testing.assert_allclose(joined.level_db, whole.level_db, rtol=0, atol=1e-3)
    assert joined.duration_s == pytest.approx(whole.duration_s, abs=1e-9)
    # resampled stretches equal the one-pass stream to float32 rounding (2e-7); BirdNET's network amplifies that most
    # (a few windows differ by up to 4e-3 of the largest value, every window's cosine to its one-pass twin > 0.99999)
    a, b = joined.vectors.reshape(len(joined.vectors), -1), whole.vectors.reshape(len(whole.vectors), -1)
    assert np.abs(a - b).max() <= (5e-3 if name == "birdnet" else 1e-3) * np.abs(b).max()
    cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    assert cos[np.linalg.norm(b, axis=1) > 0].min() > 1 - 1e-5


def test_aisfx_stretches_use_the_whole_files_peak(long_file):
    front = get_embedder("aisfx")
    plan = spans.plan(front, long_file, 8.0)
    peaks = [spans.span_peak(front, long_file, s) for s in plan]
    y, _ = sf.read(long_file, dtype="float32")
    assert max(peaks) == np.abs(y).max() and min(peaks) < max(peaks)  # the stretches differ; the file's peak is theirs
    alone = spans.embed_span(front, long_file, plan[1])  # a stretch normalised by its own peak is not the same
    given = spans.embed_span(front, long_file, plan[1], peak=max(peaks))
    assert np.abs(alone.vectors - given.vectors).max() > 1e-2


def test_short_files_and_fused_front_ends_run_whole(long_file):
    assert spans.plan(get_embedder("mfcc"), long_file, 30.0) == [spans.Span(0, None)]  # fewer than two stretches
    assert spans.plan(get_embedder("aisfx+mfcc"), long_file, 8.0) == [spans.Span(0, None)]



@pytest.mark.parametrize("rate", [48000, 44101])  # a field recorder's rate; one sharing no factor with 44.1 kHz
def test_any_file_rate_splits_with_a_few_windows_of_warm_up(tmp_path, long_file, rate):
    import soxr

    y, _ = sf.read(long_file, dtype="float32")
    path = tmp_path / f"at-{rate}.wav"
    sf.write(path, soxr.resample(y, 44100, rate).astype(np.float32), rate)
    front = get_embedder("aisfx")
    assert spans._grid(front, rate).margin == 3  # whole windows of warm-up, whatever the rates' common factors
    whole, joined = front.embed_file(path), spans.embed_whole(front, path, 8.0)
    assert len(spans.plan(front, path, 8.0)) >= 4 and len(joined.times_s) == len(whole.times_s)
    np.testing.assert_allclose(joined.times_s, whole.times_s, atol=1e-9)
    assert np.abs(joined.vectors - whole.vectors).max() <= 1e-3 * np.abs(whole.vectors).max()
