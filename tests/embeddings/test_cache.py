import numpy as np

from earmark.embeddings import EmbeddingCache, get_embedder
from earmark.embeddings.runner import embed_files


class CountingEmbedder:
    """Wraps an embedder and counts audio work."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed_file(self, path):
        self.calls += 1
        return self.inner.embed_file(path)


def test_second_run_does_no_audio_work(demo_subset, cache_dir):
    files = sorted(demo_subset.glob("*.flac"))
    emb = CountingEmbedder(get_embedder("mfcc"))
    first = embed_files(files, emb, EmbeddingCache(cache_dir))
    assert emb.calls == len(files)
    second = embed_files(files, emb, EmbeddingCache(cache_dir))
    assert emb.calls == len(files)
    for f in files:
        np.testing.assert_array_equal(first.embeddings[f].vectors, second.embeddings[f].vectors)


def test_corrupted_entry_is_recomputed(demo_subset, cache_dir):
    path = sorted(demo_subset.glob("*.flac"))[0]
    emb = CountingEmbedder(get_embedder("mfcc"))
    cache = EmbeddingCache(cache_dir)
    good = cache.get(emb, path).vectors
    entries = list(cache_dir.rglob("*.npz"))
    assert len(entries) == 1
    entries[0].write_bytes(entries[0].read_bytes()[:200])  # half-written
    again = cache.get(emb, path).vectors
    assert emb.calls == 2
    np.testing.assert_array_equal(good, again)
    # a flipped byte in the arrays fails the checksum
    data = bytearray(entries[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    entries[0].write_bytes(bytes(data))
    np.testing.assert_array_equal(cache.get(emb, path).vectors, good)
    assert emb.calls == 3


def test_key_depends_on_content_and_embedder(demo_subset, cache_dir):
    path = sorted(demo_subset.glob("*.flac"))[0]
    cache = EmbeddingCache(cache_dir)
    cache.get(get_embedder("mfcc"), path)
    cache.get(get_embedder("mfcc", hop_s=0.25), path)
    copy = demo_subset / "renamed.flac"
    copy.write_bytes(path.read_bytes())
    cache.get(get_embedder("mfcc"), copy)
    assert len(list(cache_dir.rglob("*.npz"))) == 2 and cache.hits == 1
