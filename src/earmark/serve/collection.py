"""The store endpoints of ``earmark serve --store STORE``: search by example, the map, the labelling loop.

- ``GET /api/store``: what the store holds, and the labels given through the page so far;
- ``POST /api/search``: an uploaded clip (or a stretch of it) -> the store's most similar windows;
- ``GET /api/audio``: one window of a recording *in the store* as WAV, to listen to (any other file: 404);
- ``GET /api/map``: the store's windows projected to 2-D (UMAP), computed once and kept;
- ``GET /api/label/next``: the next windows to label with a model (uncertain, top or random), leaving out those labelled;
- ``POST /api/label``: one window's label, kept in ``labels.csv`` in the labelling folder (rewritten whole, atomically);
- ``POST /api/retrain`` / ``GET /api/retrain``: train a model on the labels in the background, with its progress; when it is
  done it is saved in the labelling folder and served beside the others, under a new name.

All of it is the library's API (:mod:`earmark.api`); requests name recordings
only as the store names them, and nothing else is read.
"""

import csv
import logging
import threading
import time
from pathlib import Path

from earmark.errors import EarmarkError, ParameterError

log = logging.getLogger(__name__)

MAX_SNIPPET_S = 30.0
MAX_LABEL_CHARS = 64
LABEL_COLUMNS = ("file", "start_s", "end_s", "label")


class Collection:
    """A store served over HTTP, with its labelling folder (``labels.csv``, the retrained models)."""

    def __init__(self, store_path: Path, work_dir: Path | None = None) -> None:
        from earmark.explore.store import Store

        self.store = Store.open(store_path)
        self.store.front_end  # noqa: B018 - refuse at start-up a store this earmark cannot read
        self.work_dir = Path(work_dir) if work_dir is not None else self.store.path / "labelling"
        self.labels_csv = self.work_dir / "labels.csv"
        self._lock = threading.Lock()
        self._files: set[str] | None = None
        self._map: dict | None = None
        self.retrain = {"state": "idle", "step": "", "model": None, "error": None, "started": None, "seconds": None}

    # --- what it holds ----------------------------------------------------------------
    def files(self) -> set[str]:
        if self._files is None:
            self._files = set(self.store.files())
        return self._files

    def check_file(self, file: str) -> str:
        """``file`` if the store holds it (exactly as the store names it); anything else is refused."""
        if file not in self.files():
            raise LookupError(f"no recording {file!r} in the store; use a file name from a search, the map or the labelling list.")
        return file

    def summary(self) -> dict:
        table = self.store.table(("file",))
        return {"store": self.store.path.name, "windows": int(len(table["file"])), "files": len(self.files()),
                "front_end": self.store.describe_front_end(), "labelled": self.label_counts()}

    # --- search, audio, map -----------------------------------------------------------
    def search(self, clip: Path, *, start_s: float | None, end_s: float | None, k: int) -> list[dict]:
        from earmark import api

        like = str(clip) if start_s is None else f"{clip}@{start_s:g}-{end_s:g}"
        return api.search(self.store.path, like=like, k=k)

    def snippet(self, file: str, start_s: float, end_s: float) -> bytes:
        from earmark.explore.pages import snippet_wav

        if not (0 <= start_s < end_s and end_s - start_s <= MAX_SNIPPET_S):
            raise ParameterError(f"start_s {start_s:g}, end_s {end_s:g}: give 0 <= start_s < end_s, at most {MAX_SNIPPET_S:g} s apart.")
        return snippet_wav(self.check_file(file), start_s, end_s, pad_s=0.0)

    def map(self, *, max_points: int) -> dict:
        """The projected windows (cached per ``max_points``: the projection takes seconds), labelled by the store or the page."""
        with self._lock:
            cached = self._map if self._map is not None and self._map["max_points"] == max_points else None
        if cached is None:
            cached = self._project(max_points)
        given = {(r["file"], round(r["start_s"], 3)): r["label"] for r in self.labelled()}  # the page's labels colour the map too
        points = [{**p, "label": given.get((p["file"], p["start_s"]), p["label"])} for p in cached["points"]]
        return {**cached, "points": points}

    def _project(self, max_points: int) -> dict:
        from earmark.explore.maps import map_points

        data, above = map_points(self.store, max_points=max_points)
        points = [{"x": round(float(x), 4), "y": round(float(y), 4), "file": f, "name": n, "start_s": round(float(s), 3),
                   "end_s": round(float(e), 3), "label": lab}
                  for x, y, f, n, s, e, lab in zip(data["x"], data["y"], data["file"], data["name"], data["start_s"], data["end_s"],
                                                   data["label"])]
        result = {"max_points": max_points, "of": above, "points": points}
        with self._lock:
            self._map = result
        return result

    # --- the labelling loop -------------------------------------------------------------
    def next_windows(self, model, *, strategy: str, n: int, label: str | None) -> list[dict]:
        from earmark import api

        done = self.labelled()
        return api.label(self.store.path, model, strategy=strategy, n=n, label=label, exclude=done or None)

    def labelled(self) -> list[dict]:
        """The labels given so far: rows of ``labels.csv``."""
        if not self.labels_csv.is_file():
            return []
        with open(self.labels_csv, newline="") as f:
            return [{"file": r["file"], "start_s": float(r["start_s"]), "end_s": float(r["end_s"]), "label": r["label"]}
                    for r in csv.DictReader(f)]

    def label_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.labelled():
            counts[r["label"]] = counts.get(r["label"], 0) + 1
        return dict(sorted(counts.items()))

    def add_label(self, file: str, start_s: float, end_s: float, label: str) -> dict[str, int]:
        """Keep one window's label (a later label for the same window replaces it); the file is rewritten atomically."""
        from earmark.fileio import atomic_write

        label = label.strip()
        if not label or len(label) > MAX_LABEL_CHARS or any(c in label for c in "\r\n\t"):
            raise ParameterError(f"label {label[:80]!r}: give a class name of 1-{MAX_LABEL_CHARS} characters on one line.")
        self.check_file(file)
        with self._lock:
            rows = [r for r in self.labelled() if not (r["file"] == file and abs(r["start_s"] - start_s) < 1e-3)]
            rows.append({"file": file, "start_s": start_s, "end_s": end_s, "label": label})
            self.work_dir.mkdir(parents=True, exist_ok=True)
            with atomic_write(self.labels_csv, "w") as f:
                w = csv.DictWriter(f, LABEL_COLUMNS, lineterminator="\n")
                w.writeheader()
                for r in rows:
                    w.writerow({**r, "start_s": f"{r['start_s']:.3f}", "end_s": f"{r['end_s']:.3f}"})
        return self.label_counts()

    def start_retrain(self, *, classifier: str, register) -> dict:
        """Train on the labels in a background thread; ``register(name, path)`` serves the new model when it is saved."""
        counts = self.label_counts()
        if len(counts) < 2:
            raise ParameterError(f"{sum(counts.values())} window(s) of {len(counts)} class(es) labelled; label windows of at "
                                 "least two classes first.")
        with self._lock:
            if self.retrain["state"] == "running":
                raise RuntimeError("a model is already being trained; wait for it (GET /api/retrain).")
            self.retrain = {"state": "running", "step": "reading the labels", "model": None, "error": None,
                            "started": time.time(), "seconds": None, "labels": counts}
        threading.Thread(target=self._retrain, args=(classifier, register), daemon=True, name="earmark-retrain").start()
        return self.status()

    def status(self) -> dict:
        with self._lock:
            out = dict(self.retrain)
        if out["state"] == "running":
            out["seconds"] = round(time.time() - out["started"], 1)
        out.pop("started", None)
        return out

    def _retrain(self, classifier: str, register) -> None:
        from earmark import api

        def step(text: str) -> None:
            with self._lock:
                self.retrain["step"] = text
            log.info("retraining: %s", text)

        try:
            step(f"training {classifier} on {sum(self.retrain['labels'].values())} labelled windows")
            model = api.train_from_store(self.store.path, self.labels_csv, classifier=classifier)
            number = 1 + sum(1 for _ in self.work_dir.glob("labelled-*.earmark"))
            name = f"labelled-{number}"
            step(f"saving {name}")
            path = model.save(self.work_dir / f"{name}.earmark")
            register(name, Path(path))
            with self._lock:
                self.retrain.update(state="done", step=f"now serving {name}", model=name,
                                    seconds=round(time.time() - self.retrain["started"], 1))
            log.info("retrained: %s (%s)", name, ", ".join(model.classes))
        except (EarmarkError, OSError, ValueError) as exc:
            with self._lock:
                self.retrain.update(state="failed", step="", error=str(exc), seconds=round(time.time() - self.retrain["started"], 1))
            log.warning("retraining failed: %s", exc)
