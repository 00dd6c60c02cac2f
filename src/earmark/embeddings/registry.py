"""Embedders by name: ``get_embedder("aisfx")``."""

from __future__ import annotations

from collections.abc import Callable

from earmark.embeddings.base import Embedder
from earmark.errors import ParameterError, did_you_mean
from earmark.plugins import Registry

DEFAULT_EMBEDDER = "aisfx"


def _aisfx(**kw) -> Embedder:
    from earmark.embeddings.aisfx import AisfxEmbedder

    return AisfxEmbedder(**kw)


def _aisfx_mel(**kw) -> Embedder:
    from earmark.embeddings.aisfx import AisfxBlocks

    return AisfxBlocks(**kw)


def _mfcc(**kw) -> Embedder:
    from earmark.embeddings.mfcc import MfccEmbedder

    return MfccEmbedder(**kw)


def _birdnet(**kw) -> Embedder:
    from earmark.embeddings.birdnet import BirdnetEmbedder

    return BirdnetEmbedder(**kw)


def _speech(**kw) -> Embedder:
    from earmark.embeddings.speech import SpeechEmbedder

    return SpeechEmbedder(**kw)


def _speech_stream(**kw) -> Embedder:
    from earmark.embeddings.speech import SpeechStream

    return SpeechStream(**kw)


def _speaker(**kw) -> Embedder:
    from earmark.embeddings.speaker import SpeakerEmbedder

    return SpeakerEmbedder(**kw)


def _logmel(**kw) -> Embedder:
    from earmark.embeddings.logmel import LogMelPatches

    return LogMelPatches(**kw)


def _kws_mel(**kw) -> Embedder:
    from earmark.embeddings.logmel import KeywordMel

    return KeywordMel(**kw)


def _wave(**kw) -> Embedder:
    from earmark.embeddings.wave import WaveWindows

    return WaveWindows(**kw)


def _mfcc_frames(**kw) -> Embedder:
    from earmark.embeddings.mfcc_frames import MfccFrames

    return MfccFrames(**kw)


def _mel_frames(**kw) -> Embedder:
    from earmark.embeddings.mfcc_frames import MelFrames

    return MelFrames(**kw)


EMBEDDERS: dict[str, Callable[..., Embedder]] = Registry({  # the plug-ins' front ends join on first read (earmark.plugins)
    "aisfx": _aisfx,
    "mfcc": _mfcc,
    "birdnet": _birdnet,
    "speech": _speech,
    "speech-stream": _speech_stream,
    "speaker": _speaker,
    "logmel": _logmel,
    "kws-mel": _kws_mel,
    "wave": _wave,
    "aisfx-mel": _aisfx_mel,
    "mfcc-frames": _mfcc_frames,
    "mel-frames": _mel_frames,
})


def register_embedder(name: str, factory: Callable[..., Embedder]) -> None:
    """Make ``factory(**params)`` the front end called ``name`` (for train, predict, detect, listen and model files).

    A front end defined outside earmark registers itself this way, as a model does with
    :func:`earmark.models.register_model`; it must honour :class:`earmark.embeddings.base.Embedder`'s contract
    (``tests/embeddings/test_contract.py``). Names with ``+`` are taken by fusion.

    Raises
    ------
    ParameterError
        If the name is empty, holds ``+``, or is taken.
    """
    if not name or "+" in name or name != name.strip():
        raise ParameterError(f"A front end's name must be non-empty without '+' or spaces around it. Got {name!r} instead.")
    if dict.__contains__(EMBEDDERS, name):  # (not through the plug-ins: they may be registering)
        raise ParameterError(f"A front end called {name!r} is registered already; choose another name (or unregister it).")
    EMBEDDERS[name] = factory


def unregister_embedder(name: str) -> None:
    """Remove a front end registered with :func:`register_embedder`."""
    EMBEDDERS.pop(name, None)


def get_embedder(name: str, **params) -> Embedder:
    """Build the embedder registered as ``name`` with ``params``.

    ``"a+b"`` builds the fusion of ``a`` and ``b`` (concatenated vectors,
    see :mod:`earmark.embeddings.fusion`).

    Raises
    ------
    ParameterError
        If no embedder has that name, or a parameter is invalid.

    Examples
    --------
    >>> mfcc = get_embedder("mfcc")
    >>> mfcc.sample_rate, mfcc.dims, mfcc.window_s, mfcc.hop_s
    (22050, 40, 1.0, 0.5)
    >>> emb = mfcc.embed(np.zeros(22050 * 3, np.float32), sr=22050)  # 3 s of silence
    >>> emb.vectors.shape, emb.times_s.tolist()
    ((5, 40), [0.5, 1.0, 1.5, 2.0, 2.5])
    >>> get_embedder("aisfx+mfcc").dims
    552
    """
    if "+" in name:
        from earmark.embeddings.fusion import FusedEmbedder

        if params:
            raise ParameterError(f"Fused embedder {name!r} takes no parameters; configure its parts instead.")
        names = name.split("+")
        if len(set(names)) != len(names) or not all(names):
            raise ParameterError(f"The 'embedder' parameter {name!r} must join distinct embedder names with '+', e.g. 'aisfx+mfcc'.")
        return FusedEmbedder([get_embedder(n) for n in names])
    if name not in EMBEDDERS:
        raise ParameterError(f"The 'embedder' parameter must be one of {', '.join(EMBEDDERS)}, or two joined with '+' "
                             f"to fuse them (e.g. aisfx+mfcc). Got {name!r} instead.{did_you_mean(name, EMBEDDERS)}")
    try:
        return EMBEDDERS[name](**params)
    except TypeError as exc:
        raise ParameterError(f"Embedder {name!r} got an unknown parameter ({exc}); check the model or command options.") from None
