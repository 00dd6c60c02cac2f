"""Issue 25, defect 10: labels are read as the user meant them, and checked against the model before any audio work."""

from __future__ import annotations

import csv

import pytest

import earmark
from earmark.errors import DatasetError, ParameterError
from tests.conftest import make_demo_subset
from tests.hostile.conftest import one_line_error, run


def _relabel(data, edit, header=("filename", "label")):
    rows = list(csv.DictReader(open(data / "metadata.csv")))
    with open(data / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i, r in enumerate(rows):
            w.writerow(edit(i, r))
    return rows


def test_one_empty_label_is_a_skipped_row_not_a_tagger(tmp_path):
    data = make_demo_subset(tmp_path / "d")
    rows = _relabel(data, lambda i, r: [r["filename"], "" if i == 0 else r["label"]])
    model = earmark.train(data, embedder="mfcc", cache_dir=tmp_path / "cache")
    assert not model.estimator.is_tagger and model.classes == ["dog", "rain", "rooster"]
    assert [s["file"].rsplit("/", 1)[-1] for s in model.info["skipped"]] == [rows[0]["filename"]]
    out = run("predict", model.save(tmp_path / "m.earmark"), data / rows[1]["filename"], "--format", "csv").output
    assert ",," not in out


def test_a_lone_semicolon_says_none_of_the_tags(tmp_path):
    data = make_demo_subset(tmp_path / "d")
    _relabel(data, lambda i, r: [r["filename"], ";" if i % 3 == 0 else r["label"]])
    model = earmark.train(data, embedder="mfcc", cache_dir=tmp_path / "cache")
    assert model.estimator.is_tagger and model.info["data"]["n_files"] == 9


def test_a_column_named_twice_is_an_error(tmp_path):
    data = make_demo_subset(tmp_path / "d")
    _relabel(data, lambda i, r: [r["filename"], r["label"], str(i % 3 + 1)], header=("filename", "label", "label"))
    with pytest.raises(DatasetError, match="'label' 2 times"):
        earmark.train(data, embedder="mfcc")
    one_line_error(run("train", data, "--embedder", "mfcc", "--out", tmp_path / "m.earmark"), "metadata.csv", "'label' 2 times")


def test_labels_a_model_cannot_learn_are_refused_before_any_audio_is_read(tmp_path):
    data = make_demo_subset(tmp_path / "d")
    rows = _relabel(data, lambda i, r: [r["filename"], "dog;rain" if i == 0 else r["label"]])
    for r in rows:  # not audio at all: reading any of it would fail first
        (data / r["filename"]).write_text(f"not audio: {r['filename']}")
    with pytest.raises(ParameterError, match="metric learns from one class per clip"):
        earmark.train(data, model="metric", embedder="mfcc", cache_dir=tmp_path / "cache")
    with pytest.raises(ParameterError, match="reject='proba' is for single-label models"):
        earmark.evaluate(data, embedder="mfcc", model_params={"reject": "proba"}, cv=2, cache_dir=tmp_path / "cache")
