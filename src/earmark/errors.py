"""earmark's exceptions: one root, one subclass per kind of problem.

Every message names the offending file or parameter, the bad value and the fix,
so the CLI can print it as one line.
"""

from __future__ import annotations

import math


class EarmarkError(Exception):
    """Root of every error earmark raises on purpose."""


class ParameterError(EarmarkError, ValueError):
    """A parameter has an invalid value."""


class AudioLoadError(EarmarkError):
    """An audio file cannot be read, or its content is unusable."""


class DatasetError(EarmarkError):
    """A dataset folder or its metadata is malformed."""


class ModelFileError(EarmarkError):
    """A saved model file is missing, corrupted, tampered with or incompatible."""


class MissingBackendError(EarmarkError):
    """An optional backend (an embedder's package or runtime) is not installed."""


# the optional extras of pyproject.toml, by the top-level module a missing one makes fail to import
EXTRAS = {
    "fastapi": "serve", "uvicorn": "serve", "multipart": "serve", "python_multipart": "serve", "websockets": "serve",
    "pyarrow": "explore", "usearch": "explore", "bokeh": "explore", "umap": "explore",
    "onnx": "export", "onnxscript": "export", "skl2onnx": "export", "emlearn": "export", "onnxruntime": "export",
    "ai_edge_litert": "zoo", "dask": "dask", "distributed": "dask", "pyannote": "eval",
    "sphinx": "docs", "sphinx_gallery": "docs", "numpydoc": "docs", "pydata_sphinx_theme": "docs", "myst_parser": "docs",
}


def missing_extra(exc: ImportError) -> str | None:
    """One line naming the extra that provides the module ``exc`` could not import, with the install command
    (``None`` if the module is not one of an extra's)."""
    module = (getattr(exc, "name", None) or "").split(".")[0]
    extra = EXTRAS.get(module)
    if extra is None:
        return None
    return f"this needs {module}, which comes with earmark's '{extra}' extra; install it with: pip install 'earmark[{extra}]'"


class OutputError(EarmarkError):
    """An output file or folder cannot be written; ``reason`` says why in a few words."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


def _interval(low, high, low_open: bool, high_open: bool) -> str:
    low, high = (int(v) if isinstance(v, (int, float)) and float(v).is_integer() else v for v in (low, high))
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return "finite"


def check_number(name: str, value, *, low=None, high=None, low_open: bool = False, high_open: bool = False,
                 integer: bool = False, unit: str = ""):
    """Return ``value`` if it is a finite number (an integer if ``integer``) within the bounds, else raise
    :class:`ParameterError` naming ``name`` and the range. NaN, infinities and booleans are never numbers here.

    The one check every numeric option and every number read from a file goes through.

    >>> check_number("duration_s", 10.0, low=0, high=600, low_open=True, unit="seconds")
    10.0
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer:
        ok = float(value).is_integer()
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        kind = "an integer" if integer else "a number"
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise ParameterError(f"The '{name}' parameter must be {kind} {_interval(low, high, low_open, high_open)}"
                             f"{' ' + unit if unit else ''}. Got {shown} instead.")
    return value


def check_gate_db(name: str, value):
    """Return a gate level: None or -inf (every window kept), or a finite level in [-200, 0] dBFS."""
    if value is None or value == float("-inf"):
        return value
    return check_number(name, value, low=-200, high=0, unit="dBFS (or -inf to keep every window)")


def check_positive(name: str, value, *, kind: type = float, allow_zero: bool = False, high=None):
    """Return ``value`` if it is a finite positive number (at most ``high``), else raise :class:`ParameterError`.

    >>> check_positive("hop_s", 0.5)
    0.5
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is int:
        ok = ok and float(value).is_integer()
    if ok:
        ok = value >= 0 if allow_zero else value > 0
    if ok and high is not None:
        ok = value <= high
    if not ok:
        what = "non-negative" if allow_zero else "positive"
        limit = f" (at most {high:g})" if high is not None else ""
        raise ParameterError(f"The '{name}' parameter must be a {what} {kind.__name__}{limit}. Got {value!r} instead.")
    return value


def check_fraction(name: str, value) -> float:
    """Return ``value`` if it is a number in (0, 1], else raise :class:`ParameterError`.

    >>> check_fraction("threshold", 0.5)
    0.5
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 1
    if not ok:
        raise ParameterError(f"The '{name}' parameter must be a number in (0, 1]. Got {value!r} instead.")
    return float(value)


def did_you_mean(value, choices, aliases: dict[str, str] | None = None) -> str:
    """`` Did you mean 'logreg'?`` for a misspelt ``value`` close to one of ``choices`` (difflib's ratio >= 0.6), or for
    another name of one (``aliases``: ``{"tree": "rf"}``, matched without case), else ``""``."""
    import difflib

    names = [str(c) for c in choices]
    text = str(value)
    alias = (aliases or {}).get(text.lower().replace("_", "-"))
    if alias in names:
        return f" Did you mean {alias!r}?"
    close = difflib.get_close_matches(text, names, n=1, cutoff=0.6)
    if not close:  # a different case or separator: 'Dog' for 'dog', 'onnx_int8' for 'onnx-int8'
        folded = {n.lower().replace("_", "-"): n for n in names}
        close = [folded[k] for k in (text.lower().replace("_", "-"),) if k in folded]
    return f" Did you mean {close[0]!r}?" if close and close[0] != text else ""


def check_choice(name: str, value, choices, aliases: dict[str, str] | None = None) -> str:
    """Return ``value`` if it is one of ``choices``, else raise :class:`ParameterError` (suggesting the closest, or the
    choice ``aliases`` gives for another name of it)."""
    if value not in choices:
        raise ParameterError(f"The '{name}' parameter must be one of {', '.join(map(str, choices))}. Got {value!r} instead."
                             f"{did_you_mean(value, choices, aliases)}")
    return value


def one_line(exc: BaseException, limit: int = 240) -> str:
    """``"Type: message"`` on one line, at most ``limit`` characters (torch's state-dict errors run to dozens of lines)."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def skip_reason(path, exc: BaseException) -> str:
    """Why a batch job skipped ``path``: an earmark or OS error's message without the leading path, else the
    exception's type and message (a worker lost on a cluster, say)."""
    if isinstance(exc, (EarmarkError, OSError)):
        text = str(exc)
        return text[len(f"{path}: "):] if text.startswith(f"{path}: ") else text
    return f"{type(exc).__name__}: {exc}"


def record_skip(skipped: list, path, exc: BaseException) -> None:
    """Append ``{"file", "reason"}`` for ``path`` to a batch job's ``skipped`` list, and log it."""
    import logging

    reason = skip_reason(path, exc)
    skipped.append({"file": str(path), "reason": reason})
    logging.getLogger("earmark.batch").info("skipped %s: %s", path, reason)
