"""The CLI end to end with typer's CliRunner, including bad input."""

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from earmark.cli import app
from tests.conftest import tone

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_embedders_lists_default_and_licence():
    r = run("embedders")
    assert r.exit_code == 0
    assert "aisfx (default)" in r.output and "512" in r.output and "CC BY 4.0" in r.output and "mfcc" in r.output


def test_train_predict_evaluate(demo_subset, cache_dir, tmp_path):
    model = tmp_path / "m.earmark"
    r = run("train", demo_subset, "--out", model, "--embedder", "mfcc", "--classifier", "knn", "--cv", "3", "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    assert model.is_file() and "3 classes" in r.output and "3-fold cross-validation (seed 0): accuracy" in r.output
    import zipfile

    meta = json.loads(zipfile.ZipFile(model).read("earmark.json"))
    assert 0 <= meta["info"]["evaluation"]["accuracy_mean"] <= 1

    clip = sorted(demo_subset.glob("*.flac"))[0]
    r = run("predict", model, clip, "--format", "json", "--top-k", "2")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert rows[0]["file"] == str(clip) and rows[0]["label"] == "dog" and len(rows[0]["next"]) == 2

    r = run("predict", model, demo_subset, "--format", "csv")
    assert r.exit_code == 0 and len(r.output.strip().splitlines()) == 1 + 9

    out_json, report = tmp_path / "eval.json", tmp_path / "report"
    r = run("evaluate", demo_subset, "--embedder", "mfcc", "--classifier", "logreg", "--cv", "3",
            "--json", out_json, "--report", report, "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    result = json.loads(out_json.read_text())
    for key in ("accuracy_mean", "accuracy_std", "balanced_accuracy_mean", "macro_f1_mean", "n_files", "n_skipped",
                "skipped", "embedder", "classifier", "audio_seconds", "seconds", "folds"):
        assert key in result
    assert set(result["seconds"]) >= {"embed", "fit", "total"} and len(result["folds"]) == 3
    assert result["n_files"] == 9 and 0 <= result["accuracy_mean"] <= 1
    html = (report / "report.html").read_text()
    assert "data:image/png;base64," in html and "accuracy" in html
    assert (report / "report.md").is_file() and (report / "confusion_matrix.png").stat().st_size > 1000
    # the answer first: pooled accuracy with its interval, then the clips it got wrong, each one of the data's own
    rows = list(csv.DictReader(open(demo_subset / "metadata.csv")))
    wrong = result["misclassified"]
    assert result["accuracy_pooled"] == pytest.approx(1 - len(wrong) / 9)
    low, high = result["accuracy_ci95"]
    assert low <= result["accuracy_pooled"] <= high and 0 <= low and high <= 1
    truth = {str(demo_subset / r["filename"]): r["label"] for r in rows}
    assert all(truth[w["file"]] == w["label"] != w["predicted"] for w in wrong)
    assert [w["score"] for w in wrong] == sorted((w["score"] for w in wrong), reverse=True)
    assert r.output.splitlines()[0].startswith(f"accuracy {result['accuracy_pooled']:.3f} (95% interval")
    md = (report / "report.md").read_text()
    assert md.index("**Accuracy") < md.index("## Results") < md.index("## Data")
    assert all(Path(w["file"]).name in md for w in wrong) and (not wrong or "## Clips it got wrong" in md)


@pytest.fixture
def bad_dataset(demo_subset):
    """The demo subset plus every kind of bad file, listed in metadata.csv."""
    bad = {
        "empty.wav": lambda p: p.write_bytes(b""),
        "text.wav": lambda p: p.write_text("not audio at all\n" * 10),
        "nan.wav": lambda p: sf.write(p, np.full(8000, np.nan, np.float32), 16000, subtype="FLOAT"),
        "short.wav": lambda p: sf.write(p, tone(440, sr=16000, duration_s=0.05), 16000),
    }
    for name, make in bad.items():
        make(demo_subset / name)
    good = sorted(demo_subset.glob("*.flac"))[0]
    data = good.read_bytes()
    shutil.copy(good, demo_subset / "truncated.flac")
    (demo_subset / "truncated.flac").write_bytes(data[: len(data) // 3])
    sf.write(demo_subset / "trunc.wav", tone(440, sr=16000, duration_s=1.0), 16000)
    raw = (demo_subset / "trunc.wav").read_bytes()
    (demo_subset / "trunc.wav").write_bytes(raw[: len(raw) // 2])
    with open(demo_subset / "metadata.csv", "a") as f:
        for name in [*bad, "truncated.flac", "trunc.wav", "gone.wav"]:
            f.write(f"{name},dog\n")
    return demo_subset


def test_bad_files_are_named_skipped_and_the_rest_finishes(bad_dataset, cache_dir, tmp_path):
    r = run("evaluate", bad_dataset, "--embedder", "mfcc", "--cv", "3", "--json", tmp_path / "e.json", "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    result = json.loads((tmp_path / "e.json").read_text())
    reasons = {s["file"].rsplit("/", 1)[-1]: s["reason"] for s in result["skipped"]}
    assert set(reasons) == {"empty.wav", "text.wav", "nan.wav", "short.wav", "truncated.flac", "trunc.wav", "gone.wav"}
    assert "empty" in reasons["empty.wav"] and "NaN" in reasons["nan.wav"] and "shorter" in reasons["short.wav"]
    assert "truncated" in reasons["trunc.wav"] and "not found" in reasons["gone.wav"]
    assert result["n_files"] == 9 and result["n_skipped"] == 7
    for name in reasons:
        assert name in r.output

    r = run("train", bad_dataset, "--out", tmp_path / "m.earmark", "--embedder", "mfcc", "--cache-dir", cache_dir)
    assert r.exit_code == 0 and "7 skipped" in r.output and "text.wav" in r.output


def test_predict_on_bad_file_is_one_line_and_exit_1(demo_subset, cache_dir, tmp_path):
    model = tmp_path / "m.earmark"
    assert run("train", demo_subset, "--out", model, "--embedder", "mfcc", "--cache-dir", cache_dir).exit_code == 0
    bad = tmp_path / "bad.wav"
    bad.write_text("hello")
    r = run("predict", model, bad)
    assert r.exit_code == 1
    assert "Traceback" not in r.output and str(bad) in r.output and len(r.output.strip().splitlines()) == 1
    # in a batch the good files are still classified, the bad one reported, exit code 1
    good = sorted(demo_subset.glob("*.flac"))[:2]
    r = run("predict", model, good[0], bad, good[1], "--format", "csv")
    assert r.exit_code == 1
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("file,label") and str(good[0]) in lines[1] and str(good[1]) in lines[2]
    assert r.stderr.startswith("error:") and str(bad) in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_metadata_without_label_column(demo_subset):
    (demo_subset / "metadata.csv").write_text("filename,category\n" + "x.wav,dog\n")
    r = run("train", demo_subset, "--out", demo_subset / "m.earmark", "--embedder", "mfcc")
    assert r.exit_code == 1 and "no column named 'label'" in r.output and "--label-column" in r.output
    assert "Traceback" not in r.output


def test_bad_options_are_one_line(demo_subset, tmp_path):
    r = run("evaluate", demo_subset, "--embedder", "nope")
    assert r.exit_code == 1 and "'--embedder' option must be one of" in r.output and "aisfx+mfcc" in r.output
    r = run("evaluate", demo_subset, "--embedder", "mfcc", "--classifier", "tree", "--cv", "3", "--cache-dir", tmp_path)
    assert r.exit_code == 1 and "'--classifier' option" in r.output


def test_curve_writes_table_json_and_report(demo_subset, cache_dir, tmp_path):
    out_json, report = tmp_path / "curve.json", tmp_path / "curve"
    r = run("curve", demo_subset, "--embedders", "mfcc", "--classifiers", "knn,logreg", "--shots", "1,2", "--repeats", "2",
            "--cv", "3", "--json", out_json, "--report", report, "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    result = json.loads(out_json.read_text())
    assert len(result["runs"]) == 3 * 2 * 2 * 2  # folds x repeats x n x classifiers
    assert {"fold", "repeat", "n", "embedder", "classifier", "accuracy"} <= set(result["runs"][0])
    assert result["data"]["n_files"] == 9 and result["data"]["sample_rates"] == {"44100": 9}
    html = (report / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 1 and "Protocol" in html and "n=2" in html
    assert (report / "learning_curve.png").stat().st_size > 10000


def test_compare_marks_the_best_and_reports(demo_subset, cache_dir, tmp_path):
    out_json, report = tmp_path / "cmp.json", tmp_path / "cmp"
    r = run("compare", demo_subset, "--embedders", "mfcc,aisfx+mfcc", "--classifiers", "knn", "--cv", "3",
            "--json", out_json, "--report", report, "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    result = json.loads(out_json.read_text())
    assert [(x["embedder"], x["dims"]) for x in result["rows"]] == [("mfcc", 40), ("aisfx+mfcc", 552)]
    accs = [x["accuracy_mean"] for x in result["rows"]]
    assert result["best"] == accs.index(max(accs)) and "*" in r.output
    html = (report / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "<b>" in html


def test_curve_rejects_bad_shots(demo_subset):
    r = run("curve", demo_subset, "--shots", "0,2")
    assert r.exit_code == 1 and "'--shots' option" in r.output


def test_birdnet_model_says_it_is_non_commercial(demo_subset, cache_dir, tmp_path):
    import zipfile

    from tests.conftest import available

    available("birdnet")
    model = tmp_path / "bird.earmark"
    r = run("train", demo_subset, "--out", model, "--embedder", "birdnet", "--classifier", "knn", "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    assert "non-commercial" in r.output
    meta = json.loads(zipfile.ZipFile(model).read("earmark.json"))
    assert meta["front_end"]["commercial_use"] is False and "NC" in meta["front_end"]["licence"]
    assert "non-commercial" in run("embedders").output


def test_detect_finds_clips_in_a_long_recording(demo_subset, cache_dir, tmp_path):
    """Clips separated by digital silence: every detected event overlaps a real clip, exports re-read equal."""
    from earmark.data.labels import read_audacity, read_raven

    model = tmp_path / "m.earmark"
    assert run("train", demo_subset, "--out", model, "--embedder", "mfcc", "--classifier", "logreg", "--cache-dir", cache_dir).exit_code == 0
    sr, gap = 44100, 4.0
    parts, truth, t = [], [], 2.0
    parts.append(np.zeros(int(2.0 * sr), np.float32))
    for clip in sorted(demo_subset.glob("*.flac"))[::3]:  # one clip per class
        y, _ = sf.read(clip, dtype="float32")
        parts += [y, np.zeros(int(gap * sr), np.float32)]
        truth.append((t, t + len(y) / sr))
        t += len(y) / sr + gap
    long = tmp_path / "long.flac"
    sf.write(long, np.concatenate(parts), sr)
    r = run("detect", model, long, "--format", "audacity", "--out", tmp_path / "events", "--merge-gap-s", "1.0", "--plot")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "events" / "long.detect.png").stat().st_size > 20000
    events = read_audacity(tmp_path / "events" / "long.labels.txt")
    assert events
    for e in events:
        assert any(e.start_s < b and e.end_s > a for a, b in truth), (e, truth)
    assert run("detect", model, long, "--format", "raven", "--out", tmp_path / "events", "--merge-gap-s", "1.0").exit_code == 0
    raven = read_raven(tmp_path / "events" / "long.selections.txt")
    assert [(round(e.start_s, 4), round(e.end_s, 4), e.label) for e in raven] == [(round(e.start_s, 4), round(e.end_s, 4), e.label) for e in events]


def test_train_from_audacity_labels_over_long_recordings(demo_subset, tmp_path):
    """Label tracks beside long recordings become training clips; silence becomes 'background'."""
    from earmark.data.labels import Event, write_audacity

    sr = 44100
    rec_dir = tmp_path / "field"
    rec_dir.mkdir()
    clips = sorted(demo_subset.glob("*.flac"))
    labels = {r["filename"]: r["label"] for r in __import__("csv").DictReader(open(demo_subset / "metadata.csv"))}
    for k in range(2):  # two recordings, each with every clip once
        parts, events, t = [np.zeros(2 * sr, np.float32)], [], 2.0
        for clip in clips[k::2] + clips[1 - k::2]:
            y, _ = sf.read(clip, dtype="float32")
            parts += [y, np.zeros(3 * sr, np.float32)]
            events.append(Event(t, t + len(y) / sr, labels[clip.name]))
            t += len(y) / sr + 3.0
        sf.write(rec_dir / f"rec{k}.flac", np.concatenate(parts), sr)
        write_audacity(events, rec_dir / f"rec{k}.txt")
    model = tmp_path / "field.earmark"
    r = run("train", rec_dir, "--labels", "audacity", "--embedder", "mfcc", "--classifier", "logreg", "--out", model)
    assert r.exit_code == 0, r.output
    assert "24 labelled stretches in 2 recordings" in r.output
    from earmark.pipeline import Model

    m = Model.load(model)
    assert m.classes == ["background", "dog", "rain", "rooster"]
    # 6 events per class; 20 silent runs, balanced down to 6 background clips
    assert m.info["data"]["classes"] == {"background": 6, "dog": 6, "rain": 6, "rooster": 6}
    r = run("train", tmp_path, "--labels", "raven", "--out", tmp_path / "x.earmark", "--embedder", "mfcc")
    assert r.exit_code == 1 and "no recording has a raven label file" in r.output
    r = run("train", rec_dir, "--labels", "audacity", "--embedder", "mfcc", "--augment", "pitch", "--out", tmp_path / "y.earmark")
    assert r.exit_code == 1 and "training from labelled recordings takes specaugment and mixup only" in r.output
    r = run("train", rec_dir, "--labels", "audacity", "--embedder", "mfcc", "--max-epochs", "2", "--out", tmp_path / "y.earmark")
    assert r.exit_code == 1 and "takes no parameter 'max_epochs'" in r.output  # options reach the model, never silently dropped


def test_listen_classifies_a_file_stream_and_reports_latency(demo_subset, cache_dir, tmp_path):
    model = tmp_path / "m.earmark"
    assert run("train", demo_subset, "--out", model, "--embedder", "mfcc", "--classifier", "logreg", "--cache-dir", cache_dir).exit_code == 0
    sr = 44100
    rain = sorted(demo_subset.glob("*.flac"))[3]  # the demo subset is 3 dog, 3 rooster, 3 rain clips in that order
    y, _ = sf.read(rain, dtype="float32")
    stream_file = tmp_path / "stream.wav"
    sf.write(stream_file, np.concatenate([np.zeros(2 * sr, np.float32), y, np.zeros(2 * sr, np.float32)]), sr)
    r = run("listen", model, "--input", stream_file, "--no-realtime", "--hop-s", "0.5", "--threshold", "0.01")
    assert r.exit_code == 0, r.output
    lines = [line for line in r.stdout.splitlines() if " s  " in line]
    times = [float(line.split()[0]) for line in lines]
    assert lines and all(1.9 <= t <= 8.1 for t in times)  # silence before and after is never classified
    assert "latency median" in r.stderr and "95th percentile" in r.stderr


def test_listen_says_unknown_for_a_sound_of_none_of_the_classes(demo_subset, cache_dir, tmp_path):
    data = tmp_path / "known"
    for i, clip in enumerate(sorted(demo_subset.glob("*.flac"))[:6]):  # the subset's 3 dog and 3 rooster clips
        (data / ("dog" if i < 3 else "rooster")).mkdir(parents=True, exist_ok=True)
        shutil.copy(clip, data / ("dog" if i < 3 else "rooster"))
    model = tmp_path / "m.earmark"
    r = run("train", data, "--out", model, "--reject", "distance", "--cache-dir", cache_dir)  # aisfx: mfcc is too coarse for it
    assert r.exit_code == 0, r.output
    rain, _ = sf.read(sorted(demo_subset.glob("*.flac"))[3 + 3], dtype="float32")  # rain: taught to neither class
    sf.write(tmp_path / "rain.wav", rain, 44100)
    r = run("listen", model, "--input", tmp_path / "rain.wav", "--no-realtime", "--hop-s", "1.0")
    assert r.exit_code == 0, r.output
    labels = [line.split()[2] for line in r.stdout.splitlines() if " s  " in line]
    assert labels and labels.count("unknown") >= len(labels) / 2, r.stdout  # said, not silently dropped
    said = [line for line in r.stdout.splitlines() if " unknown " in line]  # with the class it was nearest, not "unknown 0.99"
    assert all(re.search(r"unknown\s+\(nearest (dog|rooster) [01]\.\d\d\)", line) for line in said), r.stdout


def test_listen_reads_raw_pcm_from_stdin(demo_subset, cache_dir, tmp_path):
    model = tmp_path / "m.earmark"
    assert run("train", demo_subset, "--out", model, "--embedder", "mfcc", "--cache-dir", cache_dir).exit_code == 0
    y, _ = sf.read(sorted(demo_subset.glob("*.flac"))[3], dtype="float32")
    import soxr

    pcm = (np.clip(soxr.resample(y, 44100, 16000), -1, 1) * 32767).astype("<i2").tobytes()
    r = runner.invoke(app, ["listen", str(model), "--input", "-", "--rate", "16000", "--threshold", "0.01"], input=pcm)
    assert r.exit_code == 0, r.output
    assert len([line for line in r.stdout.splitlines() if " s  " in line]) >= 5


def test_listen_vad_gate_passes_speech_and_blocks_rain(demo_subset, fsdd, cache_dir, tmp_path):
    from tests.conftest import available

    available("speech")  # onnxruntime present (the VAD runs on it)
    model = tmp_path / "m.earmark"
    assert run("train", demo_subset, "--out", model, "--embedder", "mfcc", "--cache-dir", cache_dir).exit_code == 0
    import soxr

    rain, _ = sf.read(sorted(demo_subset.glob("*.flac"))[3], dtype="float32")
    words = [soxr.resample(sf.read(fsdd / "audio" / f"{d}_jackson_0.wav", dtype="float32")[0], 8000, 44100) for d in range(6)]
    speech = np.concatenate([np.concatenate([w, np.zeros(22050, np.float32)]) for w in words])
    counts = {}
    for name, y in (("rain", rain), ("speech", speech)):
        path = tmp_path / f"{name}.wav"
        sf.write(path, y, 44100)
        r = run("listen", model, "--input", path, "--no-realtime", "--gate", "vad", "--threshold", "0.01", "--gate-db", "-80")
        assert r.exit_code == 0, r.output
        counts[name] = len([line for line in r.stdout.splitlines() if " s  " in line])
    assert counts["rain"] == 0 and counts["speech"] >= 3, counts


def test_mix_from_the_command_line(esc10, tmp_path):
    out = tmp_path / "mixtures"
    args = ("mix", "--backgrounds", esc10, "--events", esc10 / "metadata.csv", "--background-classes", "rain,helicopter",
            "--event-classes", "rooster", "--folds", "4", "--duration-s", "6", "--ebr-db", "-3,3", "--out", out, "--seed", "2")
    r = run(*args, "--split", "train=4,test=3", "--quiet")
    assert r.exit_code == 0, r.output
    assert "wrote 7 mixtures of 6 s at 44100 Hz (train 4" in r.output and "tags rooster" in r.output
    assert (out / "metadata.csv").read_text().startswith("filename,label,split,background,events\n")
    r = run(*args[:-4], "--out", tmp_path / "x", "--n", "3", "--split", "a=1")
    assert r.exit_code == 1 and "--n N or per split with --split" in r.output
    r = run(*args[:-4], "--out", tmp_path / "x", "--split", "train:4")
    assert r.exit_code == 1 and "--split train:4: write each split as NAME=COUNT" in r.output
    r = run(*args[:-4], "--out", tmp_path / "x", "--n", "3", "--ebr-db", "loud")
    assert r.exit_code == 1 and "--ebr-db loud: give comma-separated numbers" in r.output


def test_weak_label_transfer_from_the_command_line(esc10, tmp_path, cache_dir):
    common = ("--backgrounds", esc10, "--events", esc10, "--background-classes", "rain,sea_waves", "--duration-s", "4", "--quiet")
    assert run("mix", *common, "--event-classes", "crying_baby", "--folds", "1", "--n", "10", "--out", tmp_path / "src").exit_code == 0
    r = run("mix", *common, "--event-classes", "dog", "--folds", "2", "--split", "train=8,test=4", "--out", tmp_path / "tgt")
    assert r.exit_code == 0, r.output
    source = tmp_path / "source.earmark"
    r = run("train", tmp_path / "src", "--model", "lstm-tagger", "--max-epochs", "2", "--out", source, "--cache-dir", cache_dir, "-q")
    assert r.exit_code == 0, r.output
    assert "1 classes (crying_baby)" in r.output
    target = tmp_path / "target.earmark"
    r = run("train", tmp_path / "tgt", "--model", "lstm-tagger", "--folds", "split", "--train-folds", "train", "--max-epochs", "2",
            "--pretrained", source, "--transfer", "parallel-low", "--out", target, "--cache-dir", cache_dir, "-q")
    assert r.exit_code == 0, r.output
    meta = json.loads(__import__("zipfile").ZipFile(target).read("earmark.json"))
    assert meta["model"]["params"]["transfer"] == "parallel-low" and meta["classes"] == ["dog"]
    clips = sorted((tmp_path / "tgt" / "audio" / "test").glob("*.wav"))
    r = run("predict", target, *clips, "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert len(rows) == 4 and {row["label"] for row in rows} <= {"", "dog"} and all(row["next"] == [] for row in rows)
    assert all((row["score"] is None) == (row["label"] == "") for row in rows)
    r = run("detect", target, clips[0], "--out", tmp_path / "events", "--no-exclusive", "-q")
    assert r.exit_code == 0, r.output
    r = run("evaluate", tmp_path / "tgt", "--embedder", "mfcc", "--folds", "split", "--test-fold", "test", "--cache-dir", cache_dir, "-q")
    assert r.exit_code == 0, r.output
    assert "tags: mAP" in r.output and "avg. precision" in r.output and "│ dog" in r.output
    split = ("--folds", "split", "--test-fold", "test", "--cache-dir", cache_dir, "-q")
    r = run("compare", tmp_path / "tgt", "--embedders", "mfcc", "--models", "logreg,knn", *split, "--report", tmp_path / "cmp")
    assert r.exit_code == 0, r.output
    assert "mAP" in r.output and "exact match" in r.output and "| mAP | macro ROC-AUC |" in (tmp_path / "cmp" / "report.md").read_text()
    r = run("curve", tmp_path / "tgt", "--embedders", "mfcc", "--classifiers", "logreg", "--shots", "1,2", "--repeats", "1", *split,
            "--report", tmp_path / "crv")
    assert r.exit_code == 0, r.output
    assert "mean average precision over tags" in r.output
    assert "training clips per tag" in (tmp_path / "crv" / "report.md").read_text()
    r = run("train", tmp_path / "tgt", "--model", "lstm-tagger", "--transfer", "all", "--out", tmp_path / "x.earmark")
    assert r.exit_code == 1 and "--transfer all needs --pretrained" in r.output


def test_open_set_train_with_negatives_predict_unknown_and_evaluate(tmp_path, cache_dir):
    """Rejection end to end on real demo clips: negatives set the threshold, noise comes out 'unknown', evaluate reports
    the open-set figures and the reliability diagram."""
    from tests.conftest import make_demo_subset

    data = make_demo_subset(tmp_path / "demo", per_class=8, classes=("dog", "rooster", "crying_baby", "clock_tick"))
    negatives = make_demo_subset(tmp_path / "neg", per_class=4, classes=("rain", "sea_waves"))
    (negatives / "metadata.csv").unlink()
    sr = 22050
    sf.write(tmp_path / "white.wav", (0.3 * np.random.default_rng(1).standard_normal(5 * sr)).astype(np.float32), sr)
    model = tmp_path / "m.earmark"
    r = run("train", data, "--out", model, "--reject", "distance", "--calibration", "temperature", "--negatives", negatives,
            "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    assert "'unknown' when the distance score is below" in r.output and "separates the 8 negative clips best" in r.output
    r = run("predict", model, tmp_path / "white.wav", sorted(data.glob("*.flac"))[0], "--format", "json")
    assert r.exit_code == 0, r.output
    white, dog = json.loads(r.stdout)
    assert white["label"] == "unknown" and white["unknown"] and white["closest"]
    assert dog["label"] == "dog" and not dog["unknown"]

    out_json, report = tmp_path / "eval.json", tmp_path / "report"
    r = run("evaluate", make_demo_subset(tmp_path / "all", per_class=8, classes=("dog", "rooster", "crying_baby", "rain")),
            "--cv", "4", "--unknown-classes", "rain", "--calibration", "temperature", "--json", out_json, "--report", report,
            "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    assert "open set (proba score; 24 known, 8 unknown test clips): AUROC" in r.output and "expected calibration error" in r.output
    result = json.loads(out_json.read_text())
    assert result["classes"] == ["crying_baby", "dog", "rooster"] and 0.5 < result["open_set"]["auroc"] <= 1
    assert (report / "reliability.png").stat().st_size > 1000 and "## Open set" in (report / "report.md").read_text()


def test_negatives_without_reject_is_refused_with_the_fix(demo_subset, tmp_path, cache_dir):
    r = run("train", demo_subset, "--out", tmp_path / "m.earmark", "--negatives", tmp_path, "--cache-dir", cache_dir)
    assert r.exit_code == 1 and "add --reject proba or distance" in r.output
    r = run("evaluate", demo_subset, "--cv", "3", "--unknown-dir", tmp_path, "--cache-dir", cache_dir)
    assert r.exit_code == 1 and "--unknown-classes" in r.output


def test_help_loads_no_heavy_library():
    """`earmark --help` and `import earmark` stay light: scikit-learn, torch, numpy and the audio stack load where used."""
    import subprocess
    import sys

    code = ("import sys, earmark, earmark.cli\n"
            "from typer.testing import CliRunner\n"
            "assert CliRunner().invoke(earmark.cli.app, ['--help']).exit_code == 0\n"
            "print(','.join(m for m in ('numpy', 'sklearn', 'torch', 'scipy', 'soundfile', 'onnxruntime', 'matplotlib') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""
    code = "import earmark\nprint(earmark.train.__module__, earmark.Model.__name__)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split() == ["earmark.api.training", "Model"]
