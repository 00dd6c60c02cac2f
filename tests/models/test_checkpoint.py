"""An interrupted training resumes from its checkpoint and ends with the same weights as an uninterrupted one."""

from __future__ import annotations

import numpy as np
import pytest

import earmark.models.training as training
from earmark.models import get_model


class Interrupted(Exception):
    pass


@pytest.fixture
def data(rng):
    clips = [rng.normal(size=(2, 16, 8)).astype(np.float32) + (k % 3) for k in range(18)]
    return clips, np.array(["a", "b", "c"] * 6)


def _interrupt_after(monkeypatch, epoch: int) -> None:
    def stop(e):
        if e == epoch:
            raise Interrupted

    monkeypatch.setattr(training, "_epoch_done", stop)


@pytest.mark.parametrize("augment", [None, "specaugment,mixup"])
def test_resumed_training_ends_with_the_uninterrupted_weights(data, tmp_path, monkeypatch, augment):
    clips, y = data
    params = {"max_epochs": 5, "patience": 10, "augment": augment}
    reference = get_model("vgg-small", **params).fit(clips, y)
    _interrupt_after(monkeypatch, 2)
    with pytest.raises(Interrupted):
        get_model("vgg-small", checkpoint_dir=str(tmp_path), **params).fit(clips, y)
    assert len(list(tmp_path.glob("*.safetensors"))) == 1 and len(list(tmp_path.glob("*.json"))) == 1
    monkeypatch.setattr(training, "_epoch_done", lambda e: None)
    resumed = get_model("vgg-small", checkpoint_dir=str(tmp_path), **params).fit(clips, y)
    a, b = resumed.network_.state_dict(), reference.network_.state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy(), err_msg=k)
    assert [e["epoch"] for e in resumed.history_["epochs"]] == [1, 2, 3, 4, 5]
    assert [round(e["loss"], 6) for e in resumed.history_["epochs"]] == [round(e["loss"], 6) for e in reference.history_["epochs"]]
    assert not list(tmp_path.iterdir())  # the checkpoint is removed when training ends


def test_a_checkpoint_of_other_data_is_never_resumed(data, tmp_path, monkeypatch):
    clips, y = data
    _interrupt_after(monkeypatch, 1)
    with pytest.raises(Interrupted):
        get_model("timbre", checkpoint_dir=str(tmp_path), max_epochs=3).fit(clips, y)
    monkeypatch.setattr(training, "_epoch_done", lambda e: None)
    other = [c + 1 for c in clips]
    m = get_model("timbre", checkpoint_dir=str(tmp_path), max_epochs=3).fit(other, y)
    assert [e["epoch"] for e in m.history_["epochs"]] == [1, 2, 3]
    assert len(list(tmp_path.glob("*.json"))) == 1  # the other run's checkpoint stays for its own resume


def test_a_damaged_checkpoint_is_ignored_with_a_warning(data, tmp_path, monkeypatch, caplog):
    clips, y = data
    _interrupt_after(monkeypatch, 1)
    with pytest.raises(Interrupted):
        get_model("timbre", checkpoint_dir=str(tmp_path), max_epochs=2).fit(clips, y)
    (blob,) = tmp_path.glob("*.safetensors")
    blob.write_bytes(blob.read_bytes()[:-10])
    monkeypatch.setattr(training, "_epoch_done", lambda e: None)
    m = get_model("timbre", checkpoint_dir=str(tmp_path), max_epochs=2).fit(clips, y)
    assert [e["epoch"] for e in m.history_["epochs"]] == [1, 2]
    assert "training starts afresh" in caplog.text


def test_train_resumes_an_interrupted_run_from_the_cache_folder(demo_subset, cache_dir, tmp_path, monkeypatch):
    import earmark

    params = {"max_epochs": 3, "patience": 10}
    reference = earmark.train(demo_subset, model="timbre", model_params=params, cache_dir=cache_dir)
    _interrupt_after(monkeypatch, 2)
    with pytest.raises(Interrupted):
        earmark.train(demo_subset, model="timbre", model_params=params, cache_dir=cache_dir)
    assert list((cache_dir / "checkpoints").glob("*.json"))
    monkeypatch.setattr(training, "_epoch_done", lambda e: None)
    resumed = earmark.train(demo_subset, model="timbre", model_params=params, cache_dir=cache_dir)
    clips = sorted(demo_subset.glob("*.flac"))
    np.testing.assert_array_equal(resumed.predict_proba(clips), reference.predict_proba(clips))
    assert not list((cache_dir / "checkpoints").glob("*.json"))
