"""Augmentation for training: random draws kept apart from deterministic application, so each is testable exactly.

Every augmentation has ``draw(rng, n, shape) -> params`` (all the randomness)
and ``apply(x, params) -> x`` (none of it); training calls both, tests freeze
the draw. Augmentation runs in training only, never when scoring.
"""

from earmark.augment.spec import AUGMENTATIONS, Mixup, SpecAugment, parse_augment

__all__ = ["AUGMENTATIONS", "Mixup", "SpecAugment", "parse_augment"]
