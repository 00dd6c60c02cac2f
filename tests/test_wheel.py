"""The release: ``python -m build`` makes an sdist and a wheel that hold the aisfx weights and every licence, and the
wheel installed into a fresh virtual environment (packages from the registries, torch CPU as the README installs it)
runs ``earmark --version``, ``earmark embedders`` and the README's quick start as written, on the bundled demo clips."""

import os
import re
import shlex
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
    # (--no-compile: Python compiles what it imports when it imports it; byte-compiling every installed module up front
    # only costs time here)
    r = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--no-compile", str(wheel)], capture_output=True, text=True, timeout=1500)
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
    # the README's quick start, every command as written, from a folder where data/demo is the demo data
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "demo").symlink_to(DEMO)
    commands = quick_start()
    assert [c[:2] for c in commands] == [["earmark", "train"], ["earmark", "evaluate"], ["earmark", "predict"]]
    printed = [run(*command[1:]) for command in commands]
    assert (tmp_path / "demo.earmark").is_file()
    assert re.search(r"accuracy\s+0\.[5-9]", printed[1]), printed[1]  # 10 classes, 8 clips each: far above chance (0.1)
    esc50 = {"0": "dog", "1": "rooster"}  # the ESC-50 class number ends each file name
    for clip in sorted((DEMO / "unseen").glob("*.flac")):
        row = next(line for line in printed[2].splitlines() if clip.name in line)
        assert esc50[clip.stem.split("-")[-1]] in row, printed[2]


def quick_start() -> list[list[str]]:
    """The commands of the README's quick start block (comments dropped)."""
    text = (REPO / "README.md").read_text()
    block = text.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [shlex.split(line.split("#", 1)[0]) for line in block.splitlines() if line.split("#", 1)[0].strip()]


def test_the_readme_is_a_landing_page():
    text = (REPO / "README.md").read_text()
    assert len(text.encode()) <= 8 * 1024
    assert (REPO / "docs" / "_static" / "learning-curve.png").is_file() and "docs/_static/learning-curve.png" in text
    for link in re.findall(r"\]\(([^)#]+)\)", text):  # every relative link points at a file of the repository
        assert (REPO / link).exists(), link
