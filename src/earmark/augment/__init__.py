"""Augmentation for training, never applied when scoring.

Two kinds, named together in one ``--augment`` value
(``shift,pitch=3,noise,background=DIR,copies=4,specaugment,mixup=0.4``):

- waveform transforms (:mod:`earmark.augment.wave`, audiomentations): augmented
  copies of each training clip, featurised by the model's front end and
  added to the training set; they work for every model, embedding heads
  included;
- SpecAugment and mixup (:mod:`earmark.augment.spec`): applied on the fly to
  each batch of network inputs, for the networks trained here.

Every augmentation keeps its randomness apart from its application (a
``draw`` and an ``apply``, or one seed per copy), so each is testable exactly.
"""

from earmark.augment.spec import SPECTRAL, Mixup, SpecAugment, spectral
from earmark.augment.wave import WaveAugment, wave_augment
from earmark.errors import ParameterError

WAVEFORM = ("shift", "stretch", "pitch", "gain", "noise", "background")
SETTINGS = ("background_snr", "p", "copies")
AUGMENTATIONS = (*SPECTRAL, *WAVEFORM)


def augment_options(value: str | None) -> dict[str, str | None]:
    """``"pitch=3,noise,mixup"`` -> ``{"pitch": "3", "noise": None, "mixup": None}``, names checked.

    Raises
    ------
    ParameterError
        For an unknown name or one given twice.
    """
    options: dict[str, str | None] = {}
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, _, arg = item.partition("=")
        name = name.strip().lower()
        if name not in AUGMENTATIONS and name not in SETTINGS:
            raise ParameterError(f"The 'augment' parameter names {name!r}; choose from {', '.join(AUGMENTATIONS)} "
                                 f"(comma-separated, strengths as name=value; settings {', '.join(SETTINGS)}).")
        if name in options:
            raise ParameterError(f"The 'augment' parameter names {name!r} twice; give it once.")
        options[name] = arg.strip() if _ else None
    return options


def parse_augment(value: str | None) -> list[str]:
    """The ``--augment`` items, checked (names, strengths, the background folder): ``["pitch=3", "mixup"]``."""
    options = augment_options(value)
    spectral(options)
    wave_augment(options)
    return [name if arg is None else f"{name}={arg}" for name, arg in options.items()]


def waveform_part(value: str | None) -> WaveAugment | None:
    """The waveform augmentation an ``--augment`` value asks for, or None."""
    return wave_augment(augment_options(value))


__all__ = ["AUGMENTATIONS", "Mixup", "SpecAugment", "WaveAugment", "augment_options", "parse_augment",
           "spectral", "wave_augment", "waveform_part"]
