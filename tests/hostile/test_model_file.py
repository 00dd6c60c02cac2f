"""Issue 25, defects 2 and 11: a model file cannot make earmark inflate more than its architecture needs, and every
number in its description is checked."""

from __future__ import annotations

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
