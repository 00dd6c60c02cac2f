"""Waveform augmentation: exact when its draw is frozen, repeatable for a seed, copies in training only."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from earmark.augment import WaveAugment, parse_augment, waveform_part
from earmark.augment.wave import _seeded
from earmark.errors import ParameterError

SR = 16000


@pytest.fixture
def tone() -> np.ndarray:
    t = np.arange(SR) / SR
    return (0.3 * np.sin(2 * np.pi * 440 * t) * np.linspace(0, 1, SR)).astype(np.float32)


def test_frozen_gain_and_shift_are_exact(tone):
    import audiomentations as A

    from earmark.augment.wave import apply_chain

    gain = A.Compose([A.Gain(min_gain_db=6.0, max_gain_db=6.0, p=1.0)])
    np.testing.assert_allclose(apply_chain(gain, tone, SR), tone * 10 ** (6 / 20), rtol=1e-5)
    shift = A.Compose([A.Shift(min_shift=100, max_shift=100, shift_unit="samples", rollover=True, fade_duration=0, p=1.0)])
    np.testing.assert_array_equal(apply_chain(shift, tone, SR), np.roll(tone, 100))


def test_frozen_pitch_shift_moves_the_tone_by_the_semitones(tone):
    import audiomentations as A

    from earmark.augment.wave import apply_chain

    out = apply_chain(A.Compose([A.PitchShift(min_semitones=2.0, max_semitones=2.0, p=1.0)]), tone, SR)
    spectrum = np.abs(np.fft.rfft(out[SR // 2 :]))
    peak_hz = np.argmax(spectrum) * SR / (SR - SR // 2)
    assert abs(peak_hz - 440 * 2 ** (2 / 12)) < 6  # 493.9 Hz


def test_copies_repeat_for_a_seed_and_differ_between_seeds_and_copies(tone):
    aug = WaveAugment(pitch=2.0, noise=10.0, gain=6.0, copies=3, p=1.0)
    a, b = aug.copies_of(tone, SR, seed=7), aug.copies_of(tone, SR, seed=7)
    assert len(a) == 3 and all(len(c) == len(tone) and c.dtype == np.float32 for c in a)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.allclose(a[0], a[1])
    assert not np.allclose(aug.copies_of(tone, SR, seed=8)[0], a[0])


def test_seeding_leaves_the_global_generators_as_they_were():
    import random

    np.random.seed(1)
    random.seed(1)
    expected = (np.random.random(), random.random())
    np.random.seed(1)
    random.seed(1)
    with _seeded([5, 0]):
        np.random.random(), random.random()
    assert (np.random.random(), random.random()) == expected


def test_strengths_and_settings_are_read_from_the_augment_value(tmp_path):
    assert waveform_part("specaugment,mixup") is None
    w = waveform_part("shift,pitch=3,noise=20,copies=4,p=1")
    assert (w.shift, w.pitch, w.noise, w.copies, w.p, w.stretch) == (0.25, 3.0, 20.0, 4, 1.0, None)
    (tmp_path / "bg").mkdir()
    sf.write(tmp_path / "bg" / "hum.wav", np.zeros(1600, np.float32), 16000)
    assert waveform_part(f"background={tmp_path / 'bg'},background_snr=10").background_snr == 10.0


@pytest.mark.parametrize("value, message", [
    ("copies=3", "names no waveform transform"),
    ("stretch=1.5", "stretch must be in"),
    ("pitch=-1", "augment pitch"),
    ("background", "needs a folder"),
    ("background=/no/such/folder", "background=/no/such/folder is not a folder"),
    ("pitch,copies=0", "augment copies"),
])
def test_bad_waveform_options_are_one_line_naming_the_option(value, message):
    with pytest.raises(ParameterError, match=message):
        parse_augment(value)


def test_a_background_folder_without_audio_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("no audio here")
    with pytest.raises(ParameterError, match="holds no audio files"):
        parse_augment(f"background={tmp_path}")


def test_background_mixing_adds_the_background_at_the_asked_snr(tone, tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "bg").mkdir()
    sf.write(tmp_path / "bg" / "noise.wav", (0.1 * rng.standard_normal(SR)).astype(np.float32), SR)
    aug = WaveAugment(background=str(tmp_path / "bg"), background_snr=10.0, p=1.0, copies=1)
    out = aug.copies_of(tone, SR, seed=0)[0]
    residual = out - tone
    snr = 10 * np.log10(np.mean(tone ** 2) / np.mean(residual ** 2))
    assert 9.0 < snr < 31.0  # drawn between 10 and 30 dB


def test_copies_are_cached_and_the_same_on_a_second_run(tmp_path, demo_subset):
    from earmark.embeddings import EmbeddingCache, get_embedder

    emb, clip = get_embedder("mfcc"), sorted(demo_subset.glob("*.flac"))[0]
    aug = WaveAugment(pitch=2.0, copies=2, p=1.0)
    cache = EmbeddingCache(tmp_path / "cache")
    first = cache.get_copies(emb, clip, aug, seed=0)
    assert cache.misses == 2 and len(first) == 2
    second = cache.get_copies(emb, clip, aug, seed=0)
    assert cache.hits == 2
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.vectors, b.vectors)
    original = emb.embed_file(clip)
    assert first[0].vectors.shape == original.vectors.shape and not np.allclose(first[0].vectors, original.vectors)
