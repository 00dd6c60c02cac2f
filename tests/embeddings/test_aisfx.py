"""earmark's aisfx port gives the same embeddings as the original package on real clips."""

import importlib.util

import numpy as np
import pytest
import torch

from earmark.embeddings import get_embedder
from earmark.embeddings.aisfx_net import load_aisfx_net

CLIPS = ["audio/1-100032-A-0.flac", "audio/2-100786-A-1.flac", "audio/2-101676-A-10.flac"]


def _original():
    if importlib.util.find_spec("aisfx") is None:
        pytest.skip("the reference package aisfx==0.1.2 is not installed (make install puts it there)")
    import numpy
    from aisfx.inference import get_path_modelWeights, load_bestModel

    allowed = [numpy.dtype, numpy.dtypes.Int64DType, (numpy._core.multiarray.scalar, "numpy.core.multiarray.scalar")]
    with torch.serialization.safe_globals(allowed):
        weights, datasets = torch.load(get_path_modelWeights(), map_location="cpu", weights_only=True)
    return load_bestModel(weights, datasets, "cpu")


def test_network_matches_original_checkpoint(rng):
    original = _original()
    x = torch.from_numpy(rng.random((4, 100, 96), dtype=np.float32))
    with torch.inference_mode():
        np.testing.assert_allclose(load_aisfx_net()(x).numpy(), original.get_embedding(x).numpy(), rtol=1e-4, atol=1e-4)


def test_pipeline_matches_original_on_real_clips(esc10):
    original = _original()
    from aisfx.inference import model_get_embedding
    from aisfx.preprocessing import spectrogram_normalize
    from aisfx.spectrogram import spectrogram_librosa

    embedder = get_embedder("aisfx")
    for rel in CLIPS:
        path = str(esc10 / rel)
        spec = spectrogram_librosa.compute_spectrogram(path, 44100, 2048, 1024, 96, 0.0, 22050.0)
        ref = model_get_embedding(spectrogram_normalize(spec.T), 0.5, True, original, "cpu").numpy()
        ours = embedder.embed_file(path).vectors
        assert ours.shape == ref.shape == (3, 512)
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)
