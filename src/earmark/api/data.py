"""Operations that make datasets rather than models: ``mix`` (weakly labelled mixtures)."""

from __future__ import annotations

from pathlib import Path

from earmark.data.mix import MixSettings, make_mixtures
from earmark.api._params import documented


@documented(
    backgrounds=("str or Path", "Background recordings: a data set folder or CSV (its label column is the class)."),
    events=("str or Path", "Event recordings: a data set folder or CSV (its label column is the tag)."),
    out_dir=("str or Path", "A new (or empty) folder for the mixtures and their ``metadata.csv``."),
    splits=("dict of str to int", "Mixtures per split, e.g. ``{'train': 36, 'test': 500}``; no source recording is in"
                                  " two splits."),
    duration_s=("float", "Length of each mixture in seconds."),
    ebr_db=("sequence of float", "Event-to-background ratios to draw from (dB, RMS over the event)."),
    event_rate=("float", "Probability that a mixture holds events."),
    max_events=("int", "A mixture with events holds 1 to this many."),
    sample_rate=("int or None", "Sample rate of the mixtures (``None``: the sources' most common)."),
    background_classes=("list of str or None", "Use only these background classes."),
    event_classes=("list of str or None", "Use only these event classes."),
    folds=("list of str or None", "Use only recordings in these folds (values of ``fold_column``)."),
    fold_column=("str", "The column holding the folds."),
    group_column=("str or None", "The column naming each clip's source recording (``None``: ``src_file`` if present)."),
)
def mix(backgrounds, events, out_dir, *, splits: dict[str, int], duration_s: float = 10.0, ebr_db=(-6.0, 0.0, 6.0),
        event_rate: float = 0.5, max_events: int = 1, seed: int = 0, sample_rate: int | None = None,
        background_classes: list[str] | None = None, event_classes: list[str] | None = None, folds: list[str] | None = None,
        fold_column: str = "fold", group_column: str | None = None, progress: bool = False) -> dict:
    """Write weakly labelled mixtures of ``events`` in ``backgrounds`` (dataset folders or CSV files) to ``out_dir``.

    ``splits`` gives the number of mixtures per split (``{"train": 36, "test": 500}``); the source recordings of each
    class are dealt out to the splits, so none is heard in two. See :mod:`earmark.data.mix` for the definitions.

    Returns
    -------
    dict
        ``out``, ``n_mixtures``, ``by_split``, ``with_events``, ``sample_rate``, ``scale`` (the common factor),
        ``tags``, ``seconds`` and ``skipped`` (``{"file", "reason"}`` for recordings that could not be used).

    Examples
    --------
    >>> mix("esc10", "esc10", "mixtures", splits={"train": 36, "test": 500}, event_classes=["dog"],
    ...     background_classes=["rain", "sea_waves"], folds=["3", "4", "5"])  # doctest: +SKIP
    """
    settings = MixSettings(splits=dict(splits), duration_s=duration_s, ebr_db=tuple(float(v) for v in ebr_db),
                           event_rate=event_rate, max_events=max_events, seed=seed, sample_rate=sample_rate)
    return make_mixtures(Path(backgrounds), Path(events), out_dir, settings, background_classes=background_classes,
                         event_classes=event_classes, folds=folds, fold_column=fold_column, group_column=group_column,
                         progress=progress)
