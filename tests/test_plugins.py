"""Plug-ins (issue 27): a package installed beside earmark adds a front end and a model through the ``earmark.plugins``
entry points, with no change to earmark and no call by the user; a broken plug-in is logged and left out."""

import json
import logging
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from earmark import plugins
from earmark.cli import app

PLUGIN = '''
import numpy as np

from earmark.embeddings import register_embedder
from earmark.embeddings.base import SecondsWindows
from earmark.models import register_model
from earmark.models.heads import EmbeddingClassifier


class LoudBands(SecondsWindows):
    """Log energy in 6 bands per 0.5-s window at 16 kHz."""

    name, version, sample_rate, licence = "loud-bands", "1", 16000, "none"

    def __init__(self, *, window_s=0.5, hop_s=0.25):
        super().__init__(window_s=window_s, hop_s=hop_s)
        self.dims = 6

    def params(self):
        return {"window_s": self._window_s, "hop_s": self._hop_s}

    def embed_stream(self, chunks):
        n, hop = int(self._window_s * self.sample_rate), int(self._hop_s * self.sample_rate)
        return self._embed_windows(chunks, length=n, hop=hop, batch_size=64, embed=self._vectors)

    def _vectors(self, windows):
        power = np.abs(np.fft.rfft(windows, axis=1)) ** 2
        return np.log10(np.stack([b.sum(axis=1) for b in np.array_split(power, 6, axis=1)], axis=1) + 1e-10).astype(np.float32)


def register():
    register_embedder("loud-bands", lambda **kw: LoudBands(**kw))
    register_model("loud-knn", lambda: EmbeddingClassifier("knn"), kind="embedding head", description="a plug-in's head")


def broken():
    raise RuntimeError("broken on purpose")
'''


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """The plug-in package as pip leaves it in site-packages: its module and a dist-info with the entry points."""
    site = tmp_path / "site"
    (site / "loud_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "loud_plugin.py").write_text(textwrap.dedent(PLUGIN))
    (site / "loud_plugin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: loud-plugin\nVersion: 1.0\n")
    (site / "loud_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[earmark.plugins]\nloud = loud_plugin:register\nbroken = loud_plugin:broken\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setitem(plugins._state, "loaded", False)
    yield site
    from earmark.embeddings import unregister_embedder
    from earmark.models import unregister_model

    unregister_embedder("loud-bands")
    unregister_model("loud-knn")
    sys.modules.pop("loud_plugin", None)


def test_an_installed_plugin_adds_a_front_end_and_a_model_everywhere(installed, demo_subset, tmp_path, caplog):
    run = CliRunner().invoke
    with caplog.at_level(logging.WARNING, logger="earmark.plugins"):
        r = run(app, ["models"])
    assert r.exit_code == 0 and "loud-knn" in r.output
    assert [m for m in caplog.messages if "broken" in m and "broken on purpose" in m]  # logged, the rest loaded
    assert "loud-bands" in run(app, ["embedders"]).output
    model = tmp_path / "m.earmark"
    r = run(app, ["train", str(demo_subset), "--model", "loud-knn", "--embedder", "loud-bands", "--out", str(model), "--no-cache"])
    assert r.exit_code == 0, r.output
    clip = sorted(demo_subset.glob("*.flac"))[0]
    r = run(app, ["predict", str(model), str(clip), "--format", "json", "--no-cache"])
    assert r.exit_code == 0 and json.loads(r.output)[0]["label"]
    # a new process where the plug-in is installed loads the model file of its kind, with nothing registered by hand
    code = f"from earmark.pipeline import Model; m = Model.load({str(model)!r}); print(m.front_end.name, m.name)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(installed)})
    assert done.returncode == 0 and done.stdout.split() == ["loud-bands", "loud-knn"], done.stderr[-2000:]
