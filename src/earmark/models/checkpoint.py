"""Training checkpoints: an interrupted training resumes where it stopped and ends with the same weights.

After every epoch the training loop stores everything the next epoch
depends on: the weights, the optimiser's state, both random generators
(NumPy's, which orders batches and draws augmentations, and torch's, which
drives dropout), the history and the best weights so far. Tensors go to a
safetensors file and the rest to JSON (no pickle), both written atomically;
the JSON names the safetensors file's SHA-256, so a mismatched pair is
never loaded.

A checkpoint is keyed by a fingerprint of the training windows, labels,
settings and network, so it is only ever resumed by the same training.
It is deleted when training ends.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from earmark.errors import OutputError
from earmark.fileio import atomic_write

log = logging.getLogger(__name__)

FORMAT = 1


def fingerprint(module, windows: np.ndarray, labels: np.ndarray, clip_of: np.ndarray, is_copy: np.ndarray, settings: dict) -> str:
    """SHA-256 of what a training run depends on (not the time budget, which may change between runs)."""
    h = hashlib.sha256()
    h.update(json.dumps({k: v for k, v in settings.items() if k != "time_budget_s"}, sort_keys=True, default=str).encode())
    h.update(type(module).__name__.encode())
    for name, tensor in module.state_dict().items():
        h.update(f"{name}:{tuple(tensor.shape)}".encode())
    for a in (windows, labels, clip_of, is_copy):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


@dataclass
class Checkpoint:
    """The checkpoint of one training run in ``directory`` (files ``<key>.safetensors`` and ``<key>.json``)."""

    directory: Path
    key: str

    @property
    def tensors_path(self) -> Path:
        return Path(self.directory) / f"{self.key[:32]}.safetensors"

    @property
    def json_path(self) -> Path:
        return Path(self.directory) / f"{self.key[:32]}.json"

    def save(self, *, module, optimiser, rng: np.random.Generator, epoch: int, history: list, best: float, best_epoch: int,
             best_state: dict | None, seconds: float) -> None:
        """Store the state after ``epoch`` (atomically; a failure to write is logged and training goes on)."""
        import torch
        from safetensors.torch import save

        tensors = {f"model/{k}": v.detach().contiguous() for k, v in module.state_dict().items()}
        if best_state is not None:
            tensors |= {f"best/{k}": v.contiguous() for k, v in best_state.items()}
        opt = optimiser.state_dict()
        for idx, state in opt["state"].items():
            for name, value in state.items():
                tensors[f"optim/{idx}/{name}"] = value.detach().contiguous() if torch.is_tensor(value) else torch.tensor(value)
        tensors["torch_rng"] = torch.get_rng_state()
        blob = save(tensors)
        meta = {"format": FORMAT, "key": self.key, "epoch": epoch, "history": history, "best": best, "best_epoch": best_epoch,
                "has_best": best_state is not None, "seconds": seconds, "rng": rng.bit_generator.state,
                "param_groups": opt["param_groups"], "sha256": hashlib.sha256(blob).hexdigest()}
        try:
            with atomic_write(self.tensors_path) as f:
                f.write(blob)
            with atomic_write(self.json_path, "w") as f:
                json.dump(meta, f)
        except OutputError as exc:  # a checkpoint is a convenience: never stop training for it
            log.warning("could not write the training checkpoint in %s (%s); training goes on without one", self.directory, exc)

    def load(self, *, module, optimiser, rng: np.random.Generator) -> dict | None:
        """Restore the state into ``module``, ``optimiser`` and ``rng``; returns the loop's bookkeeping, or None if there is none."""
        if not (self.json_path.is_file() and self.tensors_path.is_file()):
            return None
        import torch
        from safetensors.torch import load

        try:
            meta = json.loads(self.json_path.read_text())
            blob = self.tensors_path.read_bytes()
            if meta.get("format") != FORMAT or meta.get("key") != self.key or hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
                raise ValueError("it belongs to another run or its files do not match")
            tensors = load(blob)
            module.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model/")}, strict=True)
            state: dict = {}
            for k, v in tensors.items():
                if k.startswith("optim/"):
                    _, idx, name = k.split("/", 2)
                    state.setdefault(int(idx), {})[name] = v
            optimiser.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
            torch.set_rng_state(tensors["torch_rng"])
            rng.bit_generator.state = meta["rng"]
            best_state = {k[5:]: v for k, v in tensors.items() if k.startswith("best/")} if meta["has_best"] else None
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            log.warning("ignoring the training checkpoint %s (%s); training starts afresh", self.json_path, exc)
            return None
        log.info("resuming training after epoch %d from %s", meta["epoch"], self.json_path)
        return {"epoch": meta["epoch"], "history": meta["history"], "best": meta["best"], "best_epoch": meta["best_epoch"],
                "best_state": best_state, "seconds": meta["seconds"]}

    def remove(self) -> None:
        for p in (self.json_path, self.tensors_path):
            p.unlink(missing_ok=True)
