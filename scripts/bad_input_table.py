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
    case("a misspelt ensemble member", "evaluate", data, "--model", "ensemble[members=logrg@mfcc, svm@mfcc]")
    case("an ensemble member's options after its front end", "train", data, "--model", "ensemble[members=logreg@mfcc[aggregation=max], svm@mfcc]",
         "--out", tmp / "x.earmark")
    case("an ensemble of one", "evaluate", data, "--model", "ensemble[members=logreg@mfcc]")
    case("--unlabelled folder that does not exist", "train", data, "--embedder", "mfcc", "--unlabelled", tmp / "field",
         "--out", tmp / "x.earmark")
    case("--unlabelled with waveform augmentation", "train", data, "--model", "sbcnn", "--augment", "pitch", "--unlabelled", data,
         "--out", tmp / "x.earmark")
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
                       ("a part modified after saving", lambda m, i: i.update({"parts/head_arrays.safetensors": i["parts/head_arrays.safetensors"][:-1] + b"x"})),
                       ("JSON padded with 20 MiB of spaces", lambda m, i: i.update({"earmark.json": json.dumps(m) + " " * (20 << 20)}))):
        bad = tmp / "edited.earmark"
        shutil.copy(model, bad)
        _edit(bad, edit)
        case(f"model file: {what}", "predict", bad, clips[0])

    round_two_rows, rss = round_two(tmp, case, rows, model, data)

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
    lines += ["", "## Round two: the hostile test of issue 25", "",
              "Each of the 21 defects (D1-D13, numbered as in the issue) and rough edges (R) of the second hostile round, run",
              "again; tests in `tests/hostile/` (one file per class of defect) and `tests/test_serve.py`. Every numeric option of",
              "every command and every number of the model, voice-database and store descriptions also gets NaN, infinities, 0,",
              "negatives, 1e300 and 2^63 from hypothesis (`tests/hostile/test_properties.py`; examples per command in",
              "`out/property_examples.json`).", "",
              "| item | bad input | command | what the user sees |", "| --- | --- | --- | --- |"]
    for item, what, command, seen in round_two_rows:
        lines.append(f"| {item} | {_cell(what)} | `{_cell(command)}` | {_cell(seen)} |")
    lines += ["", "Peak memory of `earmark predict` on crafted model files (resident set of the whole process, `os.wait4`):", "",
              "| model file | size on disk | peak RSS | exit |", "| --- | --- | --- | --- |"]
    lines += [f"| {what} | {size:,} bytes | {kb / 1024:.0f} MB | {code} |" for what, size, kb, code in rss]
    out = REPO / "docs" / "guide" / "bad-input.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out} ({len(rows)} cases)")


def peak_rss(*args) -> tuple[int, int]:
    """``(peak resident set in KB, exit code)`` of ``earmark ARGS`` run as its own process.

    Started from a small Python wrapper: a child forked from this (large) process would count this process's pages
    in its peak until it execs.
    """
    import subprocess

    wrapper = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
               "stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)")
    done = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "earmark.cli", *map(str, args)],
                          capture_output=True, text=True, check=True)
    kb, code = done.stdout.split()
    return int(kb), int(code)


def round_two(tmp: Path, case, rows: list, model: Path, data: Path):
    """The cases of issue 25, run for real; returns the table's rows and the crafted models' peak RSS."""
    import threading

    from tests.hostile.crafted import rewrite

    out: list[tuple[str, str, str, str]] = []

    def item(tag: str, what: str, *args, **kw) -> str:
        before = len(rows)
        text = case(what, *args, **kw)
        out.append((tag, *rows.pop(before)))
        return text

    clip = sorted(data.glob("*.flac"))[0]
    # D1: outputs that are not regular files
    item("D1", "--out a full device (it stays a device)", "predict", model, clip, "--format", "csv", "--out", "/dev/full")
    item("D1", "train --out a full device", "train", data, "--embedder", "mfcc", "--out", "/dev/full", "-q")
    item("D1", "evaluate --json a full device", "evaluate", data, "--embedder", "mfcc", "--cv", "3", "--json", "/dev/full", "-q")
    (tmp / "real.csv").write_text("old")
    (tmp / "link.csv").symlink_to(tmp / "real.csv")
    item("D1", "--out a symbolic link (kept; its target replaced)", "predict", model, clip, "--format", "csv", "--out", tmp / "link.csv")
    os.mkfifo(tmp / "pipe")
    got: list = []
    reader = threading.Thread(target=lambda: got.append(open(tmp / "pipe").read()))
    reader.start()
    item("D1", "--out a named pipe (written through)", "predict", model, clip, "--format", "csv", "--out", tmp / "pipe")
    reader.join(10)
    out[-1] = (*out[-1][:3], out[-1][3] + f" (the reader got {len(got[0].splitlines()) if got else 0} lines)")
    # D2: crafted model files (an open-set model has two tensor parts: its head and its bank of training clips)
    case("mfcc --reject distance on dog, rain, rooster", "train", data, "--embedder", "mfcc", "--reject", "distance", "--out",
         tmp / "mr.earmark", "-q")
    rows.pop()
    mr = tmp / "mr.earmark"
    big = rewrite(mr, tmp / "big.earmark", extra_bytes=(1 << 30) - (1 << 16))
    item("D2", "2 MB model, each of its two tensor parts given an extra zero tensor just under 1 GiB (hashes fixed up)",
         "predict", big, clip)
    over = rewrite(mr, tmp / "over.earmark", extra_bytes=(1 << 30) + (1 << 16))
    item("D2", "a tensor part over 1 GiB", "predict", over, clip)
    rss = [("the model as trained (reference)", mr.stat().st_size, *peak_rss("predict", mr, clip)),
           ("two tensor parts, each with an extra zero tensor just under 1 GiB", big.stat().st_size, *peak_rss("predict", big, clip)),
           ("a tensor part over 1 GiB", over.stat().st_size, *peak_rss("predict", over, clip))]
    # D3: mix with absurd numbers
    for args in (["--duration-s", "1e9"], ["--sample-rate", "1000000000"], ["--ebr-db", "1e9", "--event-rate", "1"],
                 ["--ebr-db", "200"], ["--ebr-db=-300"]):
        item("D3", f"mix {' '.join(args)}", "mix", "--backgrounds", data, "--events", data, "--out", tmp / "mixtures", "--n", "2", *args)
    # D4: lossless re-encodes of the same clips in other folds
    leak = _leaky_copy(data, tmp / "leak")
    item("D4", "the clips plus WAV re-encodes of them in the next fold", "evaluate", leak, "--embedder", "mfcc", "--folds", "fold")
    # D5, D6: the voice database
    fsdd = Path(os.environ.get("EARMARK_DATA", REPO.parent / "shared" / "data")) / "fsdd" / "audio"
    if fsdd.is_dir():
        vdb = tmp / "vdb"
        case("enrol george", "enroll", "george", *(fsdd / f"{d}_george_{d}.wav" for d in range(3)), "--db", vdb, "-q")
        rows.pop()
        item("D6", "enroll a name already enrolled", "enroll", "george", fsdd / "0_jackson_2.wav", "--db", vdb)
        sf.write(tmp / "noise.wav", (0.3 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32), 8000)
        item("D6", "enroll white noise", "enroll", "noisy", tmp / "noise.wav", "--db", vdb)
        blob = bytearray((vdb / "voices.safetensors").read_bytes())
        blob[-20:] = bytes(b ^ 0xFF for b in blob[-20:])
        (vdb / "voices.safetensors").write_bytes(bytes(blob))
        item("D5", "the prints' last 20 bytes flipped", "identify", vdb, fsdd / "1_george_5.wav")
        for field, value in (("threshold", "high"), ("encoder", "evil")):
            meta = json.loads((vdb / "voices.json").read_text())
            meta[field] = value
            (vdb / "voices.json").write_text(json.dumps(meta))
            item("D5", f'voices.json with {field}: "{value}"', "identify", vdb, fsdd / "1_george_5.wav")
    # D7: the server
    (tmp / "bad.earmark").write_text("not a model")
    item("D7", "a bad model among those served", "serve", tmp / "bad.earmark", model)
    for args in (["--port", "70000"], ["--max-upload-mb", "-1"], ["--timeout-s", "0"]):
        item("D7", f"serve {' '.join(args)}", "serve", model, *args)
    out += _server_cases(tmp, model, data)
    # D8: export over its own model
    item("D8", "export over the model itself", "export", model, "--format", "c", "--out", model)
    # D9: a damaged store shard
    case("index a store", "index", data, "--store", tmp / "store", "--embedder", "mfcc", "-q")
    rows.pop()
    shard = sorted((tmp / "store" / "shards").glob("*.parquet"))[0]
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    item("D9", "a truncated shard", "search", tmp / "store", "--like", clip)
    item("D9", "index again: the shard is set aside and its files re-embedded", "index", data, "--store", tmp / "store")
    # D10: labels
    lab = tmp / "labels"
    shutil.copytree(data, lab)
    meta_rows = list(csv.DictReader(open(lab / "metadata.csv")))
    _write_csv(lab / "metadata.csv", ["filename", "label"], [[r["filename"], "" if i == 0 else r["label"]] for i, r in enumerate(meta_rows)])
    item("D10", "one row with an empty label", "train", lab, "--embedder", "mfcc", "--out", tmp / "lab.earmark")
    _write_csv(lab / "metadata.csv", ["filename", "label", "label"], [[r["filename"], r["label"], "1"] for r in meta_rows])
    item("D10", "a header naming 'label' twice", "train", lab, "--embedder", "mfcc", "--out", tmp / "lab.earmark")
    _write_csv(lab / "metadata.csv", ["filename", "label"], [[r["filename"], "dog;rain" if i == 0 else r["label"]] for i, r in enumerate(meta_rows)])
    item("D10", "tags for a model that needs one class per clip (before any audio)", "train", lab, "--model", "metric", "--out", tmp / "lab.earmark")
    # D11: numbers in the model's description
    for what, edit in (("n_fft 2^40", lambda m: m["front_end"]["params"].update(n_fft=1 << 40)),
                       ("n_fft 2^28", lambda m: m["front_end"]["params"].update(n_fft=1 << 28)),
                       ("JSON nested 5,000 deep", lambda m: json.dumps(m)[:-1] + ', "deep": ' + "[" * 5000 + "]" * 5000 + "}"),
                       ("gate_db NaN", lambda m: m.update(gate_db=float("nan"))),
                       ("format_version -1", lambda m: m.update(format_version=-1)),
                       ("1.5 million classes", lambda m: m.update(classes=[f"c{i}" for i in range(1_500_000)]))):
        item("D11" if "classes" not in what else "R", f"model description: {what}", "predict",
             rewrite(model, tmp / "edited.earmark", meta_edit=edit), clip)
    # D12: numbers on the command line
    item("D12", "listen --hop-s inf", "listen", model, "--input", "-", "--hop-s", "inf", input=b"")
    item("D12", "--test-fold without --folds", "evaluate", data, "--embedder", "mfcc", "--cv", "3", "--test-fold", "1")
    # D13: noise through open-set models
    white = tmp / "white.wav"
    sf.write(white, (0.3 * np.random.default_rng(0).standard_normal(5 * 22050)).astype(np.float32), 22050)
    item("D13", "white noise, rain among the classes (rain IS broadband noise: documented)", "predict", tmp / "mr.earmark", white, "--format", "csv")
    five = make_demo_subset(tmp / "five", per_class=8, classes=("dog", "rooster", "crying_baby", "clock_tick", "sneezing"))
    case("aisfx --reject distance on five non-noise classes", "train", five, "--reject", "distance", "--out", tmp / "ar.earmark", "-q")
    rows.pop()
    item("D13", "white noise, no noise-like class (the guarantee, tested)", "predict", tmp / "ar.earmark", white, "--format", "csv")
    # rough edges
    (tmp / "afolder.wav").mkdir()
    item("R", "a folder given as a clip", "predict", model, tmp / "afolder.wav")
    os.mkfifo(tmp / "fifo.wav")
    item("R", "a named pipe given as a clip (never opened)", "predict", model, tmp / "fifo.wav")
    item("R", "an escape sequence in a file name (shown as \\x1b)", "predict", model, tmp / "\x1b[2Jgone.flac")
    item("R", "an unknown clip in CSV names its closest class", "predict", tmp / "ar.earmark", white, "--format", "csv", "--top-k", "0")
    listed = tmp / "listed"
    shutil.copytree(data, listed)
    (listed / "sub").mkdir()
    os.mkfifo(listed / "pipe.wav")
    with open(listed / "metadata.csv", "a", newline="") as f:
        f.write("sub,dog\npipe.wav,dog\n")
    item("R", "metadata.csv listing a folder and a named pipe", "train", listed, "--embedder", "mfcc", "--out", tmp / "l.earmark")
    (tmp / "links").mkdir()
    (tmp / "links" / "a").symlink_to(data)
    item("R", "index a folder of links to folders", "index", tmp / "links", "--store", tmp / "store2", "--embedder", "mfcc")
    flat = tmp / "flat"
    flat.mkdir()
    shutil.copy(clip, flat / clip.name)
    item("R", "mix from a flat folder", "mix", "--backgrounds", flat, "--events", flat, "--out", tmp / "mix2", "--n", "2")
    return out, rss


def _server_cases(tmp: Path, model: Path, data: Path) -> list[tuple[str, str, str, str]]:
    """The server's cases, through its own test client (what a browser or curl would get)."""
    from fastapi.testclient import TestClient

    from earmark import api
    from earmark.serve.app import ServeSettings, create_app

    api.index(data, tmp / "sstore", embedder="mfcc")
    client = TestClient(create_app(ServeSettings(models={"m": model}, store=tmp / "sstore", labelling_dir=tmp / "labelling",
                                                 upload_dir=tmp / "uploads")))
    clip = sorted(data.glob("*.flac"))[0]
    rows = []
    body = '{"file": "%s", "start_s": NaN, "end_s": Infinity, "label": "dog"}' % clip.resolve()
    r = client.post("/api/label", content=body, headers={"content-type": "application/json"})
    rows.append(("D7", "a label with start_s NaN, end_s Infinity", "POST /api/label", f"HTTP {r.status_code}: {r.json()['error']}"))
    r = client.post("/api/predict", files=[("files", ("recording", clip.read_bytes(), ""))])
    rows.append(("R", "an upload with no extension (FLAC bytes)", "POST /api/predict", f"HTTP {r.status_code}: "
                 + (f"{r.json()['results'][0]['label']} {r.json()['results'][0]['score']}" if r.status_code == 200 else r.text)))
    r = client.post("/api/search", files={"file": ("q.flac", clip.read_bytes(), "audio/flac")}, data={"start_s": "50", "end_s": "60"})
    rows.append(("R", "a search stretch beyond the clip", "POST /api/search", f"HTTP {r.status_code}: {r.json().get('error', r.text)}"))
    return rows


def _leaky_copy(data: Path, dest: Path) -> Path:
    """``data`` with a fold column and a lossless WAV re-encode of every clip listed in the next fold."""
    dest.mkdir()
    rows = list(csv.DictReader(open(data / "metadata.csv")))
    table = []
    for i, r in enumerate(rows):
        shutil.copy(data / r["filename"], dest / r["filename"])
        fold = i % 3 + 1
        table.append([r["filename"], r["label"], str(fold)])
        y, sr = sf.read(data / r["filename"], dtype="int16")
        sf.write(dest / f"re-{Path(r['filename']).stem}.wav", y, sr, subtype="PCM_16")
        table.append([f"re-{Path(r['filename']).stem}.wav", r["label"], str(fold % 3 + 1)])
    _write_csv(dest / "metadata.csv", ["filename", "label", "fold"], table)
    return dest


def _write_csv(path: Path, header, rows) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _cell(text: str) -> str:
    from earmark.console import shown

    return shown(text.replace("|", "\\|").replace("\n", "<br>"))


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
