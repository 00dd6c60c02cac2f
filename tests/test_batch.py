"""One way to run work over many files (issue 27): the same job, the same results and the same skips in this process
and on a local Dask cluster; the resume manifest; a job never ships its loaded model."""

import logging
import pickle
from dataclasses import dataclass

import pytest

from earmark.batch import FileJob, Manifest, executor, remaining, run_key
from earmark.errors import AudioLoadError

pytest.importorskip("distributed")


@dataclass
class SizeJob(FileJob):
    """A file's size in bytes; 'unreadable' files fail as earmark's decoder does, 'weird' ones with a defect's error."""

    description = "measuring"

    def run(self, path: str, emb=None):
        if "unreadable" in path:
            raise AudioLoadError(f"{path}: cannot be decoded; convert it to WAV or FLAC.")
        if "weird" in path:
            raise ValueError("a defect, not the file's fault")
        with open(path, "rb") as f:
            return len(f.read())


@pytest.fixture
def files(tmp_path):
    out = []
    for name, size in (("a.wav", 10), ("b.wav", 20), ("unreadable.wav", 5), ("weird.wav", 7)):
        (tmp_path / name).write_bytes(b"x" * size)
        out.append(tmp_path / name)
    return out


def _outcome(results):
    return {p.name: (type(r).__name__ if isinstance(r, BaseException) else r) for p, r in results}


def test_one_job_gives_the_same_results_and_skips_here_and_on_a_cluster(files, caplog):
    with caplog.at_level(logging.ERROR, logger="earmark.batch"), executor() as here:
        local = _outcome(here.map(SizeJob(), files))
    assert local == {"a.wav": 10, "b.wav": 20, "unreadable.wav": "AudioLoadError", "weird.wav": "ValueError"}
    # the defect is logged with its traceback; the file's own fault is only the caller's skip
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.exc_info is not None and "weird.wav" in r.getMessage() for r in logged] == [True]
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="earmark.batch"), executor(workers=1) as cluster:
        remote = _outcome(cluster.map(SizeJob(), files))
    assert remote == local
    assert ["weird.wav" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [True]


def test_a_rerun_skips_what_the_manifest_says_is_done_with_the_same_bytes(files, tmp_path):
    from earmark.api.jobs import Batch

    key = run_key(b"model bytes", top_k=1)
    manifest = Manifest(tmp_path / "done.jsonl", key)
    with executor() as here:
        todo, shas = remaining(files[:2], manifest, here, Batch())
        assert todo == files[:2]
        manifest.add(str(files[0].resolve()), shas[str(files[0])], "")
        manifest.add(str(files[1].resolve()), shas[str(files[1])], "")
        files[1].write_bytes(b"changed")  # its bytes changed since: done again
        again = Manifest(tmp_path / "done.jsonl", key)
        batch = Batch()
        todo, _ = remaining([*files[:2], tmp_path / "gone.wav"], again, here, batch)
    assert todo == [files[1]] and batch.resumed == [str(files[0])]
    assert [s["file"] for s in batch.skipped] == [str(tmp_path / "gone.wav")]
    other = Manifest(tmp_path / "done.jsonl", run_key(b"model bytes", top_k=2))  # other settings: nothing is done
    assert other.done == {}


def test_a_job_never_pickles_its_loaded_model(tmp_path):
    import earmark
    from earmark.api.jobs import PredictJob, Runtime

    from conftest import make_demo_subset

    model = earmark.train(make_demo_subset(tmp_path / "demo", per_class=2), embedder="mfcc", classifier="logreg")
    job = PredictJob(b"payload", Runtime(), model, top_k=2)
    back = pickle.loads(pickle.dumps(job))
    assert back.loaded is None and back.payload == b"payload" and back.top_k == 2 and job.loaded is model
