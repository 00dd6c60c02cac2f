"""Write docs/guide/bad-input.md: every kind of bad input and option tried, the command, and what the user sees.

    python scripts/bad_input_table.py            # rewrites docs/guide/bad-input.md

Each case is run for real through the CLI (typer's CliRunner) on copies of
the bundled demo clips in a temporary folder; the table quotes what earmark
printed (paths shortened to the temporary folder's names). Rerun it after
changing a message so the page never drifts from the code.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from earmark.cli import app  # noqa: E402
from tests.conftest import make_demo_subset, tone  # noqa: E402


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="earmark-bad-"))
    os.chdir(tmp)
    os.environ["EARMARK_CACHE_DIR"] = str(tmp / "cache")
    runner = CliRunner()
    rows: list[tuple[str, str, str]] = []

    def case(what: str, *args, input=None, shown: str | None = None) -> str:
        r = runner.invoke(app, [str(a) for a in args], input=input)
        text = "\n".join(line for line in r.output.splitlines() if line.startswith(("error:", "warning:", "skipped")))
        text = text or r.output.strip().splitlines()[-1] if r.output.strip() else "(nothing)"
        command = "earmark " + " ".join(str(a).replace(str(tmp) + "/", "") for a in args)
        rows.append((what, shown or command, f"exit {r.exit_code}: " + text.replace(str(tmp) + "/", "")))
        return r.output

    data = make_demo_subset(tmp / "data")
    clips = sorted(data.glob("*.flac"))
    (tmp / "empty.wav").write_bytes(b"")
    (tmp / "text.wav").write_text("not audio\n" * 10)
    sf.write(tmp / "nan.wav", np.full(8000, np.nan, np.float32), 16000, subtype="FLOAT")
    sf.write(tmp / "short.wav", tone(440, sr=16000, duration_s=0.05), 16000)
    sf.write(tmp / "trunc.wav", tone(440, sr=16000, duration_s=1.0), 16000)
    (tmp / "trunc.wav").write_bytes((tmp / "trunc.wav").read_bytes()[:16000])
    sf.write(tmp / "silence.wav", np.zeros(44100 * 3, np.float32), 44100)
    (tmp / "loop.wav").symlink_to(tmp / "loop.wav")
    case("train a model to use below", "train", data, "--out", tmp / "m.earmark", "--embedder", "mfcc")
    model = tmp / "m.earmark"

    for name in ("empty.wav", "text.wav", "nan.wav", "short.wav", "trunc.wav", "nonexistent.wav", "loop.wav"):
        case(f"bad audio file: {name}", "predict", model, tmp / name)
    case("digital silence", "predict", model, tmp / "silence.wav", "--format", "csv")
    odd = tmp / "[dog] bark.flac"
    shutil.copy(clips[0], odd)
    case("file name that looks like markup", "predict", model, odd, "--format", "csv")
    case("--top-k beyond the classes", "predict", model, clips[0], "--format", "csv", "--top-k", "7")

    blocker = tmp / "a-file"
    blocker.write_text("x")
    case("cache folder that cannot be written", "predict", model, clips[0], "--cache-dir", blocker)
    case("--json where no file can be written", "evaluate", data, "--embedder", "mfcc", "--cv", "3", "--json", blocker / "e.json")
    case("--report on a file", "evaluate", data, "--embedder", "mfcc", "--cv", "3", "--report", blocker)
    case("--out in an impossible place", "train", data, "--embedder", "mfcc", "--out", blocker / "m.earmark")

    rows_csv = list(csv.DictReader(open(data / "metadata.csv")))
    with open(data / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "label"])
        for r in rows_csv * 5:
            w.writerow([r["filename"], r["label"]])
        w.writerow([rows_csv[0]["filename"], "rain"])
        w.writerow(["../outside.flac", "dog"])
        w.writerow(["gone.wav", "dog"])
    sf.write(tmp / "outside.flac", tone(880, sr=22050, duration_s=2.0), 22050)
    case("metadata.csv: rows repeated, one file with two labels, a path outside DATA, a missing file",
         "evaluate", data, "--embedder", "mfcc", "--classifier", "knn", "--cv", "2")
    case("the same with --strict-paths", "evaluate", data, "--embedder", "mfcc", "--cv", "2", "--strict-paths")
    make_demo_subset(tmp / "data", per_class=3)
    (data / "metadata.csv").write_text("filename,category\nx.wav,dog\n")
    case("metadata.csv without the label column", "train", data, "--out", tmp / "x.earmark")
    make_demo_subset(tmp / "data", per_class=3)

    case("unknown embedder", "evaluate", data, "--embedder", "nope")
    case("unknown classifier", "evaluate", data, "--classifier", "tree")
    case("unknown model", "train", data, "--model", "cnn", "--out", tmp / "x.earmark")
    case("unknown augmentation", "train", data, "--model", "sbcnn", "--augment", "reverb", "--out", tmp / "x.earmark")
    case("augmentation strength not a number", "train", data, "--model", "sbcnn", "--augment", "pitch=high", "--out", tmp / "x.earmark")
    case("background folder that does not exist", "evaluate", data, "--embedder", "mfcc", "--augment", "background=/no/such/dir")
    case("SpecAugment for an embedding head", "evaluate", data, "--embedder", "mfcc", "--augment", "specaugment")
    case("unknown rejection score", "train", data, "--embedder", "mfcc", "--reject", "entropy", "--out", tmp / "x.earmark")
    case("rejection rate out of range", "train", data, "--embedder", "mfcc", "--reject", "proba", "--reject-rate", "0.7", "--out", tmp / "x.earmark")
    case("negatives without --reject", "train", data, "--embedder", "mfcc", "--negatives", data, "--out", tmp / "x.earmark")
    case("negatives folder that does not exist", "train", data, "--embedder", "mfcc", "--reject", "distance", "--negatives", "/no/such/dir", "--out", tmp / "x.earmark")
    case("unknown class not in the data", "evaluate", data, "--embedder", "mfcc", "--cv", "3", "--unknown-classes", "zebra")
    case("model options without brackets closed", "compare", data, "--embedders", "mfcc", "--models", "logreg[augment=pitch")
    case("an unknown fine-tuning mode", "evaluate", data, "--model", "finetune:aisfx[train=sideways]")
    case("--cv larger than the smallest class", "evaluate", data, "--embedder", "mfcc", "--cv", "9")
    case("--cv together with --folds", "evaluate", data, "--folds", "fold", "--cv", "10")
    case("--train-folds without --folds", "train", data, "--train-folds", "1", "--out", tmp / "x.earmark")
    case("--shots not numbers", "curve", data, "--shots", "a,b")

    for args, what in ((["--threshold", "1.5"], "--threshold above 1"), (["--threshold", "-1"], "negative --threshold"),
                       (["--hop-s", "0"], "--hop-s 0"), (["--format", "mp4"], "unknown --format")):
        case(f"detect: {what}", "detect", model, clips[0], *args)
    for args, what in ((["--rate", "0"], "--rate 0"), (["--rate", "-8000"], "negative --rate"),
                       (["--hop-s", "0.00000001"], "--hop-s shorter than one sample"), (["--threshold", "0"], "--threshold 0"),
                       (["--gate", "loud"], "unknown --gate")):
        case(f"listen: {what}", "listen", model, "--input", "-", *args, input=b"")

    junk = tmp / "junk.earmark"
    junk.write_text("hello")
    case("not a model file", "predict", junk, clips[0])
    case("missing model file", "predict", tmp / "missing.earmark", clips[0])
    for what, edit in (("format_version as a string", lambda m, i: m.update(format_version="2")),
                       ("classes not a list", lambda m, i: m.update(classes="dog")),
                       ("newer format", lambda m, i: m.update(format_version=99)),
                       ("front end of another version", lambda m, i: m["front_end"].update(version="0")),
                       ("a part modified after saving", lambda m, i: i.update({"parts/head.skops": i["parts/head.skops"][:-1] + b"x"})),
                       ("JSON padded with 20 MiB of spaces", lambda m, i: i.update({"earmark.json": json.dumps(m) + " " * (20 << 20)}))):
        bad = tmp / "edited.earmark"
        shutil.copy(model, bad)
        _edit(bad, edit)
        case(f"model file: {what}", "predict", bad, clips[0])

    lines = ["# What earmark says to bad input", "",
             "Generated by `python scripts/bad_input_table.py` (every case run for real through the CLI on copies of",
             "the bundled demo clips; temporary paths shortened). Each bad input ends in one line naming the file or",
             "option and the fix, and a batch goes on with the rest. Tested in `tests/test_bad_input_cli.py`,",
             "`tests/audio/test_bad_input.py`, `tests/test_persistence.py` and `tests/test_cli.py`.", "",
             "| bad input | command | what the user sees |", "| --- | --- | --- |"]
    for what, command, seen in rows:
        lines.append(f"| {_cell(what)} | `{_cell(command)}` | {_cell(seen)} |")
    lines += ["", "Not errors, but the same hostile test asked for them:", "",
              "- Files are written with the permissions of any new file (`0o666` less the umask), never `0600`.",
              "- A killed process's temporary files (`.NAME.*.tmp`) are removed the next time the same file is written.",
              "- `Model.predict(\"x.wav\")` takes a single path as well as a list.",
              "- `earmark.train(..., classifier_params={\"bogus\": 1})` fails before any audio is embedded, naming the keys the head takes.",
              "- Broken links and link loops inside class folders are listed as skipped, not silently left out."]
    out = REPO / "docs" / "guide" / "bad-input.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out} ({len(rows)} cases)")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def _edit(path: Path, fn) -> None:
    with zipfile.ZipFile(path) as z:
        items = {n: z.read(n) for n in z.namelist()}
    original = items["earmark.json"]
    meta = json.loads(original)
    fn(meta, items)  # edits the description, or replaces a member outright
    if items["earmark.json"] is original:
        items["earmark.json"] = json.dumps(meta)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in items.items():
            z.writestr(n, d)


if __name__ == "__main__":
    main()
