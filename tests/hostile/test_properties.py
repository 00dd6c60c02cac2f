"""Issue 25, closing the class: hostile numbers (NaN, infinities, 0, negatives, 1e300, 2^63) thrown at every numeric
option of every command and at every number the model, voice-database and store readers take from their files.

The property: never a traceback; a refusal is one line (``error: ...`` naming the option or file, or click's usage
error for a value that is not a number of the option's type). The number of examples run per command is written to
``out/property_examples.json`` (a CI artifact) and must reach a floor per command.
"""

from __future__ import annotations

import json
import os
import tempfile
import types
import typing
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from earmark.cli import app
from tests.conftest import DEMO, REPO
from tests.hostile.conftest import run

HOSTILE_FLOATS = ["nan", "-nan", "inf", "-inf", "0", "-0.0", "-1", "-1e300", "1e300", "1e-300", "1e9", "0.5", "2.5e-8"]
HOSTILE_INTS = ["0", "-1", "-9223372036854775808", "9223372036854775808", str(10**30), "1000000000", "2", "nan", "1.5"]
EXAMPLES: dict[str, int] = {}
PROFILE = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _base(annotation):
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if args and typing.get_origin(annotation) in (typing.Union, types.UnionType) else annotation


def numeric_options() -> list[tuple[str, str, type]]:
    """Every ``(command, option, int or float)`` of the CLI, read from the commands themselves."""
    group = typer.main.get_command(app)
    out = []
    for name, command in sorted(group.commands.items()):
        for p in command.params:
            kind = _base(p.type_descriptor.annotation)
            if kind in (int, float) and p.opts:
                out.append((name, max(p.opts, key=len), kind))
    return out


OPTIONS = numeric_options()


@pytest.fixture(scope="module")
def world(trained, tmp_path_factory):
    """What the commands need to run for real: the trained model, a store, a voice database, a tiny recording."""
    data, model, cache = trained
    root = tmp_path_factory.mktemp("world")
    store = root / "store"
    assert run("index", DEMO / "unseen", "--store", store, "--embedder", "mfcc", "-q").exit_code == 0
    clip = DEMO / "unseen" / "2-100786-A-1.flac"
    return {"data": data, "model": model, "cache": cache, "store": store, "clip": clip, "root": root}


def base_args(command: str, w: dict, scratch: Path) -> list | None:
    """A cheap, valid invocation of ``command`` (before the option under test); None for commands with no numeric option."""
    d, m, c, s, clip = w["data"], w["model"], ["--cache-dir", w["cache"]], w["store"], w["clip"]
    return {
        "cluster": ["cluster", s],
        "compare": ["compare", d, "--embedders", "mfcc", "--models", "logreg", *c],
        "curve": ["curve", d, "--embedders", "mfcc", "--models", "logreg", "--shots", "1", *c],
        "detect": ["detect", m, clip, "--out", scratch / "events", *c],
        "evaluate": ["evaluate", d, "--embedder", "mfcc", *c],
        "evaluate-kws": ["evaluate-kws", m, d, "--keywords", "dog", *c],
        "index": ["index", clip, "--store", scratch / "store", "--embedder", "mfcc"],
        "label": ["label", s, "--model", m, "--out", scratch / "l.csv"],
        "listen": ["listen", m, "--input", "-"],
        "map": ["map", s, "--out", scratch / "map.html"],
        "mix": ["mix", "--backgrounds", d, "--events", d, "--out", scratch / "mix", "--duration-s", "1"],
        "predict": ["predict", m, clip, *c],
        "search": ["search", s, "--like", clip],
        "serve": ["serve", m, "--host", "0.0.0.0"],  # valid numbers end at the host check (no token): never starts
        "train": ["train", d, "--embedder", "mfcc", "--out", scratch / "m.earmark", *c],
    }.get(command)


def _one_clear_line(result) -> bool:
    if result.exit_code == 0:
        return True
    if result.exit_code == 2:  # click's usage error: a value that is not a number of the option's type
        return "Invalid value for" in result.output or "Error:" in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    return result.exit_code == 1 and len(lines) == 1 and len(lines[0]) < 2000


RUN = [o for o in OPTIONS if o[0] != "bench"]  # bench needs an exportable front end: its one option, test_bench_windows


@pytest.mark.parametrize("command, option, kind", RUN, ids=[f"{c} {o}" for c, o, _ in RUN])
def test_hostile_numbers_on_every_numeric_option(world, command, option, kind):
    scratch_root = Path(tempfile.mkdtemp(dir=world["root"]))
    assert base_args(command, world, scratch_root) is not None, f"no base invocation for {command}: add one to base_args"

    @PROFILE
    @given(value=st.sampled_from(HOSTILE_INTS if kind is int else HOSTILE_FLOATS)
           | (st.integers(-(2**70), 2**70).map(str) if kind is int else st.floats(allow_nan=True).map(repr)))
    def check(value):
        scratch = Path(tempfile.mkdtemp(dir=scratch_root))
        args = base_args(command, world, scratch)
        r = run(*args, f"{option}={value}" if option.startswith("--") else option, *([] if option.startswith("--") else [value]),
                "-q", input=b"")
        EXAMPLES[command] = EXAMPLES.get(command, 0) + 1
        assert r.exception is None or isinstance(r.exception, SystemExit), (value, r.output, r.exception)
        assert "Traceback" not in r.output, (value, r.output)
        assert _one_clear_line(r), (value, r.exit_code, r.output)

    check()


def test_bench_windows_is_checked(world):
    for value in ("0", "-1", "nan", str(10**30)):
        r = run("bench", world["model"], "--windows", value)
        assert r.exception is None or isinstance(r.exception, SystemExit)
        assert "Traceback" not in r.output and _one_clear_line(r), r.output
        EXAMPLES["bench"] = EXAMPLES.get("bench", 0) + 1


# --- the readers: every number a model file, a voice database or a store description holds --------------------------
def _numeric_paths(node, prefix=()):
    if isinstance(node, bool):
        return
    if isinstance(node, (int, float)):
        yield prefix
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _numeric_paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:3]):
            yield from _numeric_paths(v, (*prefix, i))


def _put(node, path, value):
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


READERS = settings(PROFILE, max_examples=40)
HOSTILE_VALUES = st.sampled_from([float("nan"), float("inf"), float("-inf"), 0, -1, -(2**63), 2**63, 10**300, 1e300, -1e300, 1e-300])


def test_hostile_numbers_in_model_descriptions(trained, tmp_path):
    from earmark.errors import ModelFileError
    from earmark.pipeline import Model
    from tests.hostile.crafted import rewrite

    _, model, _ = trained
    import zipfile

    with zipfile.ZipFile(model) as z:
        meta = json.loads(z.read("earmark.json"))
    fields = [p for p in _numeric_paths(meta) if p[0] not in ("parts",)]  # the parts' sizes are checked by their hashes
    assert len(fields) >= 10

    @READERS
    @given(field=st.sampled_from(fields), value=HOSTILE_VALUES)
    def check(field, value):
        bad = rewrite(model, tmp_path / "edited.earmark", meta_edit=lambda m: _put(m, field, value))
        EXAMPLES["model file"] = EXAMPLES.get("model file", 0) + 1
        try:
            Model.load(bad).predict(DEMO / "unseen" / "2-100786-A-1.flac")
        except ModelFileError as exc:
            assert len(str(exc)) < 2000
    check()


def test_hostile_numbers_in_voice_databases(tmp_path):
    from earmark.errors import ModelFileError
    from earmark.inference.voices import VoiceDB

    import numpy as np

    db = VoiceDB(tmp_path / "vdb", {"front_end": {"name": "speaker", "version": "1"}, "gate_db": -60.0}, threshold=0.5)
    db.enrol("ann", [Path("a.wav")], np.eye(4)[:2] + 0.1)
    db.save()
    good = json.loads((tmp_path / "vdb" / "voices.json").read_text())
    fields = list(_numeric_paths(good))

    @READERS
    @given(field=st.sampled_from(fields), value=HOSTILE_VALUES)
    def check(field, value):
        meta = json.loads(json.dumps(good))
        _put(meta, field, value)
        (tmp_path / "vdb" / "voices.json").write_text(json.dumps(meta))
        EXAMPLES["voice database"] = EXAMPLES.get("voice database", 0) + 1
        try:
            opened = VoiceDB.open(tmp_path / "vdb")
            scores = opened.scores(np.eye(4)[:1])
            assert np.all(np.isfinite(scores))
        except ModelFileError as exc:
            assert len(str(exc)) < 2000
    check()


def test_hostile_numbers_in_store_descriptions(world, tmp_path):
    import shutil

    from earmark.explore.store import StoreError

    store = tmp_path / "store"
    shutil.copytree(world["store"], store)
    good = json.loads((store / "store.json").read_text())
    fields = list(_numeric_paths(good))
    assert fields

    @READERS
    @given(field=st.sampled_from(fields), value=HOSTILE_VALUES)
    def check(field, value):
        meta = json.loads(json.dumps(good))
        _put(meta, field, value)
        (store / "store.json").write_text(json.dumps(meta))
        EXAMPLES["store"] = EXAMPLES.get("store", 0) + 1
        r = run("search", store, "--like", world["clip"], "-k", "2")
        assert r.exception is None or isinstance(r.exception, SystemExit), (field, value, r.output, r.exception)
        assert "Traceback" not in r.output and _one_clear_line(r), (field, value, r.output)
    check()


MIN_EXAMPLES = 8


def test_zz_examples_per_command_are_reported():
    """Runs last in this module: every command with a numeric option (and each reader) got its examples; the counts go
    to out/property_examples.json beside the screenshots."""
    commands = {c for c, _, _ in OPTIONS} | {"model file", "voice database", "store"}
    counts = {c: EXAMPLES.get(c, 0) for c in sorted(commands)}
    folder = Path(os.environ.get("EARMARK_SCREENSHOTS", REPO / "out" / "screenshots")).parent
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "property_examples.json").write_text(json.dumps(counts, indent=1) + "\n")
    short = {c: n for c, n in counts.items() if n < (4 if c == "bench" else MIN_EXAMPLES)}
    assert not short, f"too few hostile examples ran for {short}"
