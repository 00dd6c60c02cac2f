"""`earmark mix`: EBR on known signals, splits that share no recording, determinism, no clipping, 24-bit output."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from earmark import api
from earmark.data.mix import Mixer, MixSettings, active_part, read_pool, rms
from earmark.errors import ParameterError

SR = 16000


def _write(path, y, sr=SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y.astype(np.float32), sr, subtype="FLOAT")
    return path


def _known(tmp_path, n_groups: int = 4):
    """Noise backgrounds (two 2-s takes per source recording) and 0.5-s tone events padded with silence."""
    rng = np.random.default_rng(0)
    rows = []
    for g in range(n_groups):
        for take in "AB":
            name = f"bg/noise-{g}-{take}.wav"
            _write(tmp_path / name, 0.05 * rng.standard_normal(2 * SR))
            rows.append((name, "noise", f"n{g}"))
        t = np.arange(SR // 2) / SR
        event = np.concatenate([np.zeros(SR // 4), 0.3 * np.sin(2 * np.pi * (440 + 110 * g) * t), np.zeros(SR // 4)])
        name = f"ev/tone-{g}.wav"
        _write(tmp_path / name, event)
        rows.append((name, "tone", f"t{g}"))
    with open(tmp_path / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "label", "src_file"])
        w.writerows(rows)
    return tmp_path


def _read(out, name="metadata.csv"):
    with open(out / name, newline="") as f:
        return list(csv.DictReader(f))


def test_active_part_finds_the_tone_inside_silence():
    y = np.concatenate([np.zeros(SR // 4), np.ones(SR // 2) * 0.3, np.zeros(SR // 4)]).astype(np.float32)
    a, b = active_part(y, SR)
    assert abs(a - SR // 4) <= SR // 100 and abs(b - 3 * SR // 4) <= SR // 100


@pytest.mark.parametrize("ebr", [-6.0, 0.0, 6.0, 12.5])
def test_event_to_background_ratio_within_0_1_db_of_the_request(tmp_path, ebr):
    root = _known(tmp_path)
    bg, _ = read_pool(root, classes=["noise"], folds=None, fold_column="fold", group_column=None, option="--backgrounds")
    ev, _ = read_pool(root, classes=["tone"], folds=None, fold_column="fold", group_column=None, option="--events")
    mixer = Mixer(bg, ev, MixSettings(splits={"all": 6}, duration_s=3.0, ebr_db=(ebr,), event_rate=1.0, max_events=2, seed=3))
    plans, skipped = mixer.plan()
    assert not skipped and all(p.events for p in plans)
    for plan in plans:
        mix, background, events = mixer.render(plan)
        assert np.allclose(mix, background + sum(events))
        for p, placed in zip(plan.events, events):
            a, n = int(round(p.onset_s * SR)), int(round(p.duration_s * SR))
            assert p.duration_s == pytest.approx(0.5, abs=0.02)  # the tone, not its silent padding
            measured = 20 * np.log10(rms(placed[a:a + n]) / rms(background[a:a + n]))
            assert measured == pytest.approx(ebr, abs=0.1)
            assert not placed[:a].any() and not placed[a + n:].any()


def test_mix_writes_24_bit_files_metadata_and_events_deterministically(tmp_path):
    root = _known(tmp_path / "src")
    kw = dict(splits={"train": 5, "test": 7}, duration_s=3.0, ebr_db=(0.0, 6.0), event_rate=0.6, max_events=1, seed=11,
              background_classes=["noise"], event_classes=["tone"])
    first = api.mix(root, root, tmp_path / "a", **kw)
    second = api.mix(root, root, tmp_path / "b", **kw)
    assert second["scale"] == first["scale"]
    assert first["by_split"] == {"train": 5, "test": 7} and first["skipped"] == []
    meta = _read(tmp_path / "a")
    assert meta == _read(tmp_path / "b") and _read(tmp_path / "a", "events.csv") == _read(tmp_path / "b", "events.csv")
    strong = _read(tmp_path / "a", "events.csv")
    assert {r["filename"] for r in strong} == {r["filename"] for r in meta if r["label"] != ";"}
    assert all(r["label"] in (";", "tone") for r in meta) and sum(r["label"] != ";" for r in meta) == len(strong)
    for r in meta:
        info = sf.info(tmp_path / "a" / r["filename"])
        assert info.subtype == "PCM_24" and info.samplerate == SR and info.frames == 3 * SR
        ya, _ = sf.read(tmp_path / "a" / r["filename"])
        yb, _ = sf.read(tmp_path / "b" / r["filename"])
        assert np.array_equal(ya, yb) and np.abs(ya).max() < 1.0
    record = json.loads((tmp_path / "a" / "mix.json").read_text())
    assert record["settings"]["seed"] == 11 and record["scale"] == first["scale"]
    third = api.mix(root, root, tmp_path / "c", **{**kw, "seed": 12})
    assert _read(tmp_path / "c", "events.csv") != strong or third["with_events"] != first["with_events"]


def test_loud_mixtures_are_scaled_by_one_common_factor_so_none_clips(tmp_path):
    root = _known(tmp_path / "src")
    result = api.mix(root, root, tmp_path / "out", splits={"all": 8}, duration_s=2.0, ebr_db=(30.0,), event_rate=1.0, seed=0,
                     background_classes=["noise"], event_classes=["tone"])
    assert result["scale"] < 1.0  # a tone 30 dB over the noise peaks far above full scale before scaling
    peaks = [np.abs(sf.read(tmp_path / "out" / r["filename"])[0]).max() for r in _read(tmp_path / "out")]
    assert max(peaks) == pytest.approx(10 ** (-1 / 20), abs=1e-3)  # the loudest at -1 dBFS, the rest below


def test_no_source_recording_is_in_two_splits(tmp_path):
    root = _known(tmp_path / "src", n_groups=6)
    api.mix(root, root, tmp_path / "out", splits={"train": 20, "val": 10, "test": 20}, duration_s=2.0, event_rate=0.8, seed=5,
            background_classes=["noise"], event_classes=["tone"])
    record = json.loads((tmp_path / "out" / "mix.json").read_text())
    groups = record["source_recordings"]
    assert all(not set(groups[a]) & set(groups[b]) for a in groups for b in groups if a < b)
    used = {}
    for r in _read(tmp_path / "out"):
        used.setdefault(r["split"], set()).add(r["background"])
    for r in _read(tmp_path / "out", "events.csv"):
        split = r["filename"].split("/")[1]
        used[split].add("tone/t" + r["source"].rsplit("-", 1)[1].split(".")[0])
    assert all(not used[a] & used[b] for a in used for b in used if a < b)
    assert all(used[s] <= set(groups[s]) for s in used)


def test_esc10_mixtures_keep_source_recordings_apart(tmp_path, esc10):
    root = esc10
    result = api.mix(root, root, tmp_path / "out", splits={"train": 6, "test": 6}, duration_s=8.0, event_rate=0.5, seed=0,
                     background_classes=["rain", "sea_waves"], event_classes=["dog"], folds=["3"])
    assert result["sample_rate"] == 44100 and result["skipped"] == []
    src = {r["filename"]: r["src_file"] for r in csv.DictReader(open(root / "metadata.csv"))}
    by_split: dict[str, set] = {}
    for r in _read(tmp_path / "out", "events.csv"):
        by_split.setdefault(r["filename"].split("/")[1], set()).add(src["audio/" + r["source"].rsplit("/", 1)[1]])
    for r in _read(tmp_path / "out"):
        by_split.setdefault(r["split"], set()).add(r["background"].split("/")[1])
    assert not by_split["train"] & by_split["test"]


@pytest.mark.parametrize("kw, message", [
    ({"splits": {"all": 0}}, "splits[all]' parameter must be an integer in [1, 1000000]"),
    ({"event_rate": 1.5}, "'event_rate' parameter must be a number in [0, 1]"),
    ({"ebr_db": ()}, "'ebr_db' parameter needs one or more numbers"),
    ({"ebr_db": (200.0,)}, "'ebr_db' parameter must be a number in [-60, 60] dB"),
    ({"duration_s": 1e9}, "'duration_s' parameter must be a number in (0, 600] seconds"),
    ({"event_classes": ["owl"]}, "no class 'owl'"),
    ({"splits": {"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}}, "too few source recordings for split"),
    ({"folds": ["1"]}, "--folds needs a 'fold' column"),
])
def test_bad_settings_get_one_clear_error(tmp_path, kw, message):
    root = _known(tmp_path / "src")
    args = {"splits": {"all": 2}, "background_classes": ["noise"], "event_classes": ["tone"], **kw}
    with pytest.raises(ParameterError) as info:
        api.mix(root, root, tmp_path / "out", **args)
    assert message in str(info.value)
    assert not (tmp_path / "out" / "metadata.csv").exists()


def test_refuses_a_folder_that_already_holds_files(tmp_path):
    root = _known(tmp_path / "src")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(ParameterError, match="not an empty folder"):
        api.mix(root, root, tmp_path / "out", splits={"all": 2}, background_classes=["noise"], event_classes=["tone"])
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_unreadable_recordings_are_skipped_and_reported(tmp_path):
    root = _known(tmp_path / "src")
    (root / "bg" / "noise-0-A.wav").write_bytes(b"not audio")
    result = api.mix(root, root, tmp_path / "out", splits={"all": 4}, duration_s=2.0, background_classes=["noise"],
                     event_classes=["tone"])
    assert [s["file"] for s in result["skipped"]] == [str(root / "bg" / "noise-0-A.wav")]
    assert len(_read(tmp_path / "out")) == 4

