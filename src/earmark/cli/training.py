"""Commands that train and evaluate: train, evaluate, curve, compare, and the lists of embedders and models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from earmark.cli._shared import (
    AggOpt, AugmentOpt, BackendOpt, BudgetOpt, CalibrationOpt, ClassifierOpt, DataArg, DataOptions,
    EmbedderOpt, FoldOptions, FoldsOpt, JsonOpt, MaxEpochsOpt, ModelGrid, ModelOpt, PretrainedOpt, Quiet,
    RejectOpt, RejectRateOpt, ReportOpt, SeedOpt, TransferOpt, check_outputs, csv_list, grouped, model_choice,
    model_params_of, number_list, runs, save_and_say, save_outputs,
)
from earmark.console import error, out, plain_table, report_skipped, say


def embedders() -> None:
    """List the available embedders (front ends) with their measured speed."""
    from earmark.embeddings import DEFAULT_EMBEDDER, EMBEDDERS, get_embedder

    rows = []
    for name in EMBEDDERS:
        e = get_embedder(name)
        d = e.describe()
        rows.append([f"{name} (default)" if name == DEFAULT_EMBEDDER else name, d["dims"], d["sample_rate"], f"{d['window_s']:.2f}",
                     f"{d['hop_s']:.2f}", d["licence"], "any" if d["commercial_use"] else "non-commercial",
                     f"{e.measured_realtime:.0f}x" if e.measured_realtime else "-"])
    listing = plain_table("earmark embedders", ("name", "dims", "Hz", "window s", "hop s", "licence", "use", "x realtime"), rows,
                   no_wrap=("name", "licence", "use"))
    listing.caption = "x realtime: a new process, cold cache, 2-core CPU (benchmarks/bench_embed.py, see benchmarks/RESULTS.md)"
    out.print(listing)


def models() -> None:
    """List every registered model with its kind, front end and parameter count."""
    from earmark.embeddings import DEFAULT_EMBEDDER, get_embedder
    from earmark.models import DEFAULT_MODEL, MODELS

    rows = []
    for name, spec in MODELS.items():
        est = spec.factory()
        front = spec.front_end_for(est.get_params(deep=False))
        shape = get_embedder(front).feature_shape if front else (512,)
        count = est.parameter_count(shape, 10)
        where = ("its members' (default " + front + ")" if callable(spec.front_end) else front) if front else None
        rows.append([f"{name} (default)" if name == DEFAULT_MODEL else name, spec.kind, where or f"--embedder (default {DEFAULT_EMBEDDER})",
                     f"{count:,}" if count is not None else "grows with the data", spec.description])
    listing = plain_table("earmark models", ("name", "kind", "front end", "parameters (10 classes; heads on 512-d)", "what it is"), rows, no_wrap=("name",))
    out.print(listing)


@runs
@grouped(read=DataOptions)
def train(
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Model file to write.")],
    data: Annotated[Path | None, typer.Argument(metavar="DATA", help="Folder with metadata.csv or class sub-folders "
                                                                    "(left out with --from-store).")] = None,
    model: ModelOpt = None,
    embedder: EmbedderOpt = "aisfx",
    classifier: ClassifierOpt = "logreg",
    aggregation: AggOpt = "mean",
    folds: FoldsOpt = None,
    train_folds: Annotated[str | None, typer.Option(help="With --folds: train on these fold values only (comma-separated).")] = None,
    exclude_fold: Annotated[str | None, typer.Option(help="With --folds: leave these fold values out (comma-separated).")] = None,
    cv: Annotated[int | None, typer.Option(help="Also cross-validate (K folds) and store the figures in the model.")] = None,
    max_epochs: MaxEpochsOpt = None,
    time_budget_s: BudgetOpt = None,
    augment: AugmentOpt = None,
    pretrained: PretrainedOpt = None,
    transfer: TransferOpt = None,
    calibration: CalibrationOpt = None,
    reject: RejectOpt = None,
    reject_rate: RejectRateOpt = None,
    negatives: Annotated[Path | None, typer.Option(help=(
        "With --reject: a folder of recordings of none of the classes; the 'unknown' threshold is set to separate them."))] = None,
    labels: Annotated[str | None, typer.Option(metavar="FORMAT|CSV", help="Train from label files beside long recordings in DATA: audacity, raven, csv or json; "
                                                    "with --from-store, the CSV 'earmark label' wrote, filled in.")] = None,
    from_store: Annotated[Path | None, typer.Option("--from-store", help="Train on a store's windows named in --labels "
                                                                         "(nothing is decoded; see 'earmark label').")] = None,
    background: Annotated[bool, typer.Option(help="With --labels: unlabelled stretches become a 'background' class.")] = True,
    unlabelled: Annotated[Path | None, typer.Option(help=(
        "A folder of recordings nobody labelled, of the same place or machine: the model labels those it is surest of "
        "and learns from them too, kept only if that helps on held-out labelled clips."))] = None,
    pseudo_threshold: Annotated[float, typer.Option(metavar="NUMBER", help="With --unlabelled: the least probability of "
                                                                            "a label the model gives.")] = 0.5,
    stream: Annotated[list[Path] | None, typer.Option("--stream", help=(
        "Train stream-style (for detectors run on live audio or long recordings): a folder of long recordings with none "
        "of the classes (repeatable; never your test material). Each clip is also placed at random offsets over it, "
        "excerpts of it become the --stream-label class, and the windows the model fires on are added (hard negatives)."))] = None,
    stream_snr: Annotated[str, typer.Option(help="With --stream: signal-to-noise ratios of the placed clips, low,high dB.")] = "0,20",
    stream_copies: Annotated[int, typer.Option(help="With --stream: placed copies per training clip.")] = 2,
    stream_negatives: Annotated[float, typer.Option(help="With --stream: background excerpts per training clip.")] = 1.0,
    stream_partials: Annotated[float, typer.Option(help="With --stream: cut-off words (the start or end of a clip at the window's "
                                                        "edge) per training clip, as --stream-label.")] = 0.5,
    hard_negative_rounds: Annotated[int, typer.Option(help="With --stream: rounds of hard-negative mining (0: none).")] = 1,
    stream_label: Annotated[str, typer.Option(help="With --stream: the class of the background excerpts (e.g. _silence_).")] = "background",
    backend: BackendOpt = None,
    calibration_data: Annotated[list[Path] | None, typer.Option("--calibration-data", help=(
        "With --backend onnx-int8: recordings whose windows set the int8 ranges (default: the training clips)."))] = None,
    read: DataOptions = DataOptions(),
    quiet: Quiet = False,
) -> None:
    """Train a model on DATA and save it to --out."""
    from earmark import api

    check_outputs(out_path=out_path, inputs=[pretrained] if pretrained else (), data=data)
    kind = _training_kind(data, from_store, labels, negatives, stream, cv, backend, unlabelled)
    name = model_choice(model, classifier)
    params = model_params_of(max_epochs, time_budget_s, augment, pretrained, transfer, calibration, reject, reject_rate)
    classes = lambda d: ", ".join(f"{k} {v}" for k, v in d["classes"].items())  # noqa: E731
    if kind == "store":
        m = api.train_from_store(from_store, labels, model=name, aggregation=aggregation, gate_db=read.api()["gate_db"])
        save_and_say(m, out_path, lambda d, path: f"trained {m.name} on {d['n_windows']} labelled windows of {from_store} "
                     f"({m.front_end.name}): {classes(d)} -> {path}")
    elif kind == "labels":
        m = api.train_from_labels(data, labels=labels, model=name, embedder=embedder, aggregation=aggregation, background=background,
                                  cache_dir=read.cache_dir, use_cache=not read.no_cache, model_params=params, progress=not quiet)
        save_and_say(m, out_path, lambda d, path: f"trained {name} on {m.front_end.name} features of {d['n_events']} labelled "
                     f"stretches in {d['n_recordings']} recordings: {classes(d)} -> {path}")
    else:
        m = api.train(data, model=name, embedder=embedder, aggregation=aggregation, **read.api(), folds=folds,
                      train_folds=csv_list(train_folds, "--train-folds"), exclude_folds=csv_list(exclude_fold, "--exclude-fold"),
                      cv=cv, model_params=params, negatives=negatives, progress=not quiet, backend=backend,
                      calibration_data=calibration_data or None,
                      stream=_stream_settings(stream, stream_snr, stream_copies, stream_negatives, stream_partials,
                                              hard_negative_rounds, stream_label),
                      unlabelled=unlabelled, self_training=_self_training(unlabelled, pseudo_threshold))
        _say_trained(m, name, m.save(out_path))


def _training_kind(data, from_store, labels, negatives, stream, cv, backend, unlabelled=None) -> str:
    """``store``, ``labels`` or ``clips``: which of the three trainings the options ask for, refusing the options that
    the chosen one would ignore."""
    from earmark.errors import ParameterError

    if from_store is not None:
        if data is not None or labels is None:
            raise ParameterError("--from-store trains on the store's windows named in --labels FILE.csv; pass --labels and no DATA.")
        return "store"
    if data is None:
        raise ParameterError("Missing argument 'DATA': the folder of training clips (or --from-store STORE --labels FILE.csv).")
    if unlabelled is not None and (labels is not None or from_store is not None):
        raise ParameterError("--unlabelled works with a DATA folder of clips; leave it out with --labels or --from-store.")
    if labels is not None and negatives is not None:
        raise ParameterError("--negatives works with a DATA folder of clips; with --labels, unlabelled stretches are the background class.")
    if stream and (labels is not None or cv is not None):
        raise ParameterError(f"--stream works with a DATA folder of clips and trains one model; leave out {'--labels' if labels is not None else '--cv'}.")
    if labels is not None and backend is not None:
        raise ParameterError("--backend works with a DATA folder of clips; leave it out with --labels (predict and detect take it).")
    return "labels" if labels is not None else "clips"


def _self_training(unlabelled, threshold):
    """--unlabelled's settings (``None`` without it)."""
    from earmark.models.selftrain import SelfTraining

    return None if unlabelled is None else SelfTraining(threshold=threshold)


def _stream_settings(stream, snr, copies, negatives, partials, rounds, label):
    """--stream's settings (``None`` without --stream)."""
    if not stream:
        return None
    from earmark.augment.stream import StreamTraining

    return StreamTraining(background=tuple(map(str, stream)), snr_db=snr, copies=copies, negatives=negatives, partials=partials,
                          rounds=rounds, label=label)


def _say_trained(m, name: str, path) -> None:
    """What ``train`` on a folder of clips made: the data, the folds' figures, the open-set threshold, the licence."""
    report_skipped(m.info["skipped"])
    d = m.info["data"]
    on_folds = f", folds {', '.join(d['folds'])}" if d.get("folds") else ""
    say(f"trained {name} on {m.front_end.name} features: {d['n_files']} clips{on_folds}, {len(m.classes)} classes "
        f"({', '.join(m.classes)}), {d['n_skipped']} skipped -> {path}")
    if "evaluation" in m.info:
        ev = m.info["evaluation"]
        say(f"{ev['protocol']}: accuracy {ev['accuracy_mean']:.3f} ± {ev['accuracy_std']:.3f}")
    if "open_set" in m.info:
        o = m.info["open_set"]
        how = (f"separates the {o['n_negatives']} negative clips best" if o["n_negatives"]
               else f"rejects {o['reject_rate']:.0%} of held-out training clips")
        say(f"'unknown' when the {o['reject']} score is below {o['threshold']:.4g} (the threshold that {how})")
    if "unlabelled" in m.info:
        u = m.info["unlabelled"]
        if u["used"]:
            say(f"unlabelled: {u['n_pseudo']} of {u['n_unlabelled']} clips of {u['folder']} labelled by the model and "
                f"trained on ({', '.join(f'{k} {v}' for k, v in u['pseudo_per_class'].items())}); {u['reason']}")
        else:
            say(f"unlabelled: {u['n_unlabelled']} clips of {u['folder']} not used: {u['reason']}")
    if not m.front_end.commercial_use:
        say(f"note: the {m.front_end.name} weights are licensed {m.front_end.licence}: non-commercial use only.")


@runs
@grouped(read=DataOptions, split=FoldOptions)
def evaluate(
    data: DataArg,
    model: ModelOpt = None,
    embedder: EmbedderOpt = "aisfx",
    classifier: ClassifierOpt = "logreg",
    aggregation: AggOpt = "mean",
    json_path: JsonOpt = None,
    report: ReportOpt = None,
    max_epochs: MaxEpochsOpt = None,
    time_budget_s: BudgetOpt = None,
    augment: AugmentOpt = None,
    pretrained: PretrainedOpt = None,
    transfer: TransferOpt = None,
    calibration: CalibrationOpt = None,
    reject: RejectOpt = None,
    reject_rate: RejectRateOpt = None,
    unknown_classes: Annotated[str | None, typer.Option(help=(
        "Open-set evaluation: these classes (comma-separated) are never trained on and are tested as unknowns."))] = None,
    unknown_dir: Annotated[Path | None, typer.Option(help="With --unknown-classes: recordings of other sounds, tested as unknowns in every fold.")] = None,
    backend: BackendOpt = None,
    calibration_data: Annotated[list[Path] | None, typer.Option("--calibration-data", help=(
        "With --backend onnx-int8: recordings whose windows set the int8 ranges (default: DATA's recordings, never their labels)."))] = None,
    read: DataOptions = DataOptions(),
    split: FoldOptions = FoldOptions(),
    quiet: Quiet = False,
) -> None:
    """Cross-validate a model on DATA (official folds or stratified K-fold)."""
    from earmark import api

    check_outputs(json_path, report, data=data)
    result = api.evaluate(data, model=model_choice(model, classifier), embedder=embedder, aggregation=aggregation, **read.api(),
                          **split.api(),
                          model_params=model_params_of(max_epochs, time_budget_s, augment, pretrained, transfer, calibration, reject, reject_rate),
                          unknown_classes=csv_list(unknown_classes, "--unknown-classes"), unknown_dir=unknown_dir, progress=not quiet,
                          backend=backend, calibration_data=calibration_data or None)
    _print_evaluation(result)
    save_outputs(result, json_path, report, "evaluation_report")



def _print_evaluation(result: dict) -> None:
    """``evaluate``'s answer first (pooled accuracy with its interval, clips, model, protocol), then the tables and lines: per
    fold, the clips it got wrong, per tag, calibration, open set, time."""
    report_skipped(result["skipped"])
    low, high = result["accuracy_ci95"]
    exact = " (every tag right)" if "per_tag" in result else ""
    say(f"accuracy{exact} {result['accuracy_pooled']:.3f} (95% interval {low:.3f}-{high:.3f}) on "
        f"{sum(f['n_test'] for f in result['folds'])} test clips: {result['embedder']['name']} + {result['classifier']['name']}, "
        f"{result['protocol']}")
    rows = [[f["fold"], f["n_test"], f"{f['accuracy']:.3f}", f"{f['balanced_accuracy']:.3f}", f"{f['macro_f1']:.3f}"] for f in result["folds"]]
    rows.append(["mean ± std", result["n_files"], f"{result['accuracy_mean']:.3f} ± {result['accuracy_std']:.3f}",
                 f"{result['balanced_accuracy_mean']:.3f}", f"{result['macro_f1_mean']:.3f}"])
    title = f"{result['embedder']['name']} + {result['classifier']['name']}: {result['protocol']}"
    out.print(plain_table(title, ("fold", "test clips", "accuracy", "balanced acc.", "macro F1"), rows))
    wrong = result.get("misclassified", [])
    if wrong:
        shown = wrong[:10]
        out.print(plain_table(f"clips it got wrong, surest first ({len(shown)} of {len(wrong)}; all in --json or --report)",
                              ("file", "label", "predicted", "score"),
                              [[w["file"], w["label"], w["predicted"], f"{w['score']:.3f}"] for w in shown]))
    if "per_tag" in result:  # multi-label: accuracy above is exact match (every tag of a clip right)
        tag_rows = [[t, v["support"], "-" if v["roc_auc"] is None else f"{v['roc_auc']:.3f}",
                     "-" if v["average_precision"] is None else f"{v['average_precision']:.3f}", f"{v['f1']:.3f}"]
                    for t, v in result["per_tag"].items()]
        out.print(plain_table(f"tags: mAP {result['mAP_mean']:.3f} ± {result['mAP_std']:.3f}, ROC-AUC {result['macro_auc_mean']:.3f} "
                              "(F1 at thresholds tuned on training clips)", ("tag", "clips with it", "ROC-AUC", "avg. precision", "F1"),
                              tag_rows))
    if "calibration" in result:
        say(f"expected calibration error (ECE) {result['calibration']['ece']:.3f}: top-class confidence against accuracy, "
            f"all test clips in {len(result['calibration']['bins'])} non-empty bins of width 1/15")
    if "open_set" in result:
        o = result["open_set"]
        say(f"open set ({o['score']} score; {o['n_known']} known, {o['n_unknown']} unknown test clips): AUROC {o['auroc']:.3f}, "
            f"accuracy on known clips at {o['false_accept']:.0%} false acceptance of unknowns {o['ccr']:.3f}")
        if "at_threshold" in o:
            t = o["at_threshold"]
            say(f"at the model's own thresholds: known accepted {t['known_accepted']:.3f}, unknown accepted "
                f"{t['unknown_accepted']:.3f}, known accepted and right {t['ccr']:.3f}")
    s = result["seconds"]
    say(f"{result['n_files']} clips ({result['audio_seconds']:.0f} s audio), {result['n_skipped']} skipped; "
         f"embed {s['embed']:.1f} s, fit {s['fit']:.1f} s, total {s['total']:.1f} s")


@runs
@grouped(grid=ModelGrid, read=DataOptions, split=FoldOptions)
def curve(
    data: DataArg,
    shots: Annotated[str, typer.Option(help="Training clips per class, comma-separated.")] = "1,2,4,8,16,32",
    repeats: Annotated[int, typer.Option(help="Seeded draws per fold and n.")] = 10,
    unlabelled: Annotated[bool, typer.Option(help="Also run every model self-trained on the training folds' clips that "
                                                  "were not drawn, their labels hidden ('MODEL + unlabelled' rows).")] = False,
    json_path: JsonOpt = None,
    report: ReportOpt = None,
    seed: SeedOpt = 0,
    grid: ModelGrid = ModelGrid(),
    read: DataOptions = DataOptions(),
    split: FoldOptions = FoldOptions(),
    quiet: Quiet = False,
) -> None:
    """Learning curves: accuracy against training clips per class, per model and embedder."""
    from earmark import api
    from earmark.evaluation.fewshot import mean_ci_text

    check_outputs(json_path, report, data=data)
    result = api.curve(data, **grid.api(),
                       shots=number_list(shots, "--shots", kind=int, what="positive integers", example="1,2,4,8"), repeats=repeats, **split.api(),
                       **read.api(), seed=seed, progress=not quiet, unlabelled=unlabelled)
    report_skipped(result["data"]["skipped"])
    rows = []
    for emb, clf in dict.fromkeys((r["embedder"], r["classifier"]) for r in result["summary"]):
        cells = {r["n"]: r for r in result["summary"] if r["embedder"] == emb and r["classifier"] == clf}
        rows.append([f"{emb} / {clf}", *(mean_ci_text(cells[n], 3, "\n", metric=result["metric"]) for n in result["shots"])])
    what = "mean average precision over tags" if result["metric"] == "mAP" else "mean accuracy"
    out.print(plain_table(f"{what} [95% CI], {result['protocol'].split(';')[0]}",
                     ["embedder / classifier", *(f"n={n}" for n in result["shots"])], rows, no_wrap=("embedder / classifier",)))
    s = result["seconds"]
    say(f"chance {result['chance']:.3f}; {len(result['runs'])} runs; embed {s['embed']:.1f} s, "
         f"fit+test {s['fit_and_test']:.1f} s, total {s['total']:.1f} s")
    save_outputs(result, json_path, report, "curve_report")


@runs
@grouped(grid=ModelGrid, read=DataOptions, split=FoldOptions)
def compare(
    data: DataArg,
    json_path: JsonOpt = None,
    report: ReportOpt = None,
    seed: SeedOpt = 0,
    grid: ModelGrid = ModelGrid(),
    read: DataOptions = DataOptions(),
    split: FoldOptions = FoldOptions(),
    quiet: Quiet = False,
) -> None:
    """Full-data comparison of models x embedders on the same folds."""
    from earmark import api

    check_outputs(json_path, report, data=data)
    result = api.compare(data, **grid.api(), **split.api(), **read.api(), seed=seed, progress=not quiet)
    report_skipped(result["data"]["skipped"])
    tagged = result["metric"] == "mAP"  # multi-label: mAP leads; accuracy is exact match
    star = lambda i: " *" if i == result["best"] else ""  # noqa: E731
    rows = [[r["embedder"], r["classifier"], r["dims"],
             *([f"{r['mAP_mean']:.3f} ± {r['mAP_std']:.3f}{star(i)}", f"{r['macro_auc_mean']:.3f}"] if tagged else []),
             f"{r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f}" + ("" if tagged else star(i)),
             f"{r['balanced_accuracy_mean']:.3f}", f"{r['macro_f1_mean']:.3f}", f"{r['fit_seconds_per_fold']:.2f}"]
            for i, r in enumerate(result["rows"])]
    cols = ("embedder", "classifier", "dims", *(("mAP", "ROC-AUC") if tagged else ()),
            "exact match" if tagged else "accuracy", "balanced acc.", "macro F1", "fit s/fold")
    out.print(plain_table(f"{result['protocol']} (* best)", cols, rows, no_wrap=("embedder", "accuracy", "mAP")))
    save_outputs(result, json_path, report, "compare_report")
