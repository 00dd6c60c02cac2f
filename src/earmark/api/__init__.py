"""The operations users and the CLI call: train, evaluate, curve, compare, predict, detect, listen, evaluate_kws, mix, enroll, identify, verify, export, bench.

Each returns plain records (dicts, dataclasses) and the files it skipped;
nothing here prints. The CLI and the web service present what these return.
"""

import importlib

_WHERE = {
    "mix": "data", "bench": "deploy", "export": "deploy",
    "Batch": "jobs", "Detection": "inference", "ListenStats": "inference", "detect": "inference", "listen": "inference",
    "predict": "inference", "evaluate_kws": "keywords",
    "DEFAULT_GATE_DB": "training", "Candidate": "training", "build_model": "training", "compare": "training", "curve": "training",
    "evaluate": "training", "load_model": "training", "train": "training", "train_from_labels": "training",
    "enroll": "voices", "identify": "voices", "verify": "voices",
    "cluster": "explore", "index": "explore", "label": "explore", "map": "explore", "search": "explore", "train_from_store": "explore",
}
_MODULES = {"data", "deploy", "explore", "inference", "keywords", "prepare", "training", "voices"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    """Load the module that holds ``name`` on first use (PEP 562): ``earmark predict`` needs neither training's
    dependencies nor the evaluation plots."""
    if name in _WHERE:
        return getattr(importlib.import_module(f"earmark.api.{_WHERE[name]}"), name)
    if name in _MODULES:
        return importlib.import_module(f"earmark.api.{name}")
    raise AttributeError(f"module 'earmark.api' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE) | _MODULES)
