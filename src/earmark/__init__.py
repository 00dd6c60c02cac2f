"""earmark: few-shot sound classification by transfer learning.

>>> import earmark
>>> model = earmark.train("data/demo/train")          # doctest: +SKIP
>>> model.predict("clip.wav")[0].label                # doctest: +SKIP
"""

__version__ = "0.1.0"

from earmark.api import compare, curve, detect, evaluate, load_model, predict, train  # noqa: E402
from earmark.pipeline import Model, Prediction  # noqa: E402

__all__ = ["Model", "Prediction", "__version__", "compare", "curve", "detect", "evaluate", "load_model", "predict", "train"]
