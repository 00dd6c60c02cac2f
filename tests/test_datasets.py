"""Real-data checks on the shared datasets (run in CI; skipped on machines without them)."""

import numpy as np
import pytest

import earmark
from earmark.embeddings import get_embedder


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One embedding cache for this module: each (file, embedder) is embedded once across tests."""
    return tmp_path_factory.mktemp("cache")


def test_esc10_aisfx_logreg_reaches_93_percent(esc10, shared_cache):
    cache_dir = shared_cache
    result = earmark.evaluate(esc10, embedder="aisfx", classifier="logreg", folds="fold", cache_dir=cache_dir)
    assert result["n_files"] == 400 and result["n_skipped"] == 0
    assert [f["fold"] for f in result["folds"]] == ["1", "2", "3", "4", "5"]
    assert result["accuracy_mean"] >= 0.93
    # the cached second run does no audio work and agrees exactly
    again = earmark.evaluate(esc10, embedder="aisfx", classifier="logreg", folds="fold", cache_dir=cache_dir)
    assert again["accuracy_mean"] == result["accuracy_mean"]
    assert again["seconds"]["embed"] < result["seconds"]["embed"] / 5


def test_esc10_mfcc_1nn_baseline_near_reference(esc10, shared_cache):
    cache_dir = shared_cache
    result = earmark.evaluate(esc10, embedder="mfcc", classifier="knn", folds="fold", cache_dir=cache_dir)
    assert 0.55 <= result["accuracy_mean"] <= 0.72  # reference implementation: 62.8%


def test_fsdd_files_embed_at_8khz(fsdd):
    e = get_embedder("mfcc").embed_file(fsdd / "audio" / "0_george_0.wav")
    assert e.vectors.shape[1] == 40 and np.isfinite(e.vectors).all()


def test_fsdd_official_split_digit_and_speaker(fsdd, cache_dir):
    for task, floor in (("digit", 0.9), ("speaker", 0.95)):
        r = earmark.evaluate(fsdd, embedder="mfcc", classifier="knn", label_column=task, folds="split",
                             test_folds=["test"], cache_dir=cache_dir)
        assert [f["fold"] for f in r["folds"]] == ["test"]
        assert r["folds"][0]["n_test"] == 300 and r["folds"][0]["n_train"] == 2700
        assert r["accuracy_mean"] >= floor  # measured 0.97 and 1.00


def test_esc10_few_shot_transfer_beats_mfcc_by_25_points_at_8_clips(esc10, shared_cache):
    r = earmark.curve(esc10, embedders=["mfcc", "aisfx"], classifiers=["knn", "logreg"], shots=[8], repeats=3,
                      folds="fold", cache_dir=shared_cache)
    acc = {(s["embedder"], s["classifier"]): s["accuracy_mean"] for s in r["summary"]}
    assert len(r["runs"]) == 5 * 3 * 2 * 2
    assert acc[("aisfx", "logreg")] - acc[("mfcc", "knn")] >= 0.25
    assert all(s["ci95_low"] <= s["accuracy_mean"] <= s["ci95_high"] for s in r["summary"])
