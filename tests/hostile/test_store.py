"""Issue 25, defect 9: a damaged store shard is named with its repair, and index rebuilds it."""

from __future__ import annotations

import pytest

from tests.conftest import DEMO
from tests.hostile.conftest import one_line_error, run

UNSEEN = DEMO / "unseen"


def _damage(shard, how: str) -> None:
    blob = bytearray(shard.read_bytes())
    if how == "truncated":
        shard.write_bytes(bytes(blob[: len(blob) // 2]))
        return
    middle = len(blob) // 3  # inside the column pages: caught by their checksums, not by the footer
    blob[middle : middle + 40] = bytes(b ^ 0xFF for b in blob[middle : middle + 40])
    shard.write_bytes(bytes(blob))


@pytest.mark.parametrize("how", ["truncated", "bit-flipped"])
def test_every_reader_names_the_damaged_shard_and_index_rebuilds_it(tmp_path, how, trained):
    _, model, _ = trained
    store = tmp_path / "store"
    r = run("index", UNSEEN, "--store", store, "--embedder", "mfcc", "-q")
    assert r.exit_code == 0, r.output
    before = run("search", store, "--like", UNSEEN / "2-100786-A-1.flac", "-k", "3", "--format", "csv").output
    (shard,) = sorted((store / "shards").glob("*.parquet"))
    _damage(shard, how)
    for args in (["search", store, "--like", UNSEEN / "2-100786-A-1.flac"], ["cluster", store], ["map", store, "--out", tmp_path / "m.html"],
                 ["label", store, "--model", model, "--out", tmp_path / "l.csv"]):
        one_line_error(run(*args), shard.name, "damaged", "earmark index")
    r = run("index", UNSEEN, "--store", store)
    assert r.exit_code == 0, r.output
    assert "2 added" in r.output and shard.name in r.output  # the warning names the shard set aside
    assert (store / "damaged" / shard.name).is_file()
    assert run("search", store, "--like", UNSEEN / "2-100786-A-1.flac", "-k", "3", "--format", "csv").output == before


def test_small_shards_left_by_earlier_runs_are_compacted_without_resurrecting_old_rows(tmp_path, monkeypatch):
    """Issue 25: a resumed (or piecemeal) index leaves many small shards; once they pile up (here past 1, by default past
    16) the next run merges them, live rows only."""
    import shutil

    import earmark.explore.store as store_module
    from earmark.explore.store import Store

    monkeypatch.setattr(store_module, "SMALL_SHARDS", 1)
    clips = sorted(UNSEEN.glob("*.flac"))
    folder = tmp_path / "rec"
    folder.mkdir()
    store = tmp_path / "store"
    for i, clip in enumerate(clips):  # one run per file: one small shard each
        shutil.copy(clip, folder / f"{i}.flac")
        assert run("index", folder / f"{i}.flac", "--store", store, "--embedder", "mfcc", "-q").exit_code == 0
    shutil.copy(clips[1], folder / "0.flac")  # 0.flac changes: its old rows are dead from the next run on
    assert run("index", folder / "0.flac", "--store", store, "-q").exit_code == 0
    st = Store.open(store)
    assert len(st.shards()) == 1
    table = st.table(("file", "sha256"))
    assert len(table["file"]) == 2 * 9 and len(set(table["sha256"])) == 1  # both files now hold clip 1's 9 windows
    import pyarrow.parquet as pq

    assert pq.read_metadata(st.shards()[0]).num_rows == 18  # no dead row came back
