"""Embedders by name: ``get_embedder("aisfx")``."""

from __future__ import annotations

from collections.abc import Callable

from earmark.embeddings.base import Embedder
from earmark.errors import ParameterError

DEFAULT_EMBEDDER = "aisfx"


def _aisfx(**kw) -> Embedder:
    from earmark.embeddings.aisfx import AisfxEmbedder

    return AisfxEmbedder(**kw)


def _mfcc(**kw) -> Embedder:
    from earmark.embeddings.mfcc import MfccEmbedder

    return MfccEmbedder(**kw)


EMBEDDERS: dict[str, Callable[..., Embedder]] = {"aisfx": _aisfx, "mfcc": _mfcc}


def get_embedder(name: str, **params) -> Embedder:
    """Build the embedder registered as ``name`` with ``params``.

    Raises
    ------
    ParameterError
        If no embedder has that name, or a parameter is invalid.
    """
    if name not in EMBEDDERS:
        raise ParameterError(f"The 'embedder' parameter must be one of {', '.join(EMBEDDERS)}. Got {name!r} instead.")
    try:
        return EMBEDDERS[name](**params)
    except TypeError as exc:
        raise ParameterError(f"Embedder {name!r} got an unknown parameter ({exc}); check the model or command options.") from None
