"""The release: ``python -m build`` makes an sdist and a wheel that hold the aisfx weights and every licence, and the
wheel installed into a fresh virtual environment (packages from the registries, torch CPU as the README installs it)
runs ``earmark --version``, ``earmark embedders``, a ``train`` and a ``predict`` on the bundled demo clips."""

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import earmark
from conftest import DEMO

REPO = Path(__file__).resolve().parents[1]
pytest.importorskip("build")


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)], check=True, capture_output=True, timeout=600)
    return out


def test_the_sdist_and_the_wheel_hold_the_weights_and_the_licences(dist):
    version = earmark.__version__
    wheel = dist / f"earmark-{version}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"earmark/embeddings/weights/aisfx.safetensors", "earmark/embeddings/weights/AISFX_LICENSE.txt",
            f"earmark-{version}.dist-info/licenses/LICENSE", "earmark/serve/page.html"} <= names
    meta = zipfile.ZipFile(wheel).read(f"earmark-{version}.dist-info/METADATA").decode()
    assert f"Version: {version}" in meta and "Requires-Dist: torch==2.13.0" in meta
    for extra in ("zoo", "serve", "export", "explore", "dask", "docs"):
        assert f"Provides-Extra: {extra}" in meta
    sdist = {n.split("/", 1)[1] for n in tarfile.open(dist / f"earmark-{version}.tar.gz").getnames() if "/" in n}
    assert {"LICENSE", "pyproject.toml", "src/earmark/embeddings/weights/aisfx.safetensors",
            "src/earmark/embeddings/weights/AISFX_LICENSE.txt"} <= sdist
    assert 15e6 < wheel.stat().st_size < 25e6  # the 18.8 MB of aisfx weights, compressed, and the code


def test_the_wheel_installs_into_a_fresh_venv_and_classifies_a_clip(dist, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    wheel = dist / f"earmark-{earmark.__version__}-py3-none-any.whl"
    # torch==2.13.0 is pinned by the wheel; pip takes the CPU build from the same place as `make install` does
    r = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)], capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stderr[-3000:]
    env = {**os.environ, "EARMARK_CACHE_DIR": str(tmp_path / "cache")}

    def run(*args: str) -> str:
        r = subprocess.run([str(venv / "bin" / "earmark"), *args], capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
        assert r.returncode == 0, r.stderr[-3000:]
        return r.stdout

    assert run("--version").strip() == f"earmark {earmark.__version__}"
    assert "aisfx" in run("embedders")  # the weights load from the installed wheel, not from this checkout
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import earmark, pathlib; print(pathlib.Path(earmark.__file__).parent)"],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert Path(probe.stdout.strip()).is_relative_to(venv)
    run("train", str(DEMO / "train"), "--out", "demo.earmark", "-q")
    rows = json.loads(run("predict", "demo.earmark", *map(str, sorted((DEMO / "unseen").glob("*.flac"))), "--format", "json", "-q"))
    esc50 = {"0": "dog", "1": "rooster"}  # the ESC-50 class number ends each file name
    assert [row["label"] for row in rows] == [esc50[Path(row["file"]).stem.split("-")[-1]] for row in rows]
