"""evaluate_kws: the keyword detector's false accepts per hour against false rejects (see :mod:`earmark.evaluation.kws`)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from earmark.audio import find_audio_files, load
from earmark.data import load_dataset
from earmark.errors import AudioLoadError, ParameterError, check_gate_db, check_positive
from earmark.evaluation.kws import mix_keywords, operating_curve, score_placements, threshold_for
from earmark.inference.keywords import check_spotter_options, keyword_columns, keyword_ring_s, smooth_scores, spot, stream_scores
from earmark.pipeline import Model
from earmark.progress import track
from earmark.api._params import documented

log = logging.getLogger(__name__)

# every 0.01, every 0.001 above 0.95, then 1 - 10^-k up to k = 12: a confident model's scores crowd near 1
THRESHOLDS = np.concatenate([np.round(np.concatenate([np.arange(0.05, 0.95, 0.01), np.arange(0.95, 0.9995, 0.001)]), 4),
                             1.0 - 10.0 ** -np.arange(3.25, 12.01, 0.25)])


@documented(
    model=("Model, str or Path", "A keyword model, trained without ``test_folds``."),
    keywords=("str or list of str", "The keywords the detector fires on (classes of the model)."),
    background=("str, Path or a list of them", "Keyword-free recordings: false accepts are counted on them, and "
                                               "keywords are mixed into them."),
    folds=("str", "The ``metadata.csv`` column with the folds."),
    test_folds=("list of str", "Folds of held-out speakers whose keyword clips are tested."),
    snr_db=("sequence of float", "Speech-to-noise ratios (dB) at which keywords are mixed into the background."),
    target_fa_per_hour=("float", "Pick the threshold that fires at most this often per hour on the background."),
    hop_s=("float", "Score the newest window this often, as ``listen`` does."),
    gap_s=("float", "Seconds of background between two keywords laid into it."),
    tolerance_s=("float", "A detection within this many seconds after a keyword's end still counts as a hit."),
    gate_db=("float", "Windows quieter than this (dBFS) are not classified, as in ``listen``."),
    plot=("str, Path or None", "Write the operating curve (PNG) here."),
    noise=("str, Path, list of them, or None", "Lay the keywords into these recordings instead of ``background``."),
)
def evaluate_kws(model, data, *, keywords, background, folds: str = "fold", test_folds, snr_db=(20.0, 10.0, 5.0, 0.0),
                 target_fa_per_hour: float = 1.0, hop_s: float = 0.1, smooth: int = 3, refractory_s: float = 1.0,
                 gap_s: float = 2.0, tolerance_s: float = 1.0, gate_db: float = -50.0, seed: int = 0,
                 file_column: str = "filename", label_column: str = "label", plot=None, progress: bool = False,
                 noise=None) -> dict:
    """Measure a keyword model as a live detector: false accepts per hour on ``background`` recordings (files or
    folders with no keyword in them) against the false-reject rate on the ``test_folds`` clips of ``keywords`` in
    ``data`` laid into that background (or into ``noise``, other recordings, when given) at each of ``snr_db``; pick the
    threshold for ``target_fa_per_hour``.

    The model must not have been trained on ``test_folds`` (``earmark train --exclude-fold``); streams run through the
    same windows, smoothing and refractory period as ``earmark listen --keywords`` at ``hop_s``.

    Returns
    -------
    dict
        ``curve`` (thresholds, false accepts per hour, false-reject rate per SNR and pooled), ``operating_point``
        (threshold, ``sensitivity`` = 1 - threshold, false accepts per hour, false-reject rate per SNR and pooled,
        latency from the end of the voiced keyword to the event, false accepts in each background recording), ``compute_ms_per_hop``, ``background`` (files,
        hours), ``n_keywords``, ``skipped``, ``seconds``; with ``plot``, the figure's path.
    """
    t0 = time.perf_counter()
    check_gate_db("gate_db", gate_db)
    model = model if isinstance(model, Model) else Model.load(model)
    keywords = keywords.split(",") if isinstance(keywords, str) else list(keywords)
    columns = keyword_columns(model.classes, keywords)
    check_spotter_options(smooth=smooth, refractory_s=refractory_s)
    check_positive("target_fa_per_hour", target_fa_per_hour)
    for name, value in (("hop_s", hop_s), ("gap_s", gap_s), ("tolerance_s", tolerance_s)):
        check_positive(name, value)
    snrs = [float(s) for s in ([snr_db] if isinstance(snr_db, (int, float)) else snr_db)]
    if not snrs:
        raise ParameterError("The 'snr_db' parameter must list at least one speech-to-noise ratio in dB, e.g. 20,10,5,0.")
    tests = {str(f) for f in ([test_folds] if isinstance(test_folds, (str, int)) else test_folds)}
    ds = load_dataset(data, file_column=file_column, label_column=label_column, fold_column=folds)
    chosen = [c for c in ds.clips if c.fold in tests and c.label in keywords]
    if not chosen:
        raise ParameterError(f"The 'test_folds' parameter ({','.join(sorted(tests))}) selects no clip of {','.join(keywords)} "
                             f"in {data} (column {folds!r}); name folds that hold them.")
    _check_held_out(model, tests, ds.root)
    sr, skipped = model.front_end.sample_rate, []
    col_of = {k: i for i, k in enumerate(keywords)}  # placements name the keyword's column among the scores kept

    def read(paths, what):
        out = []
        for path in track(paths, description=f"reading {what}", enabled=progress):
            try:
                out.append((path, load(path, sr=sr)[0]))
            except AudioLoadError as exc:
                skipped.append({"file": str(path), "reason": str(exc)})
        return out

    given = [background] if isinstance(background, (str, Path)) else list(background)
    backgrounds = read(find_audio_files(given), "background")
    if not backgrounds:
        raise ParameterError(f"The 'background' parameter holds no readable recording ({', '.join(map(str, given))}); pass "
                             "keyword-free recordings or folders holding them.")
    under = backgrounds
    if noise is not None:
        given_noise = [noise] if isinstance(noise, (str, Path)) else list(noise)
        under = read(find_audio_files(given_noise), "noise")
        if not under:
            raise ParameterError(f"The 'noise' parameter holds no readable recording ({', '.join(map(str, given_noise))}); pass "
                                 "recordings or folders to lay the keywords into.")
    clips = read([c.path for c in chosen], "keywords")
    label_of = {c.path: c.label for c in chosen}
    compute, ring_s = [0.0, 0], keyword_ring_s(model)

    def scores(y):
        t = time.perf_counter()
        times, s = stream_scores(model, y, columns, hop_s=hop_s, gate_db=gate_db, ring_s=ring_s)
        compute[0] += time.perf_counter() - t
        compute[1] += len(times)
        return times, smooth_scores(s, smooth) if len(s) else s

    bg = [scores(y) for _, y in track(backgrounds, description="background", enabled=progress)]
    hours = sum(len(y) for _, y in backgrounds) / sr / 3600
    rng = np.random.default_rng(seed)
    noise = np.concatenate([y for _, y in (under[i] for i in rng.permutation(len(under)))])
    streams: dict[float, list] = {}
    for k, snr in enumerate(track(snrs, description="keyword streams", enabled=progress)):
        order = rng.permutation(len(clips))
        mixed, placements = mix_keywords([clips[i][1] for i in order], [col_of[label_of[clips[i][0]]] for i in order], noise,
                                         sr=sr, snr_db=snr, gap_s=gap_s, seed=seed + k)
        streams[snr] = [(*scores(mixed), placements)]
    curve = operating_curve(bg, hours * 3600, streams, thresholds=THRESHOLDS, refractory_s=refractory_s, tolerance_s=tolerance_s)
    result = {"keywords": keywords, "model": model.name,
              "hop_s": hop_s, "ring_s": ring_s, "smooth": smooth, "refractory_s": refractory_s, "tolerance_s": tolerance_s, "snr_db": snrs,
              "target_fa_per_hour": target_fa_per_hour, "curve": curve,
              "background": {"files": [str(p) for p, _ in backgrounds], "hours": hours, "with_noise_between_keywords_hours": curve["background_hours"]},
              "n_keywords": len(clips), "test_folds": sorted(tests),
              "compute_ms_per_hop": 1000 * compute[0] / max(1, compute[1]), "skipped": skipped}
    i = threshold_for(curve, target_fa_per_hour)
    result["operating_point"] = None if i is None else _operating_point(curve, i, streams, refractory_s, tolerance_s)
    if i is not None:  # where the detector fires at that threshold: one count per background recording
        result["operating_point"]["false_accepts_by_file"] = {
            str(p): len(spot(t, s, curve["thresholds"][i], refractory_s)) for (p, _), (t, s) in zip(backgrounds, bg, strict=True)}
    if i is None:
        log.warning("even the highest threshold fires more than %.3g times per hour on the background", target_fa_per_hour)
    result["seconds"] = time.perf_counter() - t0
    if plot is not None:
        from earmark.evaluation.plots import kws_curve_png

        result["plot"] = str(kws_curve_png(result, Path(plot), title=f"keyword detector: {', '.join(keywords)}"))
    return result


def _operating_point(curve: dict, i: int, streams: dict, refractory_s: float, tolerance_s: float) -> dict:
    thr = curve["thresholds"][i]
    lat = [x for entries in streams.values() for t, s, p in entries
           for x in score_placements(t, s, p, thr, refractory_s=refractory_s, tolerance_s=tolerance_s)[0] if x is not None]
    return {"threshold": thr, "sensitivity": round(1 - thr, 4), "fa_per_hour": curve["fa_per_hour"][i],
            "false_accepts": curve["false_accepts"][i], "confusions": curve["confusions"][i], "frr": curve["frr_pooled"][i],
            "frr_by_snr": {snr: v[i] for snr, v in curve["frr"].items()},
            "latency_median_s": float(np.median(lat)) if lat else None, "latency_p95_s": float(np.percentile(lat, 95)) if lat else None}


def _check_held_out(model: Model, tests: set[str], root: Path) -> None:
    """Refuse a model trained on a test fold of this dataset (its file records the training data's root and folds)."""
    data = (model.info or {}).get("data", {})
    trained = data.get("folds")
    if trained and Path(data.get("root", "")).resolve() == Path(root).resolve() and tests & {str(f) for f in trained}:
        raise ParameterError(f"The 'test_folds' parameter ({','.join(sorted(tests))}) names folds the model was trained on "
                             f"({','.join(map(str, trained))}); retrain with --exclude-fold so the test speakers are unseen.")
