"""SpecAugment and mixup: exact when the draw is frozen, random only through the seed, never at scoring time."""

from __future__ import annotations

import numpy as np
import pytest

from earmark.augment import Mixup, SpecAugment, parse_augment
from earmark.errors import ParameterError


def test_specaugment_applies_exactly_the_frozen_masks(rng):
    x = rng.normal(size=(2, 10, 8)).astype(np.float32)
    out = SpecAugment.apply(x, np.array([[2, 3, 5, 2], [0, 0, 0, 0]]))
    want = x.copy()
    want[0, 2:5, :] = 0.0
    want[0, :, 5:7] = 0.0
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(out[1], x[1])  # zero widths leave a patch as it is
    assert not np.shares_memory(out, x)


def test_specaugment_draws_stay_inside_the_patch_and_respect_p(rng):
    params = SpecAugment(max_freq_fraction=0.5, max_time_fraction=0.25).draw(rng, 500, (20, 16))
    f0, fw, t0, tw = params.T
    assert (fw <= 10).all() and (tw <= 4).all() and (f0 + fw <= 20).all() and (t0 + tw <= 16).all()
    assert fw.max() == 10 and tw.max() == 4
    off = SpecAugment(p=1e-9).draw(rng, 100, (20, 16))
    assert (off[:, 1] == 0).all() and (off[:, 3] == 0).all()


def test_mixup_targets_sum_to_one_and_mix_the_partner(rng):
    x = rng.normal(size=(6, 4, 3)).astype(np.float32)
    targets = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]]
    lam, partner = np.array([1, 0, 0.25, 0.5, 0.75, 0.1], np.float32), np.array([1, 2, 3, 4, 5, 0])
    mixed, soft = Mixup.apply(x, targets, (lam, partner))
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(mixed[0], x[0])
    np.testing.assert_allclose(mixed[1], x[2])
    np.testing.assert_allclose(mixed[2], 0.25 * x[2] + 0.75 * x[3], rtol=1e-6)
    np.testing.assert_allclose(soft[2], [0.75, 0, 0.25], rtol=1e-6)


def test_draws_repeat_for_a_seed():
    a = Mixup().draw(np.random.default_rng(5), 8)
    b = Mixup().draw(np.random.default_rng(5), 8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = Mixup().draw(np.random.default_rng(6), 8)
    assert not np.array_equal(a[0], c[0])


def test_unknown_augmentations_are_named():
    assert parse_augment("specaugment, mixup") == ["specaugment", "mixup"] and parse_augment(None) == []
    assert parse_augment("mixup=0.4,pitch=3") == ["mixup=0.4", "pitch=3"]
    with pytest.raises(ParameterError, match="'reverb'.*specaugment, mixup, shift"):
        parse_augment("reverb")
    with pytest.raises(ParameterError, match="'pitch' twice"):
        parse_augment("pitch,pitch=2")
    with pytest.raises(ParameterError, match="mixup=strong is not a number"):
        parse_augment("mixup=strong")


def test_augmentation_is_used_in_training_and_never_when_scoring(rng):
    from earmark.models import get_model

    X = list(rng.normal(0, 1, (16, 2, 12, 10)).astype(np.float32))
    y = np.array(["a", "b"] * 8)
    plain = get_model("timbre", max_epochs=2, validation_fraction=0.0).fit(X, y)
    augmented = get_model("timbre", max_epochs=2, validation_fraction=0.0, augment="specaugment,mixup").fit(X, y)
    assert not np.allclose(plain.predict_proba(X), augmented.predict_proba(X))  # training saw other batches
    np.testing.assert_array_equal(augmented.predict_proba(X), augmented.predict_proba(X))  # scoring is deterministic
