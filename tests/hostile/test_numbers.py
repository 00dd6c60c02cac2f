"""Issue 25, defects 3, 7 (options) and 12: absurd numbers on the command line are refused, by name, before any work."""

from __future__ import annotations

import pytest

from tests.conftest import DEMO
from tests.hostile.conftest import one_line_error, run

MIX = ["mix", "--backgrounds", DEMO / "train", "--events", DEMO / "train", "--n", "2"]


@pytest.mark.parametrize("args, option", [
    (["--duration-s", "1e9"], "--duration-s"),
    (["--duration-s", "nan"], "--duration-s"),
    (["--sample-rate", "1000000000"], "--sample-rate"),
    (["--ebr-db", "1e9", "--event-rate", "1"], "--ebr-db"),
    (["--ebr-db", "200"], "--ebr-db"),
    (["--ebr-db=-300"], "--ebr-db"),
    (["--event-rate", "inf"], "--event-rate"),
    (["--max-events", "0"], "--max-events"),
])
def test_mix_refuses_absurd_values_before_any_work(tmp_path, args, option):
    out = tmp_path / "mixtures"
    one_line_error(run(*MIX, "--out", out, *args), option)
    assert not out.exists()  # nothing was made, not even the folder


def test_mix_n_is_named_as_typed(tmp_path):
    one_line_error(run("mix", "--backgrounds", DEMO / "train", "--events", DEMO / "train", "--n", "0", "--out", tmp_path / "m"), "--n")


@pytest.mark.parametrize("hop", ["inf", "nan", "-1", "0"])
def test_listen_refuses_a_hop_that_is_not_a_finite_positive_number(trained, hop):
    _, model, _ = trained
    one_line_error(run("listen", model, "--input", "-", "--hop-s", hop, input=b""), "--hop-s")


@pytest.mark.parametrize("args, option", [
    (["--port", "70000"], "--port"), (["--port", "0"], "--port"), (["--max-upload-mb", "-1"], "--max-upload-mb"),
    (["--timeout-s", "0"], "--timeout-s"), (["--timeout-s", "inf"], "--timeout-s"), (["--max-jobs", "0"], "--max-jobs"),
])
def test_serve_refuses_absurd_settings_before_starting(trained, args, option):
    _, model, _ = trained
    one_line_error(run("serve", model, *args), option)


def test_serve_refuses_to_start_with_a_bad_model_naming_it(trained, tmp_path):
    _, model, _ = trained
    bad = tmp_path / "bad.earmark"
    bad.write_text("not a model")
    one_line_error(run("serve", bad, model), "bad.earmark")


def test_a_test_fold_without_a_fold_column_is_refused_before_embedding(trained):
    import earmark
    from earmark.errors import ParameterError

    data, _, cache = trained
    one_line_error(run("evaluate", data, "--embedder", "mfcc", "--cv", "3", "--test-fold", "1"), "--test-fold", "--folds")
    with pytest.raises(ParameterError, match="test_folds"):
        earmark.evaluate(data / "nowhere", embedder="mfcc", cv=3, test_folds=["1"])  # refused before the folder is read
