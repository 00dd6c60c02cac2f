"""Fixtures of the second hostile round (issue 25): small demo data, a trained mfcc model, a CLI runner."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from earmark.cli import app


def run(*args, **kw):
    return CliRunner().invoke(app, [str(a) for a in args], **kw)


def one_line_error(result, *needles: str) -> str:
    """The run failed with exit 1 and one ``error:`` line containing every needle; no traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``(data, model, cache)``: 9 demo clips and a logreg head on mfcc trained on them (shared by a module's tests)."""
    from tests.conftest import make_demo_subset

    root = tmp_path_factory.mktemp("hostile")
    data = make_demo_subset(root / "small")
    model, cache = root / "m.earmark", root / "cache"
    r = run("train", data, "--embedder", "mfcc", "--out", model, "--cache-dir", cache, "-q")
    assert r.exit_code == 0, r.output
    return data, model, cache
