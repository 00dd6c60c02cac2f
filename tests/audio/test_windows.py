import numpy as np
import pytest

from earmark.audio import frame_windows, rms_db
from earmark.errors import ParameterError


def test_windows_overlap_and_start_times():
    y = np.arange(10 * 100, dtype=np.float32)
    w, starts = frame_windows(y, sr=100, window_s=1.0, hop_s=0.25)
    assert w.shape == (37, 100)
    np.testing.assert_array_equal(w[1], y[25:125])
    np.testing.assert_allclose(np.diff(starts), 0.25)


def test_short_clip_is_padded_to_one_window():
    w, starts = frame_windows(np.ones(30, np.float32), sr=100, window_s=1.0, hop_s=0.5)
    assert w.shape == (1, 100) and w[0, :30].sum() == 30 and w[0, 30:].sum() == 0


def test_rms_db_of_full_scale_square_is_zero():
    assert np.isclose(rms_db(np.ones((1, 100)))[0], 0.0)
    assert rms_db(np.zeros((1, 100)))[0] == -120.0


@pytest.mark.parametrize("bad", [0, -1.0, "1"])
def test_bad_hop_is_rejected(bad):
    with pytest.raises(ParameterError, match="hop_s"):
        frame_windows(np.zeros(100, np.float32), sr=100, window_s=1.0, hop_s=bad)


def test_peak_normalize_scales_each_window():
    from earmark.audio import peak_normalize

    w = np.array([[0.0, 0.5, -0.25], [0.0, 0.0, 0.0], [2.0, -4.0, 1.0]], np.float32)
    out = peak_normalize(w)
    np.testing.assert_allclose(out, [[0, 1, -0.5], [0, 0, 0], [0.5, -1, 0.25]])


def test_mfcc_window_normalisation_makes_level_irrelevant(rng):
    from earmark.embeddings import get_embedder

    y = 0.3 * rng.normal(size=22050 * 2).astype(np.float32)
    e = get_embedder("mfcc", normalize=True)
    loud, quiet = e.embed(y, sr=22050), e.embed(0.01 * y, sr=22050)
    np.testing.assert_allclose(loud.vectors, quiet.vectors, rtol=1e-3, atol=1e-3)
    assert np.all(loud.level_db - quiet.level_db > 29)  # gating still sees the true level
    plain = get_embedder("mfcc")
    assert not np.allclose(plain.embed(y, sr=22050).vectors, plain.embed(0.01 * y, sr=22050).vectors, atol=1e-3)
