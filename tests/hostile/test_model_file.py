"""Issue 25, defects 2 and 11: a model file cannot make earmark inflate more than its architecture needs, and every
number in its description is checked."""

from __future__ import annotations

import json
import re

import pytest

from earmark.errors import ModelFileError
from earmark.pipeline import Model
from tests.conftest import DEMO
from tests.hostile.conftest import one_line_error, run
from tests.hostile.crafted import rewrite


@pytest.fixture(scope="module")
def open_set_model(trained, tmp_path_factory):
    data, _, cache = trained
    path = tmp_path_factory.mktemp("mr") / "mr.earmark"
    r = run("train", data, "--embedder", "mfcc", "--reject", "distance", "--out", path, "--cache-dir", cache, "-q")
    assert r.exit_code == 0, r.output
    return path


def test_extra_tensors_beyond_the_architecture_are_refused_before_reading(open_set_model, tmp_path):
    bad = rewrite(open_set_model, tmp_path / "big.earmark", extra_bytes=64 << 20)
    with pytest.raises(ModelFileError, match="needs at most"):
        Model.load(bad)
    one_line_error(run("predict", bad, DEMO / "unseen" / "2-100786-A-1.flac"), "big.earmark", "extra or oversized tensors")


def test_a_model_with_the_tensors_it_needs_still_loads(open_set_model):
    assert Model.load(open_set_model).classes == ["dog", "rain", "rooster"]


def test_tensor_headers_that_lie_about_their_size_are_refused(open_set_model, tmp_path):
    import json
    import zipfile

    from earmark.persistence import safetensors_header

    with zipfile.ZipFile(open_set_model) as z:
        blob = z.read("parts/novelty.safetensors")
    n = int.from_bytes(blob[:8], "little")
    assert safetensors_header(open_set_model, "novelty", blob, len(blob)) == len(blob) - 8 - n
    header = json.loads(blob[8 : 8 + n])
    key = next(k for k in header if k != "__metadata__")
    header[key]["shape"] = [10**12]
    h = json.dumps(header).encode()
    with pytest.raises(ModelFileError, match="offsets do not hold its shape"):
        safetensors_header(open_set_model, "novelty", len(h).to_bytes(8, "little") + h, len(blob))


def _set(path: str, value):
    def edit(meta):
        *parents, last = path.split(".")
        node = meta
        for key in parents:
            node = node[key]
        node[last] = value
    return edit


@pytest.mark.parametrize("what, edit, needle", [
    ("n_fft 2^40", _set("front_end.params.n_fft", 1 << 40), "n_fft"),
    ("n_fft 2^28", _set("front_end.params.n_fft", 1 << 28), "n_fft"),
    ("n_mels 10^6", _set("front_end.params.n_mels", 10**6), "n_mels"),
    ("hop_s inf", _set("front_end.hop_s", float("inf")), "hop_s"),
    ("gate_db NaN", _set("gate_db", float("nan")), "gate_db"),
    ("gate_db +300", _set("gate_db", 300.0), "gate_db"),
    ("format_version -1", _set("format_version", -1), "format_version"),
    ("hidden layers 10^9", _set("model.params.classifier_params", {"hidden_layer_sizes": [10**9]}), "hidden_layer_sizes"),
    ("reject_rate NaN", _set("model.params.reject_rate", float("nan")), "reject_rate"),
    ("a JSON nested 5,000 deep", lambda meta: json.dumps(meta)[:-1] + ', "deep": ' + "[" * 5000 + "]" * 5000 + "}", "not an earmark model file"),
    ("200,000 classes", _set("classes", [f"c{i}" for i in range(200_000)]), "at most 100,000 classes"),
    ("1.5 million classes", _set("classes", [f"c{i}" for i in range(1_500_000)]), "over the 16777216 limit"),
])
def test_every_number_in_a_description_is_checked(open_set_model, tmp_path, what, edit, needle):
    bad = rewrite(open_set_model, tmp_path / "edited.earmark", meta_edit=edit)
    with pytest.raises(ModelFileError, match=re.escape(needle)):
        Model.load(bad)
    line = one_line_error(run("predict", bad, DEMO / "unseen" / "2-100786-A-1.flac"), "edited.earmark", needle)
    assert len(line) < 600  # one readable line, whatever the file holds
