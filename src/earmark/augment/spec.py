"""SpecAugment masking and mixup on batches of standardised patches ``(n, n_mels, n_frames)``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from earmark.errors import ParameterError, check_fraction, check_positive


@dataclass(frozen=True)
class SpecAugment:
    """One frequency band and one stretch of frames set to zero (the mean, after standardisation) per patch.

    Parameters
    ----------
    max_freq_fraction, max_time_fraction : float
        Widest mask as a share of the mel bands / frames (Park et al. 2019 use about 15%).
    p : float
        Probability that a patch is masked at all.
    """

    max_freq_fraction: float = 0.15
    max_time_fraction: float = 0.15
    p: float = 1.0

    def __post_init__(self) -> None:
        check_fraction("max_freq_fraction", self.max_freq_fraction)
        check_fraction("max_time_fraction", self.max_time_fraction)
        check_fraction("p", self.p)

    def draw(self, rng: np.random.Generator, n: int, shape: tuple[int, int]) -> np.ndarray:
        """Per patch ``[freq_start, freq_width, time_start, time_width]`` (widths 0 when not masked), int."""
        n_mels, n_frames = shape
        fw = rng.integers(0, int(self.max_freq_fraction * n_mels) + 1, n)
        tw = rng.integers(0, int(self.max_time_fraction * n_frames) + 1, n)
        f0 = rng.integers(0, np.maximum(n_mels - fw, 0) + 1)
        t0 = rng.integers(0, np.maximum(n_frames - tw, 0) + 1)
        off = rng.random(n) >= self.p
        fw[off], tw[off] = 0, 0
        return np.stack([f0, fw, t0, tw], axis=1)

    @staticmethod
    def apply(x: np.ndarray, params: np.ndarray) -> np.ndarray:
        """Masked copy of ``x`` ``(n, n_mels, n_frames)``."""
        out = np.array(x, copy=True)
        for i, (f0, fw, t0, tw) in enumerate(params):
            out[i, f0 : f0 + fw, :] = 0.0
            out[i, :, t0 : t0 + tw] = 0.0
        return out


@dataclass(frozen=True)
class Mixup:
    """Mix each patch with another of the batch: ``lam * x + (1 - lam) * x[partner]``, labels likewise.

    Parameters
    ----------
    alpha : float
        ``lam ~ Beta(alpha, alpha)`` (0.2 in Zhang et al. 2018).
    """

    alpha: float = 0.2

    def __post_init__(self) -> None:
        check_positive("alpha", self.alpha)

    def draw(self, rng: np.random.Generator, n: int, shape=None) -> tuple[np.ndarray, np.ndarray]:
        """``(lam per patch, partner index per patch)``."""
        return rng.beta(self.alpha, self.alpha, n).astype(np.float32), rng.permutation(n)

    @staticmethod
    def apply(x: np.ndarray, targets: np.ndarray, params) -> tuple[np.ndarray, np.ndarray]:
        """Mixed patches and mixed one-hot (or soft) targets ``(n, n_classes)``; each target row still sums to 1."""
        lam, partner = params
        shape = (-1,) + (1,) * (x.ndim - 1)
        mixed = lam.reshape(shape) * x + (1 - lam).reshape(shape) * x[partner]
        soft = lam[:, None] * targets + (1 - lam)[:, None] * targets[partner]
        return mixed.astype(np.float32), soft.astype(np.float32)


SPECTRAL = {"specaugment": SpecAugment, "mixup": Mixup}


def spectral(options: dict) -> list:
    """The SpecAugment and mixup objects ``--augment`` options ask for (``specaugment=0.2``: widest mask 20%; ``mixup=0.4``: alpha)."""
    out = []
    if "specaugment" in options:
        v = options["specaugment"]
        out.append(SpecAugment() if v is None else SpecAugment(max_freq_fraction=_float("specaugment", v), max_time_fraction=_float("specaugment", v)))
    if "mixup" in options:
        v = options["mixup"]
        out.append(Mixup() if v is None else Mixup(alpha=_float("mixup", v)))
    return out


def _float(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ParameterError(f"The 'augment' parameter's {name}={text} is not a number; write e.g. {name}=0.2.") from None
