"""The parameters the API's functions share, described once, and :func:`documented`, which completes a function's
``Parameters`` section with them (numpydoc format), so every public function documents every parameter.

A function's own docstring entries win; a parameter neither documented there, nor given to :func:`documented`, nor
described here is an error at import, so a new parameter cannot go undocumented (``tests/test_api_docs.py`` checks
the result with numpydoc's validation).
"""

from __future__ import annotations

import inspect
import re

SHARED = {
    "data": ("str or Path", "Folder with ``metadata.csv`` (a ``filename`` and a ``label`` column, folds if any) or one "
                            "sub-folder of audio files per class."),
    "model": ("Model, str or Path", "A trained model, or the path of a file ``earmark train`` wrote."),
    "progress": ("bool", "Show progress on stderr: a bar on a terminal, a line now and then in a log."),
    "gate_db": ("float or None", "Ignore windows quieter than this level in dBFS (``None``: keep every window)."),
    "cache_dir": ("str, Path or None", "Embedding cache folder (default: ``$EARMARK_CACHE_DIR`` or the user cache folder)."),
    "use_cache": ("bool", "Read and write the embedding cache (``False``: compute every embedding afresh)."),
    "aggregation": ("str", "How window scores pool into one score per clip: ``mean``, ``vote``, ``max`` (``linsoft`` for "
                           "``lstm-tagger``)."),
    "store": ("str or Path", "A store folder written by :func:`index`."),
    "label_column": ("str", "The ``metadata.csv`` column with the labels."),
    "file_column": ("str", "The ``metadata.csv`` column with the audio files' paths (relative to its folder)."),
    "calibration": ("str, Path, list of them, or None", "For the int8 network (``backend='onnx-int8'``): recordings, files "
                                                        "or folders, whose windows set its value ranges; default: the "
                                                        "model's training data."),
    "random_state": ("int", "Seed of the model's own randomness (initial weights, validation split, batch order)."),
    "folds": ("str or None", "The ``metadata.csv`` column with official folds (``None``: stratified ``cv``-fold "
                             "cross-validation)."),
    "seed": ("int", "Seed of the random draws."),
    "classifier_params": ("dict or None", "Extra keyword arguments of an embedding head's scikit-learn classifier, e.g. "
                                          "``{'C': 0.1}``."),
    "test_folds": ("list of str or None", "Only these values of the fold column are test sets (an official train/test "
                                          "split: ``folds='split', test_folds=['test']``)."),
    "strict_paths": ("bool", "Refuse ``metadata.csv`` paths outside the data folder (absolute, or through ``..``)."),
    "hop_s": ("float or None", "Take a window every ``hop_s`` seconds (``None``: the model's hop)."),
    "backend": ("str or None", "What runs the aisfx network: ``auto`` (onnx if onnxruntime is installed), ``torch``, "
                               "``onnx`` or ``onnx-int8`` (``None``: the model's own setting)."),
    "embedder": ("str", "Front end for models without one of their own (``earmark embedders``; ``a+b`` fuses two)."),
    "model_params": ("dict or None", "The model's own parameters, e.g. ``{'max_epochs': 30}`` for a network."),
    "cv": ("int or None", "Stratified ``cv``-fold cross-validation when no ``folds`` are given (default 5)."),
    "stretch_s": ("float or None", "On a cluster, cut recordings longer than this into stretches of about this many "
                                   "seconds, one task each; the results are those of one pass."),
    "clips": ("str, Path or a list of them", "Audio files or folders (searched recursively)."),
    "recordings": ("str, Path or a list of them", "Audio files or folders (searched recursively)."),
    "paths": ("str, Path or a list of them", "Audio files or folders (searched recursively)."),
    "db": ("str or Path", "A voice database folder (made by :func:`enroll`)."),
    "classifier": ("str", "The embedding head when ``model`` is ``None``: ``logreg``, ``svm``, ``knn``, ``rf`` or ``mlp``."),
    "int8": ("bool", "Quantize the network's convolutions to int8, calibrated on ``calibration``."),
    "html": ("str, Path or None", "Also write the result as an HTML page here, playable from disk."),
    "embedders": ("sequence of str", "Front ends for the embedding heads (``a+b`` fuses two)."),
    "models": ("sequence of str or ClipModel, or None", "Registered models (``earmark models``) or estimators, each crossed "
                                                       "with ``embedders`` unless it has a front end of its own (default: "
                                                       "``classifiers``)."),
    "classifiers": ("sequence of str", "Embedding heads, used when ``models`` is ``None``."),
    "self_training": ("SelfTraining or None", "How unlabelled clips are used: pseudo-label threshold, rounds, the "
                                              "held-out guard (:class:`earmark.models.selftrain.SelfTraining`; "
                                              "``None``: its defaults)."),
    "out_dir": ("str, Path or None", "Folder for one output file per recording (default: ``./earmark-events``)."),
    "scheduler": ("str or None", "Run on an existing Dask cluster: its scheduler's address, e.g. ``tcp://10.0.0.5:8786``."),
    "workers": ("int or None", "Run on a local Dask cluster of this many worker processes (on 127.0.0.1)."),
    "smooth": ("int", "Average each class's score over this many hops before deciding."),
    "refractory_s": ("float", "After a keyword fires, it cannot fire again for this many seconds."),
    "keywords": ("str, list of str or None", "Classes of the model that fire once per spoken keyword (comma-separated "
                                             "or a list)."),
    "label": ("str or None", "One of the model's classes: the one whose scores rank, pick or colour the windows."),
}

_SECTION = re.compile(r"^(\w[\w ]*)\n-{3,}$", re.M)
_AFTER_PARAMETERS = ("Returns", "Yields", "Receives", "Other Parameters", "Raises", "Warns", "Warnings", "See Also", "Notes",
                     "References", "Examples")


def documented(**own):
    """Complete the decorated function's ``Parameters`` section, in signature order: its own entries, then ``own``
    (``name=(type, description)``), then :data:`SHARED`."""

    def decorate(func):
        doc = inspect.cleandoc(func.__doc__ or "")
        order = [n for n in inspect.signature(func).parameters if n not in ("self", "cls")]
        sections = [(m.group(1), m.start(), m.end()) for m in _SECTION.finditer(doc)]
        params = next(((s, e) for name, s, e in sections if name == "Parameters"), None)
        blocks = []  # (position in the signature, text)
        if params is not None:
            end = next((s for _, s, _ in sections if s > params[1]), len(doc))
            for line in doc[params[1]:end].strip("\n").splitlines():
                if line and not line[0].isspace():
                    names = [n.strip() for n in line.split(" : ")[0].split(",")]
                    blocks.append([min((order.index(n) for n in names if n in order), default=len(order)), names, [line]])
                elif blocks:
                    blocks[-1][2].append(line)
        written = {n for _, names, _ in blocks for n in names}
        for i, name in enumerate(order):
            if name in written:
                continue
            kind, text = own.get(name) or SHARED.get(name) or (None, None)
            if kind is None:
                raise TypeError(f"{func.__qualname__}: parameter {name!r} is documented nowhere; describe it in its docstring, "
                                f"in @documented, or in earmark.api._params.SHARED")
            blocks.append([i, [name], [f"{name} : {kind}", f"    {text}"]])
        section = "Parameters\n----------\n" + "\n".join("\n".join(lines).rstrip() for _, _, lines in
                                                          sorted(blocks, key=lambda b: b[0]))
        if params is not None:
            end = next((s for _, s, _ in sections if s > params[1]), len(doc))
            head = doc[:params[0]].rstrip("\n")
            doc = head + "\n\n" + section + "\n\n" + doc[end:].lstrip("\n")
        else:
            at = next((s for name, s, _ in sections if name in _AFTER_PARAMETERS), len(doc))
            doc = doc[:at].rstrip("\n") + "\n\n" + section + "\n\n" + doc[at:].lstrip("\n")
        func.__doc__ = doc.rstrip() + "\n"
        return func

    return decorate
