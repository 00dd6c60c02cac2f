"""Plug-ins: separately installed packages that add front ends or models, through the ``earmark.plugins`` entry points.

A package declares in its ``pyproject.toml``::

    [project.entry-points."earmark.plugins"]
    mypackage = "mypackage.earmark_plugin:register"

and its ``register()`` calls :func:`earmark.embeddings.register_embedder` and
:func:`earmark.models.register_model`. earmark calls every plug-in once, the
first time a registry is consulted (a front end or model looked up or
listed), so a model file of a plug-in's kind loads in any process where the
plug-in is installed, and ``earmark embedders`` / ``earmark models`` list
its entries. A plug-in that fails is logged and left out; the rest go on.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

GROUP = "earmark.plugins"
_state = {"loaded": False}


def load_plugins() -> None:
    """Call every installed plug-in's ``register()``, once per process."""
    if _state["loaded"]:
        return
    _state["loaded"] = True  # first: a plug-in that consults a registry while registering does not start again
    from importlib.metadata import entry_points

    for ep in entry_points(group=GROUP):
        try:
            ep.load()()
        except Exception as exc:  # noqa: BLE001 - one broken plug-in must not stop earmark
            log.warning("the plug-in %s (%s) could not be loaded and is left out: %s: %s", ep.name, ep.value, type(exc).__name__, exc)
        else:
            log.info("plug-in %s loaded (%s)", ep.name, ep.value)


class Registry(dict):
    """A registry (name -> entry) that loads the plug-ins before it is first read."""

    def __getitem__(self, key):
        load_plugins()
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        load_plugins()
        return super().__contains__(key)

    def __iter__(self):
        load_plugins()
        return super().__iter__()

    def __len__(self) -> int:
        load_plugins()
        return super().__len__()

    def get(self, key, default=None):
        load_plugins()
        return super().get(key, default)

    def keys(self):
        load_plugins()
        return super().keys()

    def values(self):
        load_plugins()
        return super().values()

    def items(self):
        load_plugins()
        return super().items()
