"""lstm-tagger: weak labels on known-answer sequences, frame scores that localise, the three transfers, save and reload."""

from __future__ import annotations

import numpy as np
import pytest

from earmark.embeddings import get_embedder
from earmark.errors import ParameterError
from earmark.models import get_model
from earmark.pipeline import Model

N_FRAMES = 80


def _clips(rng, n: int, *, shift: int = 0):
    """Noise frames; clips with the tag hold a 12-frame burst (features ``shift..shift+4`` raised) somewhere."""
    X, y, onsets = [], [], []
    for i in range(n):
        x = rng.normal(size=(N_FRAMES, 20)).astype(np.float32)
        onset = -1
        if i % 2 == 0:
            onset = int(rng.integers(0, N_FRAMES - 12))
            x[onset:onset + 12, shift:shift + 5] += 3.0
        X.append(x)
        y.append("event" if i % 2 == 0 else "")
        onsets.append(onset)
    return X, np.array(y, dtype=object), onsets


def _tagger(**kw):
    return get_model("lstm-tagger", **{"hidden": 16, "learning_rate": 0.01, "max_epochs": 25, "patience": 25, **kw})


def _save(est, path):
    Model(get_embedder("mfcc-frames"), est, "lstm-tagger", None, {}).save(path)
    return path


def test_weak_labels_train_a_tagger_whose_frame_scores_find_the_event(rng):
    X, y, _ = _clips(rng, 48)
    est = _tagger().fit(X, y)
    assert est.is_tagger and est.classes_.tolist() == ["event"]
    Xt, yt, onsets = _clips(rng, 30)
    assert (est.predict(Xt) == yt).mean() >= 0.9
    first = [int(np.argmax(est.window_proba(x)[:, 0] >= 0.5)) for x, o in zip(Xt, onsets) if o >= 0]
    errors = np.abs(np.array(first) - [o for o in onsets if o >= 0])
    assert np.mean(errors <= 6) >= 0.8  # the frame scores rise where the burst starts, which training never said


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    rng = np.random.default_rng(1)
    X, y, _ = _clips(rng, 40, shift=0)
    est = _tagger().fit(X, ["source" if v else "" for v in y])
    return est, _save(est, tmp_path_factory.mktemp("src") / "source.earmark")


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("transfer", ["all", "freeze-low", "parallel-low"])
def test_transfers_freeze_exactly_what_they_claim(source, transfer, rng, tmp_path):
    src, path = source
    X, y, _ = _clips(rng, 24, shift=10)
    est = _tagger(pretrained=str(path), transfer=transfer, max_epochs=3).fit(X, y)
    net, low = est.network_, _state(src.network_.low)
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    if transfer == "all":
        assert all(not torch_equal(net.low.state_dict()[k], low[k]) for k in low)  # started there, then trained
        assert trainable == {n for n, _ in net.named_parameters()}
    elif transfer == "freeze-low":
        assert all(torch_equal(net.low.state_dict()[k], low[k]) for k in low)
        assert not any(n.startswith("low.") for n in trainable) and any(n.startswith("high.") for n in trainable)
        assert all(p.grad is None for p in net.low.parameters())
    else:
        assert all(torch_equal(net.low_pretrained.state_dict()[k], low[k]) for k in low)
        assert not any(n.startswith("low_pretrained.") for n in trainable)
        assert {n.split(".")[0] for n in trainable} == {"low", "high", "out"}
        assert net.high.weight_ih_l0.shape[1] == 2 * 16  # the two first layers side by side
    assert est.transfer_["transfer"] == transfer and est.transfer_["source_tags"] == ["source"]
    np.testing.assert_array_equal(est.mean_, src.mean_)

    saved = _save(est, tmp_path / "t.earmark")
    moved = path.with_suffix(".gone")
    path.rename(moved)  # the transferred model stands alone
    try:
        back = Model.load(saved).estimator
        np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
        np.testing.assert_array_equal(back.window_proba(X[0]), est.window_proba(X[0]))
        assert back.transfer_["source_sha256"] == est.transfer_["source_sha256"]
    finally:
        moved.rename(path)


def torch_equal(a, b) -> bool:
    return bool((a == b).all())


def test_a_source_that_is_not_a_tagger_is_refused(rng, tmp_path):
    X, y, _ = _clips(rng, 12)
    head = get_model("logreg").fit(X, np.where(y == "", "quiet", "event"))
    path = tmp_path / "head.earmark"
    Model(get_embedder("mfcc-frames"), head, "logreg", None, {}).save(path)
    with pytest.raises(Exception, match="not an lstm-tagger"):
        _tagger(pretrained=str(path)).fit(X, y)
    with pytest.raises(Exception, match="no such model file"):
        _tagger(pretrained=str(tmp_path / "missing.earmark")).fit(X, y)


def test_the_models_layer_reads_a_source_itself_without_the_pipeline(source, tmp_path):
    """No reader is installed at import: a process that imports only earmark.models transfers from a source file; a
    source whose description disagrees with its weights is refused in one line naming the file and the fix."""
    import subprocess
    import sys
    import zipfile

    _, path = source
    code = f"""
import sys
import numpy as np
from earmark.models import get_model
rng = np.random.default_rng(0)
X = [rng.normal(size=({N_FRAMES}, 20)).astype(np.float32) for _ in range(8)]
y = np.array(["event" if i % 2 else "" for i in range(8)], dtype=object)
est = get_model("lstm-tagger", hidden=16, max_epochs=1, pretrained={str(path)!r}).fit(X, y)
assert est.transfer_["source"] == "source.earmark", est.transfer_
assert "earmark.pipeline" not in sys.modules
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]

    bloated = tmp_path / "bloated.earmark"  # the same file, its description now claiming a tiny tagger (1 unit)
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(bloated, "w") as out:
        for item in z.infolist():
            data = z.read(item)
            if item.filename == "earmark.json":
                data = data.replace(b'"hidden": 16', b'"hidden": 1')
            out.writestr(item, data)
    X, y, _ = _clips(np.random.default_rng(2), 8)
    with pytest.raises(ParameterError, match=r"pretrained=.*bloated.earmark: its fitted state is .*retrain the source tagger"):
        _tagger(pretrained=str(bloated)).fit(X, y)
