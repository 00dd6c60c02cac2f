import pytest

from earmark.data.labels import Event, read_audacity, read_raven, write_audacity, write_raven
from earmark.errors import DatasetError

EVENTS = [
    Event(0.5, 1.25, "dog bark"),
    Event(1.0, 3.0, "chant de l'oiseau – Amsel"),  # overlaps the first; non-ASCII
    Event(10.0, 10.0, "click"),  # a point label
    Event(12.125, 15.5, "北京 rain"),
]


def test_audacity_round_trip(tmp_path):
    path = write_audacity(EVENTS, tmp_path / "labels.txt")
    assert path.read_text(encoding="utf-8").splitlines()[0] == "0.500000\t1.250000\tdog bark"
    assert read_audacity(path) == EVENTS


def test_raven_round_trip_with_scores(tmp_path):
    events = [Event(e.start_s, e.end_s, e.label, score=0.5 + i / 10) for i, e in enumerate(EVENTS)]
    path = write_raven(events, tmp_path / "sel.txt")
    header = path.read_text(encoding="utf-8").splitlines()[0].split("\t")
    assert header[:7] == ["Selection", "View", "Channel", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)"]
    back = read_raven(path)
    assert [(e.start_s, e.end_s, e.label) for e in back] == [(e.start_s, e.end_s, e.label) for e in events]
    assert [e.score for e in back] == pytest.approx([e.score for e in events])


def test_empty_files_give_no_events(tmp_path):
    assert read_audacity(write_audacity([], tmp_path / "a.txt")) == []
    assert read_raven(write_raven([], tmp_path / "r.txt")) == []
    (tmp_path / "blank.txt").write_text("")
    assert read_raven(tmp_path / "blank.txt") == [] and read_audacity(tmp_path / "blank.txt") == []


def test_audacity_spectral_selection_lines(tmp_path):
    path = tmp_path / "spec.txt"
    path.write_text("1.0\t2.0\tbird\n\\\t2000.0\t8000.0\n", encoding="utf-8")
    (event,) = read_audacity(path)
    assert (event.low_hz, event.high_hz, event.label) == (2000.0, 8000.0, "bird")


@pytest.mark.parametrize("content,line", [("0.5\t1.0\tok\nabc\t2.0\tbad\n", 2), ("0.5\n", 1), ("3.0\t1.0\tbackwards\n", 1)])
def test_malformed_audacity_line_is_named(tmp_path, content, line):
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError, match=f"line {line}"):
        read_audacity(path)


def test_raven_without_time_columns_is_refused(tmp_path):
    path = tmp_path / "r.txt"
    path.write_text("Selection\tAnnotation\n1\tdog\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="Begin Time"):
        read_raven(path)


def test_label_with_tab_cannot_be_written(tmp_path):
    from earmark.errors import ParameterError

    with pytest.raises(ParameterError, match="tab"):
        write_audacity([Event(0, 1, "a\tb")], tmp_path / "x.txt")


@pytest.mark.parametrize("fmt", ["csv", "json", "audacity", "raven"])
def test_every_registered_format_round_trips_and_is_found_beside_its_recording(tmp_path, fmt):
    from earmark.data.labels import LABEL_FORMATS, label_file, read_labels, write_labels

    events = [Event(0.25, 1.5, "dog", 0.9, mean_score=0.7), Event(2.0, 3.125, "bird song, far", 0.6, mean_score=0.55)]
    spec = LABEL_FORMATS[fmt]
    recording = tmp_path / "rec.wav"
    path = write_labels(events, tmp_path / spec.sidecars[0].format(stem="rec"), fmt)
    assert label_file(recording, fmt) == path
    back = read_labels(path, fmt)
    assert [(e.start_s, e.end_s, e.label) for e in back] == [(e.start_s, e.end_s, e.label) for e in events]
    if fmt in ("csv", "json"):
        assert [(e.score, e.mean_score) for e in back] == [(0.9, 0.7), (0.6, 0.55)]


def test_an_unknown_label_format_lists_the_registered_ones():
    from earmark.data.labels import read_labels
    from earmark.errors import ParameterError

    with pytest.raises(ParameterError, match="csv, json, audacity, raven"):
        read_labels("x.txt", "textgrid")


def test_a_malformed_event_csv_names_the_line(tmp_path):
    from earmark.data.labels import read_labels

    path = tmp_path / "rec.events.csv"
    path.write_text("start_s,end_s,label\n0.5,1.0,dog\nsoon,2.0,cat\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="line 3"):
        read_labels(path, "csv")


def test_a_label_format_registered_from_outside_works_everywhere(demo_subset, tmp_path):
    """Issue 27: a format added by register_label_format (as a plug-in would) is written by detect and read back."""
    from typer.testing import CliRunner

    from earmark.cli import app
    from earmark.data.labels import LabelFormat, read_labels, register_label_format, unregister_label_format, write_labels
    from earmark.errors import ParameterError

    def read_ms(path):
        rows = [line.split("\t") for line in path.read_text().splitlines() if line]
        return [Event(int(a) / 1000, int(b) / 1000, label) for a, b, label in rows]

    def write_ms(events, path):
        path.write_text("".join(f"{round(e.start_s * 1000)}\t{round(e.end_s * 1000)}\t{e.label}\n" for e in events))
        return path

    register_label_format(LabelFormat("millis", read_ms, write_ms, ".millis.txt", ("{stem}.millis.txt",)))
    try:
        with pytest.raises(ParameterError, match="registered already"):
            register_label_format(LabelFormat("millis", read_ms, write_ms, ".millis.txt", ("{stem}.millis.txt",)))
        with pytest.raises(ParameterError, match="sidecar"):
            register_label_format(LabelFormat("other", read_ms, write_ms, "txt", ("{stem}.txt",)))
        events = [Event(0.5, 1.25, "dog"), Event(2.0, 3.5, "rain")]
        assert read_labels(write_labels(events, tmp_path / "a.millis.txt", "millis"), "millis") == events
        run = CliRunner().invoke
        model = tmp_path / "m.earmark"
        assert run(app, ["train", str(demo_subset), "--embedder", "mfcc", "--out", str(model), "--no-cache"]).exit_code == 0
        clip = sorted(demo_subset.glob("*.flac"))[0]
        r = run(app, ["detect", str(model), str(clip), "--format", "millis", "--out", str(tmp_path / "ev")])
        assert r.exit_code == 0, r.output
        found = read_labels(tmp_path / "ev" / f"{clip.stem}.millis.txt", "millis")
        assert found and all(0 <= e.start_s < e.end_s for e in found)
    finally:
        unregister_label_format("millis")
    r = CliRunner().invoke(app, ["detect", str(model), str(clip), "--format", "millis", "--out", str(tmp_path / "ev2")])
    assert r.exit_code == 1 and "csv, json, audacity, raven" in r.output
