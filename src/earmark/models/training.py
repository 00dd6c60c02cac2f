"""One training loop for every network trained here.

The validation set is taken from the training clips only (whole clips,
stratified, never the test fold); the loss is class-weighted for
imbalance; training stops early when the validation loss has not improved
for ``patience`` epochs (the best weights are kept), at ``max_epochs``, or
when ``time_budget_s`` runs out. Everything random draws from one seed, so
a run repeats exactly on this machine. Each epoch is logged with its loss,
accuracy and time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import numpy as np

from earmark.errors import check_choice, check_fraction, check_positive
from earmark.models.base import MAX_EPOCHS, MAX_WIDTH
from earmark.progress import note

log = logging.getLogger(__name__)

OPTIMISERS = ("adamw", "rmsprop")


@dataclass(frozen=True)
class TrainSettings:
    """How a network is trained (all recorded in the model file)."""

    max_epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 8
    validation_fraction: float = 0.15
    time_budget_s: float | None = None
    seed: int = 0
    augment: tuple[str, ...] = ()
    checkpoint_dir: str | None = None
    progress: bool = False
    optimiser: str = "adamw"

    def __post_init__(self) -> None:
        from earmark.augment import parse_augment

        parse_augment(",".join(self.augment))
        check_choice("optimiser", self.optimiser, OPTIMISERS)
        check_positive("max_epochs", self.max_epochs, kind=int, high=MAX_EPOCHS)
        check_positive("batch_size", self.batch_size, kind=int, high=MAX_WIDTH * 8)
        check_positive("learning_rate", self.learning_rate)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        check_positive("patience", self.patience, kind=int, high=MAX_EPOCHS)
        if self.validation_fraction:
            check_fraction("validation_fraction", self.validation_fraction)
        if self.time_budget_s is not None:
            check_positive("time_budget_s", self.time_budget_s)

    def to_dict(self) -> dict:
        return asdict(self)


def validation_split(clip_labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of the clips held out for validation: ``fraction`` of each class, at least one clip of a class
    that has three or more, none when that would leave a class without training clips."""
    held = []
    for c in np.unique(clip_labels):
        idx = rng.permutation(np.flatnonzero(clip_labels == c))
        k = int(round(fraction * len(idx)))
        k = max(k, 1) if len(idx) >= 3 else 0
        held.extend(idx[:k].tolist())
    return np.sort(np.array(held, dtype=int))


def train_network(module, windows: np.ndarray, labels: np.ndarray, clip_of: np.ndarray, n_classes: int,
                  settings: TrainSettings, *, is_copy: np.ndarray | None = None) -> dict:
    """Train ``module`` in place on ``windows`` (``(n, *shape)``) with window ``labels``; returns the history.

    ``clip_of`` gives each window's clip, so the validation split never cuts
    a clip in two; ``is_copy`` marks windows of augmented copies, which train
    with their clip but never validate (and drop out with a validation clip).

    Returns
    -------
    dict
        ``epochs`` (one record per epoch: loss, accuracy, validation loss and
        accuracy, seconds), ``best_epoch``, ``stopped`` (why), ``seconds``.
    """
    import torch
    from torch import nn

    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    is_copy = np.zeros(len(windows), bool) if is_copy is None else np.asarray(is_copy, bool)
    clips = np.unique(clip_of)
    tags = labels.ndim >= 2  # multi-hot targets (per window, or per frame of a window): one sigmoid per tag, binary cross-entropy
    first_row = {c: i for i, c in reversed(list(enumerate(clip_of)))}
    clip_labels = np.array([_key(labels[first_row[c]].reshape(-1, labels.shape[-1]).max(axis=0)) if tags else labels[first_row[c]]
                            for c in clips])
    val_clips = clips[validation_split(clip_labels, settings.validation_fraction, rng)] if settings.validation_fraction else clips[:0]
    in_val = np.isin(clip_of, val_clips)
    is_val = in_val & ~is_copy
    dtype = np.float32 if tags else np.int64
    x_np, y_np = windows[~in_val], labels[~in_val].astype(dtype)
    x_train, y_train = torch.from_numpy(x_np), torch.from_numpy(y_np)
    x_val, y_val = torch.from_numpy(windows[is_val]), torch.from_numpy(labels[is_val].astype(dtype))
    if tags:
        flat = y_np.reshape(-1, y_np.shape[-1])
        pos = flat.sum(axis=0).astype(np.float64)
        pos_weight = np.clip((len(flat) - pos) / np.maximum(pos, 1), 0.1, 10.0)  # balance each tag's presence and absence
        loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, dtype=torch.float32))
    else:
        counts = np.bincount(labels[~in_val], minlength=n_classes).astype(np.float64)
        weights = torch.tensor(np.where(counts > 0, len(y_train) / (n_classes * np.maximum(counts, 1)), 0.0), dtype=torch.float32)
        loss_fn = nn.CrossEntropyLoss(weight=weights)
    groups = module.param_groups(settings.learning_rate) if hasattr(module, "param_groups") else [p for p in module.parameters() if p.requires_grad]
    optimiser = (torch.optim.RMSprop if settings.optimiser == "rmsprop" else torch.optim.AdamW)(
        groups, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    history, best, best_epoch, best_state, t_start = [], float("inf"), 0, None, time.perf_counter()
    stopped, first_epoch, ckpt = "max_epochs", 1, None
    if settings.checkpoint_dir:
        from earmark.models.checkpoint import Checkpoint, fingerprint

        ckpt = Checkpoint(settings.checkpoint_dir, fingerprint(module, windows, labels, clip_of, is_copy, settings.to_dict() | {"checkpoint_dir": None, "progress": None}))
        resumed = ckpt.load(module=module, optimiser=optimiser, rng=rng)
        if resumed:
            history, best, best_epoch, best_state = resumed["history"], resumed["best"], resumed["best_epoch"], resumed["best_state"]
            first_epoch, t_start = resumed["epoch"] + 1, t_start - resumed["seconds"]
    for epoch in range(first_epoch, settings.max_epochs + 1):
        t0 = time.perf_counter()
        module.train()
        order = rng.permutation(len(x_train))
        total, correct = 0.0, 0
        for i in range(0, len(order), settings.batch_size):
            idx = torch.from_numpy(order[i : i + settings.batch_size])
            if len(idx) < 2 and len(order) > 1:  # batch norm needs two samples; the last one waits for the next epoch
                continue
            optimiser.zero_grad()
            xb, target = _augmented(x_np[idx.numpy()], y_np[idx.numpy()], n_classes, settings.augment, rng)
            logits = module(xb)
            loss = loss_fn(logits, target)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(idx)
            correct += _correct(logits.detach(), y_train[idx])
        record = {"epoch": epoch, "loss": total / max(1, len(order)), "accuracy": correct / max(1, len(order))}
        if len(x_val):
            val_loss, val_acc = _evaluate(module, x_val, y_val, loss_fn, settings.batch_size)
            record |= {"val_loss": val_loss, "val_accuracy": val_acc}
        monitored = record.get("val_loss", record["loss"])
        record["seconds"] = time.perf_counter() - t0
        history.append(record)
        val = f", validation loss {record['val_loss']:.3f}, accuracy {record['val_accuracy']:.3f}" if "val_loss" in record else ""
        note(f"epoch {epoch}/{settings.max_epochs}: loss {record['loss']:.3f}, accuracy {record['accuracy']:.3f}{val}, "
             f"{record['seconds']:.1f} s", enabled=settings.progress)
        if monitored < best - 1e-4:
            best, best_epoch = monitored, epoch
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        if ckpt is not None:
            ckpt.save(module=module, optimiser=optimiser, rng=rng, epoch=epoch, history=history, best=best, best_epoch=best_epoch,
                      best_state=best_state, seconds=time.perf_counter() - t_start)
        _epoch_done(epoch)
        if best_epoch != epoch and epoch - best_epoch >= settings.patience:
            stopped = "early stopping"
            break
        if settings.time_budget_s is not None and time.perf_counter() - t_start >= settings.time_budget_s:
            stopped = "time budget"
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    if ckpt is not None:
        ckpt.remove()
    return {"epochs": history, "best_epoch": best_epoch, "stopped": stopped, "seconds": time.perf_counter() - t_start,
            "n_train_windows": int(len(x_train)), "n_validation_windows": int(len(x_val)), "n_validation_clips": int(len(val_clips))}


def _epoch_done(epoch: int) -> None:
    """Called after each epoch's checkpoint (tests interrupt training here)."""


def _augmented(x: np.ndarray, y: np.ndarray, n_classes: int, augment: tuple[str, ...], rng: np.random.Generator):
    """A training batch with its on-the-fly augmentations applied: ``(inputs, targets)`` as tensors (soft targets after mixup).

    Waveform transforms in ``augment`` act before training (augmented copies), not here.
    """
    import torch

    from earmark.augment import Mixup, SpecAugment, augment_options, spectral

    for aug in spectral(augment_options(",".join(augment))):
        if isinstance(aug, SpecAugment) and x.ndim == 3:
            x = aug.apply(x, aug.draw(rng, len(x), x.shape[1:]))
        elif isinstance(aug, Mixup):
            x, soft = aug.apply(x, y.astype(np.float32) if y.ndim == 2 else np.eye(n_classes, dtype=np.float32)[y], aug.draw(rng, len(x)))
            return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(soft)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)


def _evaluate(module, x, y, loss_fn, batch_size: int) -> tuple[float, float]:
    import torch

    module.eval()
    total, correct = 0.0, 0
    with torch.inference_mode():
        for i in range(0, len(x), batch_size):
            logits = module(x[i : i + batch_size])
            total += float(loss_fn(logits, y[i : i + batch_size])) * len(logits)
            correct += _correct(logits, y[i : i + batch_size])
    return total / len(x), correct / len(x)


def _correct(logits, target) -> float:
    """Right answers in a batch: top class = label, or for tags the share of tags decided right (logit > 0 = present)."""
    if target.ndim >= 2:
        return float(((logits > 0) == (target > 0.5)).float().flatten(1).mean(1).sum())
    return int((logits.argmax(1) == target).sum())


def _key(label) -> str:
    """A clip's tag set as one stratum for the validation split: its 0/1 pattern."""
    return "".join("1" if v > 0.5 else "0" for v in label)
