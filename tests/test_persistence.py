import json
import zipfile

import numpy as np
import pytest

import earmark
from earmark.errors import ModelFileError
from earmark.pipeline import Model


@pytest.fixture
def trained(demo_subset, cache_dir):
    return earmark.train(demo_subset, embedder="mfcc", classifier="knn", cache_dir=cache_dir)


def test_round_trip_gives_identical_predictions(trained, demo_subset, tmp_path):
    path = trained.save(tmp_path / "m.earmark")
    loaded = Model.load(path)
    files = sorted(demo_subset.glob("*.flac"))
    np.testing.assert_allclose(loaded.predict_proba(files), trained.predict_proba(files))
    assert loaded.classes == ["dog", "rain", "rooster"]
    meta = json.loads(zipfile.ZipFile(path).read("earmark.json"))
    assert meta["front_end"]["name"] == "mfcc" and meta["info"]["data"]["n_files"] == 9
    assert meta["earmark_version"] == earmark.__version__ and meta["format_version"] == 2
    assert meta["model"] == {"name": "knn", "kind": "embedding head", "params": loaded.estimator.get_params(deep=False)}
    assert {n: p["format"] for n, p in meta["parts"].items()} == {"head": "skops", "fitted": "json"}
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def _rewrite(path, name, data):
    with zipfile.ZipFile(path) as z:
        items = {n: z.read(n) for n in z.namelist()}
    items[name] = data
    with zipfile.ZipFile(path, "w") as z:
        for n, d in items.items():
            z.writestr(n, d)


def test_tampered_classifier_is_refused(trained, tmp_path):
    path = trained.save(tmp_path / "m.earmark")
    with zipfile.ZipFile(path) as z:
        blob = bytearray(z.read("parts/head.skops"))
    blob[100] ^= 1
    _rewrite(path, "parts/head.skops", bytes(blob))
    with pytest.raises(ModelFileError, match="checksum"):
        Model.load(path)


def test_newer_format_is_refused(trained, tmp_path):
    path = trained.save(tmp_path / "m.earmark")
    meta = json.loads(zipfile.ZipFile(path).read("earmark.json"))
    meta["format_version"] = 99
    _rewrite(path, "earmark.json", json.dumps(meta))
    with pytest.raises(ModelFileError, match="upgrade earmark"):
        Model.load(path)


def test_not_a_model_is_refused(tmp_path):
    path = tmp_path / "junk.earmark"
    path.write_text("hello")
    with pytest.raises(ModelFileError, match="not an earmark model"):
        Model.load(path)
    with pytest.raises(ModelFileError, match="no such model"):
        Model.load(tmp_path / "missing.earmark")


def test_untrusted_types_are_refused(trained, tmp_path):
    import hashlib

    import skops.io as sio
    from sklearn.pipeline import FunctionTransformer

    path = trained.save(tmp_path / "m.earmark")
    evil = sio.dumps(FunctionTransformer(func=eval))
    meta = json.loads(zipfile.ZipFile(path).read("earmark.json"))
    meta["parts"]["head"]["sha256"] = hashlib.sha256(evil).hexdigest()
    _rewrite(path, "parts/head.skops", evil)
    _rewrite(path, "earmark.json", json.dumps(meta))
    with pytest.raises(ModelFileError, match="does not trust"):
        Model.load(path)


def test_fused_model_round_trips(demo_subset, cache_dir, tmp_path):
    model = earmark.train(demo_subset, embedder="aisfx+mfcc", classifier="logreg", cache_dir=cache_dir)
    loaded = Model.load(model.save(tmp_path / "fused.earmark"))
    assert loaded.embedder.name == "aisfx+mfcc" and loaded.embedder.dims == 552
    files = sorted(demo_subset.glob("*.flac"))[:3]
    np.testing.assert_allclose(loaded.predict_proba(files), model.predict_proba(files), atol=1e-6)


def test_changed_embedder_parameters_are_refused(trained, tmp_path):
    path = trained.save(tmp_path / "m.earmark")
    meta = json.loads(zipfile.ZipFile(path).read("earmark.json"))
    meta["front_end"]["version"] = "0"
    _rewrite(path, "earmark.json", json.dumps(meta))
    with pytest.raises(ModelFileError, match="retrain"):
        Model.load(path)


@pytest.mark.parametrize("name", ["logmel", "kws-mel", "aisfx", "speech", "speaker", "mfcc", "wave"])
def test_a_front_end_at_a_hop_of_its_own_is_rebuilt_from_the_model_file(name):
    """Front ends record their hop in units of their own (frames, blocks, embeddings) but take hop_s: the model file
    also keeps hop_s, so a non-default hop rebuilds to the same identity (not a 'retrain' refusal)."""
    from earmark.embeddings import get_embedder
    from earmark.pipeline import _front_end

    front = get_embedder(name, hop_s=0.3)
    rebuilt = _front_end("m.earmark", {**front.identity(), "hop_s": front.hop_s})
    assert rebuilt.identity() == front.identity() and rebuilt.hop_s == pytest.approx(front.hop_s)
    assert _front_end("m.earmark", get_embedder(name).identity()).identity() == get_embedder(name).identity()  # files without hop_s


@pytest.mark.parametrize("classifier", ["logreg", "mlp"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_logreg_and_mlp_heads_are_stored_as_arrays_and_predict_the_same(demo_subset, cache_dir, tmp_path, classifier, n_classes):
    import sklearn.base

    from earmark.data.dataset import Dataset, load_dataset

    data = load_dataset(demo_subset)
    data = Dataset(data.root, [c for c in data.clips if c.label in data.labels[:n_classes]])
    files = [c.path for c in data.clips]
    model = earmark.train(data, embedder="mfcc", classifier=classifier, cache_dir=cache_dir)
    path = model.save(tmp_path / "m.earmark")
    meta = json.loads(zipfile.ZipFile(path).read("earmark.json"))
    assert {n: p["format"] for n, p in meta["parts"].items()} == {"head_arrays": "safetensors", "head_config": "json", "fitted": "json"}
    loaded = Model.load(path)
    np.testing.assert_allclose(loaded.predict_proba(files), model.predict_proba(files), rtol=1e-6)
    a, b = loaded.estimator.head_, model.estimator.head_
    windows = np.random.default_rng(0).normal(size=(50, a.n_features_in_))
    np.testing.assert_array_equal(a.predict_proba(windows), b.predict_proba(windows))  # the same head, bit for bit
    assert [(n, type(s), s.get_params()) for n, s in a.steps] == [(n, type(s), s.get_params()) for n, s in b.steps]
    refit = sklearn.base.clone(loaded.estimator)  # a restored model still trains again
    assert refit.get_params() == model.estimator.get_params()


def test_a_model_with_an_array_head_loads_without_skops(demo_subset, cache_dir, tmp_path):
    import subprocess
    import sys

    path = earmark.train(demo_subset, embedder="mfcc", classifier="logreg", cache_dir=cache_dir).save(tmp_path / "m.earmark")
    code = ("import sys; from earmark.pipeline import Model; m = Model.load(sys.argv[1]); "
            "print(m.classes, 'skops.io' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['dog', 'rain', 'rooster'] False"


def test_a_damaged_array_head_is_refused_with_the_part_named(demo_subset, cache_dir, tmp_path):
    import hashlib

    path = earmark.train(demo_subset, embedder="mfcc", classifier="mlp", cache_dir=cache_dir).save(tmp_path / "m.earmark")
    meta = json.loads(zipfile.ZipFile(path).read("earmark.json"))
    config = json.loads(zipfile.ZipFile(path).read("parts/head_config.json"))
    del config["out_activation"]
    blob = json.dumps(config).encode()
    meta["parts"]["head_config"]["sha256"] = hashlib.sha256(blob).hexdigest()
    meta["parts"]["head_config"]["bytes"] = len(blob)
    _rewrite(path, "parts/head_config.json", blob)
    _rewrite(path, "earmark.json", json.dumps(meta))
    with pytest.raises(ModelFileError, match="head_arrays"):
        Model.load(path)
