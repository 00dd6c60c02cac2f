"""Shared fixtures: seeded generators, synthetic files with known answers, the shared data."""

from __future__ import annotations

import csv
import os

# scikit-learn's estimator checks (tests/models) run their array-API input check only with this set,
# and it must be set before scipy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)


def missing(msg: str):
    """Skip a test whose prerequisite is absent; under ``EARMARK_REQUIRE_DATA=1`` (CI) fail it instead."""
    if os.environ.get("EARMARK_REQUIRE_DATA") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


def shared_data(name: str) -> Path:
    """``$EARMARK_DATA/name``; skips when absent, fails instead under ``EARMARK_REQUIRE_DATA=1`` (CI)."""
    root = os.environ.get("EARMARK_DATA")
    path = Path(root) / name if root else None
    if path is None or not path.is_dir():
        missing(f"shared dataset {name!r} not found: set EARMARK_DATA to the shared data folder")
    return path


def available(name: str):
    """The embedder ``name``, or a skip when its optional backend is missing (a failure under CI)."""
    from earmark.embeddings import get_embedder
    from earmark.errors import MissingBackendError

    embedder = get_embedder(name)
    try:
        embedder.embed(np.zeros(embedder.sample_rate, np.float32), sr=embedder.sample_rate)
    except MissingBackendError as exc:
        missing(str(exc))
    return embedder


def chromium_path() -> str:
    """Debian's chromium for the browser tests; a skip without it (a failure under CI, where 'make test' installs it)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        missing("chromium not found: 'make test' installs Debian's chromium (apt-get install chromium)")
    return path


def keep_screenshot(png: Path) -> None:
    """Copy a browser test's screenshot to ``$EARMARK_SCREENSHOTS`` (the test artifacts folder), when set."""
    folder = os.environ.get("EARMARK_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(folder) / png.name)


@pytest.fixture
def esc10() -> Path:
    return shared_data("esc10")


@pytest.fixture
def fsdd() -> Path:
    return shared_data("fsdd")


def tone(freq_hz: float, *, sr: int, duration_s: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(sr * duration_s))) / sr
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


@pytest.fixture
def tone_wav(tmp_path) -> Path:
    path = tmp_path / "tone.wav"
    sf.write(path, tone(1000.0, sr=16000, duration_s=2.0), 16000, subtype="FLOAT")
    return path


def make_demo_subset(dest: Path, *, per_class: int = 3, classes=("dog", "rooster", "rain")) -> Path:
    """Copy a few demo clips into ``dest`` with a metadata.csv."""
    rows = [r for r in csv.DictReader(open(DEMO / "train" / "metadata.csv")) if r["label"] in classes]
    picked = [r for c in classes for r in [x for x in rows if x["label"] == c][:per_class]]
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "label"])
        for r in picked:
            shutil.copy(DEMO / "train" / r["filename"], dest / r["filename"])
            w.writerow([r["filename"], r["label"]])
    return dest


@pytest.fixture
def demo_subset(tmp_path) -> Path:
    return make_demo_subset(tmp_path / "demo")


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


def tagged_clips(rng, n: int = 60, windows: int = 4):
    """Known-answer multi-label clips: "bird" on every 2nd clip raises feature 0, "car" on every 3rd feature 1 (both, one or none)."""
    X, y = [], []
    for i in range(n):
        tags = [t for t, on in (("bird", i % 2 == 0), ("car", i % 3 == 0)) if on]
        x = rng.normal(size=(windows, 6)).astype(np.float32)
        x[:, 0] += 3.0 * ("bird" in tags)
        x[:, 1] += 3.0 * ("car" in tags)
        X.append(x)
        y.append(";".join(tags))
    return X, np.array(y, dtype=object)
