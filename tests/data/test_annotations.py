"""Strong labels over long recordings, made fit to learn from (issue 26's bad input): one clear line per change."""

from __future__ import annotations

import numpy as np
import soundfile as sf

import earmark
from earmark.data.annotations import tidy_events
from earmark.data.labels import Event
from tests.conftest import DEMO


def test_tidy_events_drops_cuts_and_merges_with_one_line_each():
    events = [Event(0.5, 3.0, "rooster"), Event(1.0, 2.5, "rooster"), Event(2.9, 4.0, "rooster"), Event(5.5, 8.0, "dog"),
              Event(9.0, 9.0, "dog"), Event(12.0, 30.0, "dog"), Event(25.0, 28.0, "rooster"), Event(3.5, 6.0, "dog")]
    kept, notes = tidy_events(events, 20.0, "rec.txt")
    assert kept == [Event(0.5, 4.0, "rooster"), Event(3.5, 8.0, "dog"), Event(12.0, 20.0, "dog")]
    assert len(notes) == 6 and all(n.startswith("rec.txt: ") for n in notes)
    assert sum("no length" in n for n in notes) == 1 and sum("starts after" in n for n in notes) == 1
    assert sum("cut there" in n for n in notes) == 1 and sum("merged" in n for n in notes) == 3


def test_clean_events_are_left_alone():
    events = [Event(0.5, 3.0, "rooster"), Event(3.0, 4.0, "rooster"), Event(1.0, 2.0, "dog")]
    kept, notes = tidy_events(events, 10.0, "rec.txt")
    assert notes == [] and sorted(kept, key=lambda e: (e.label, e.start_s)) == sorted(events, key=lambda e: (e.label, e.start_s))


def test_training_from_a_label_track_says_what_it_changed(tmp_path, caplog):
    clips = sorted((DEMO / "unseen").glob("*.flac"))
    y = np.concatenate([sf.read(c, dtype="float32")[0] for c in clips * 2])  # 20 s
    folder = tmp_path / "rec"
    folder.mkdir()
    sf.write(folder / "rec.wav", y, 44100)
    (folder / "rec.txt").write_text("0.5\t3.0\trooster\n1.0\t2.5\trooster\n5.5\t8.0\tdog\n9\t9\tdog\n12\t30\tdog\n")
    model = earmark.api.train_from_labels(folder, labels="audacity", embedder="mfcc", cache_dir=tmp_path / "cache")
    assert model.info["data"]["classes"] == {"background": 2, "dog": 2, "rooster": 1}
    assert len(model.info["label_notes"]) == 3
    assert sum("rec.txt" in r.getMessage() for r in caplog.records if r.levelname == "WARNING") == 3
