"""The operations users and the CLI call: train, evaluate, curve, compare, predict, detect, listen, evaluate_kws, mix, enroll, identify, verify, export, bench.

Each returns plain records (dicts, dataclasses) and the files it skipped;
nothing here prints. The CLI and the web service present what these return.
"""

from earmark.api.data import mix
from earmark.api.export import bench, export
from earmark.api.inference import Batch, Detection, ListenStats, detect, listen, predict
from earmark.api.keywords import evaluate_kws
from earmark.api.training import DEFAULT_GATE_DB, Candidate, build_model, compare, curve, evaluate, load_model, train, train_from_labels
from earmark.api.voices import enroll, identify, verify

__all__ = ["DEFAULT_GATE_DB", "Batch", "Candidate", "Detection", "ListenStats", "bench", "build_model", "compare", "curve", "detect",
           "enroll", "evaluate", "evaluate_kws", "export", "identify", "listen", "load_model", "mix", "predict", "train", "train_from_labels", "verify"]
