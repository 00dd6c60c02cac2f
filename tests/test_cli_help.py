"""The command line explains itself: every command's --help states what each option takes in words and the choices of
fixed-choice options (never a Python type), shows examples that use real options, and the commands come in panels; a
misspelt model, embedder, format or class name gets a "did you mean"; the common mix-ups get a line that says what
happened and what to type instead."""

from __future__ import annotations

import re
import shlex

import pytest
import typer
from typer.testing import CliRunner

from conftest import DEMO, make_demo_subset
from earmark.cli import app
from earmark.cli._shared import CHOICES
from earmark.cli.examples import EXAMPLES

PYTHON_TYPE = re.compile(r"<(str|int|float|bool|path|list\[[^\]]*\]|[A-Za-z_]+\[[^\]]*\])>")


def _commands():
    group = typer.main.get_command(app)
    ctx = group.make_context("earmark", [], resilient_parsing=True)
    return [(name, group.get_command(ctx, name), ctx) for name in group.list_commands(ctx)]


def _help(name: str) -> str:
    r = CliRunner().invoke(app, [name, "--help"], terminal_width=120)
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.parametrize("name", [name for name, *_ in _commands()])
def test_every_help_says_what_an_option_takes_and_shows_examples_with_real_options(name):
    text = _help(name)
    assert not PYTHON_TYPE.search(text), PYTHON_TYPE.search(text).group(0)
    assert "Examples:" in text and all(f"$ {line}" in text for line in EXAMPLES[name])
    command = dict((n, c) for n, c, _ in _commands())[name]
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    for line in EXAMPLES[name]:
        words = shlex.split(line.split("  #")[0])
        assert words[:2] == ["earmark", name]
        used = {w.split("=")[0] for w in words if w.startswith("-")}
        assert used <= known, f"{name}: the example uses {sorted(used - known)}, which the command does not take"
    for option, metavar in re.findall(r"(--[\w-]+) \[([\w|-]+)\]", text):  # a fixed-choice option shows its choices
        assert metavar in {"|".join(v) for v in CHOICES.values()}, (option, metavar)


def test_the_choices_shown_are_the_library_s_own():
    """The CLI spells its choices out (so --help imports no library module); they must be what the library checks."""
    from earmark.api.deploy import EXPORT_FORMATS
    from earmark.embeddings.aisfx import BACKENDS
    from earmark.explore.cluster import METHODS
    from earmark.explore.label import STRATEGIES
    from earmark.explore.maps import COLORS, PROJECTIONS
    from earmark.models.aggregation import AGGREGATIONS
    from earmark.models.heads import CLASSIFIERS
    from earmark.models.openset import CALIBRATIONS, REJECTIONS
    from earmark.models.tagger import TRANSFERS

    library = {"export": EXPORT_FORMATS, "backend": BACKENDS, "method": METHODS, "strategy": STRATEGIES, "color": COLORS,
               "projection": PROJECTIONS, "aggregation": AGGREGATIONS, "classifier": tuple(CLASSIFIERS),
               "calibration": tuple(c for c in CALIBRATIONS if c != "none"), "reject": tuple(r for r in REJECTIONS if r != "none"),
               "transfer": TRANSFERS}
    for kind, values in library.items():
        assert tuple(CHOICES[kind]) == tuple(values), kind


def test_the_commands_come_in_panels_with_whole_summaries():
    r = CliRunner().invoke(app, ["--help"], terminal_width=100)
    panels = ["Train and evaluate:", "Use a model:", "Voices and keywords:", "Collections:", "Deploy and serve:"]
    assert all(p in r.output for p in panels) and [r.output.index(p) for p in panels] == sorted(r.output.index(p) for p in panels)
    assert "..." not in r.output.replace("ARGS]...", "")  # no summary cut short
    train_panel = r.output[r.output.index("Train and evaluate:"):r.output.index("Use a model:")]
    assert "train " in train_panel and "predict " not in train_panel


def _fails(args, *expect):
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1, r.output
    line = r.output.strip().splitlines()[-1]
    for text in expect:
        assert text in line, line
    return line


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small model (mfcc + knn, two clips of each of three classes) and its data."""
    root = tmp_path_factory.mktemp("trained")
    data, model = make_demo_subset(root / "data", per_class=2), root / "demo.earmark"
    r = CliRunner().invoke(app, ["train", str(data), "--classifier", "knn", "--embedder", "mfcc", "--out", str(model), "-q"])
    assert r.exit_code == 0, r.output
    return model, data


def test_a_misspelt_name_gets_a_did_you_mean(trained, tmp_path):
    """Model, embedder, label-format and class names, each refused before any audio is read."""
    model, data = trained
    _fails(["train", str(data), "--model", "logrg", "--out", str(tmp_path / "m.earmark")], "Did you mean 'logreg'?")
    _fails(["train", str(data), "--classifier", "tree", "--out", str(tmp_path / "m.earmark")], "Did you mean 'rf'?")  # another name
    _fails(["train", str(data), "--embedder", "asifx", "--out", str(tmp_path / "m.earmark")], "Did you mean 'aisfx'?")
    _fails(["detect", str(model), str(data), "--format", "ravn", "--out", str(tmp_path / "ev")], "Did you mean 'raven'?")
    from earmark.errors import ParameterError
    from earmark.inference.keywords import keyword_columns

    with pytest.raises(ParameterError, match="Did you mean 'stop'"):
        keyword_columns(["yes", "no", "stop"], ["yes", "stpo"])
    assert not (tmp_path / "m.earmark").exists() and not (tmp_path / "ev").exists()


def test_the_common_mix_ups_are_named(trained, tmp_path, caplog):
    model, data = trained
    unseen = DEMO / "unseen"
    _fails(["predict", str(unseen), str(model)], "is not a model file but", f"earmark predict {model} {unseen}")
    _fails(["detect", str(unseen), str(model)], "the model comes first")
    _fails(["predict", str(data), str(unseen)], "a folder, not a model file")
    _fails(["predict", str(DEMO / "LICENSE.md"), str(unseen)], "not an earmark model file")
    splits = tmp_path / "splits"  # DATA given one level too high: its 'classes' are the splits
    make_demo_subset(splits / "train", per_class=1)
    make_demo_subset(splits / "unseen", per_class=1)
    from earmark.data import load_dataset

    with caplog.at_level("WARNING", logger="earmark"):
        load_dataset(splits)
    assert "look like splits" in caplog.text and str(splits / "train") in caplog.text
