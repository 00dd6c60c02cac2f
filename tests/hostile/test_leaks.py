"""Issue 25, defect 4: re-encoded copies of a clip (other bytes, the same decoded audio) cannot leak across folds."""

from __future__ import annotations

import csv

import soundfile as sf

import earmark
from tests.conftest import make_demo_subset


def test_lossless_re_encodes_are_duplicates(tmp_path):
    data = make_demo_subset(tmp_path / "d", per_class=6)
    rows = list(csv.DictReader(open(data / "metadata.csv")))
    folds = {r["filename"]: str(i % 3 + 1) for i, r in enumerate(rows)}
    with open(data / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "label", "fold"])
        for r in rows:
            w.writerow([r["filename"], r["label"], folds[r["filename"]]])
    clean = earmark.evaluate(data, embedder="mfcc", folds="fold", cache_dir=tmp_path / "cache")
    with open(data / "metadata.csv", "a", newline="") as f:
        w = csv.writer(f)
        for r in rows:  # the same audio as 16-bit WAV, listed in the next fold
            y, sr = sf.read(data / r["filename"], dtype="int16")
            name = "re-" + r["filename"].rsplit(".", 1)[0] + ".wav"
            sf.write(data / name, y, sr, subtype="PCM_16")
            w.writerow([name, r["label"], str(int(folds[r["filename"]]) % 3 + 1)])
    leaky = earmark.evaluate(data, embedder="mfcc", folds="fold", cache_dir=tmp_path / "cache")
    assert leaky["n_files"] == clean["n_files"] == 18
    assert leaky["accuracy_mean"] == clean["accuracy_mean"] < 1.0
    recoded = [s for s in leaky["skipped"] if "another file encoding" in s["reason"]]
    assert len(recoded) == 18 and all(s["file"].rsplit("/", 1)[-1].startswith("re-") for s in recoded)
    assert leaky["data"]["duplicate_rows_dropped"] == 18
