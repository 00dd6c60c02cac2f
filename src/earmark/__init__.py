"""earmark: few-shot sound classification by transfer learning.

>>> import earmark
>>> model = earmark.train("data/demo/train")          # doctest: +SKIP
>>> model.predict("clip.wav")[0].label                # doctest: +SKIP

The names below load on first use (PEP 562), so ``import earmark`` and
``earmark --help`` do not pay for scikit-learn, torch or the embedders.
"""

from earmark._version import __version__

_API = {"compare", "curve", "detect", "evaluate", "load_model", "predict", "train"}
_PIPELINE = {"Model", "Prediction"}

__all__ = ["Model", "Prediction", "__version__", "compare", "curve", "detect", "evaluate", "load_model", "predict", "train"]


def __getattr__(name: str):
    if name == "api":  # earmark.api.export(...) works without importing the submodule first
        import importlib

        return importlib.import_module("earmark.api")
    if name in _API:
        from earmark import api

        return getattr(api, name)
    if name in _PIPELINE:
        from earmark import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'earmark' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API | _PIPELINE | {"api"})
