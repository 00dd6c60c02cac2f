"""The ``earmark`` command: parses options, calls :mod:`earmark.api`, prints.

Domain errors become one line on stderr and exit code 1. Nothing the user
typed or the data holds (file names, labels, messages) is read as rich
markup: it is printed as plain text.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from earmark.console import Warnings, as_option, err, error, fail_if_any, out, plain_table, print_predictions, report_skipped, say
from earmark.errors import EarmarkError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Few-shot sound classification by transfer learning.",
                  pretty_exceptions_enable=False, rich_markup_mode=None)


def _version(value: bool) -> None:
    if value:
        from earmark._version import __version__

        out.print(f"earmark {__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print earmark's version and exit.")] = False) -> None:
    """Few-shot sound classification by transfer learning."""


def _usage_name(self) -> str:
    """Arguments in the usage line as ``DATA`` / ``PATH...`` (click's convention), not typer 0.29's ``{DATA}``."""
    return self.display_name_raw + ("..." if self.nargs != 1 and not self.display_name_raw.endswith("...") else "")


typer.core.TyperArgument._usage_display_name = _usage_name

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
CacheDir = Annotated[Path | None, typer.Option(help="Embedding cache folder (default: $EARMARK_CACHE_DIR or the user cache dir).")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Compute embeddings without reading or writing the cache.")]
EmbedderOpt = Annotated[str, typer.Option("--embedder", "-e", help="Embedder (front end) for embedding heads; see 'earmark embedders'; 'a+b' fuses two.")]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Any registered model; see 'earmark models'. Default: --classifier.")]
ClassifierOpt = Annotated[str, typer.Option("--classifier", "-c", help="Embedding head: logreg, svm, knn, rf or mlp.")]
AggOpt = Annotated[str, typer.Option(help="Window-to-clip aggregation: mean, vote or max.")]
GateOpt = Annotated[float, typer.Option("--gate-db", help="Ignore windows quieter than this many dBFS (-inf: keep all).")]
FileCol = Annotated[str, typer.Option(help="metadata.csv column with file paths.")]
LabelCol = Annotated[str, typer.Option(help="metadata.csv column with labels.")]
StrictPaths = Annotated[bool, typer.Option("--strict-paths", help="Refuse metadata.csv paths outside DATA (absolute or ../).")]
FoldsOpt = Annotated[str | None, typer.Option(help="metadata.csv column with official folds.")]
TestFoldOpt = Annotated[list[str] | None, typer.Option(help="Only this fold value is a test set (repeatable); e.g. --folds split --test-fold test.")]
CvOpt = Annotated[int | None, typer.Option(help="Stratified K-fold when no --folds (default 5).")]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the full result as JSON.")]
ReportOpt = Annotated[Path | None, typer.Option(help="Write report.md, report.html and figures here.")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the draws and folds.")]
MaxEpochsOpt = Annotated[int | None, typer.Option("--max-epochs", help="Networks: at most this many epochs (early stopping may end sooner).")]
BudgetOpt = Annotated[float | None, typer.Option("--time-budget-s", help="Networks: stop training after this many seconds.")]
AugmentOpt = Annotated[str | None, typer.Option("--augment", help=(
    "In training only, comma-separated: shift, stretch, pitch, gain, noise, background=DIR (augmented copies, any model; "
    "copies=N, default 2), specaugment, mixup (networks); strengths as name=value, e.g. pitch=3,noise=20,mixup=0.4."))]
PretrainedOpt = Annotated[Path | None, typer.Option(help="lstm-tagger: transfer from this tagger, trained on a source task.")]
TransferOpt = Annotated[str | None, typer.Option(help="With --pretrained: all (fine-tune all), freeze-low or parallel-low.")]
CalibrationOpt = Annotated[str | None, typer.Option(help=(
    "Calibrate probabilities on held-out scores of the training clips: temperature or isotonic (k extra fits)."))]
RejectOpt = Annotated[str | None, typer.Option(help=(
    "Answer 'unknown' for sounds of none of the classes: proba (highest probability) or distance (to the nearest training clip)."))]
RejectRateOpt = Annotated[float | None, typer.Option(help="With --reject: share of known training clips the threshold may reject (0.05).")]
CalibrationDataOpt = Annotated[list[Path] | None, typer.Option("--calibration-data", help=(
    "int8: recordings (folders or files, repeatable) whose windows set the int8 ranges; default: the model's training data."))]
Workers = Annotated[int | None, typer.Option("--workers", help="Run on a local Dask cluster of this many worker processes "
                                                               "(127.0.0.1; one per core is usual).")]
Scheduler = Annotated[str | None, typer.Option("--scheduler", help="Run on an existing Dask cluster: its scheduler's address, "
                                                                   "e.g. tcp://10.0.0.5:8786 (see the README).")]
BackendOpt = Annotated[str | None, typer.Option("--backend", help=(
    "What runs the aisfx network: auto (onnx if onnxruntime is installed, else torch), torch, onnx (float32, the same "
    "scores) or onnx-int8 (2.5x faster, accuracy within 0.25 points on ESC-10; see --calibration-data)."))]
DataArg = Annotated[Path, typer.Argument(metavar="DATA", help="Folder with metadata.csv or class sub-folders.")]
ModelArg = Annotated[Path, typer.Argument(metavar="MODEL", help="Model file from 'earmark train'.")]


def _model_params(max_epochs: int | None, time_budget_s: float | None, augment: str | None = None,
                  pretrained: Path | None = None, transfer: str | None = None, calibration: str | None = None,
                  reject: str | None = None, reject_rate: float | None = None) -> dict | None:
    from earmark.errors import ParameterError

    if transfer is not None and pretrained is None:
        raise ParameterError(f"--transfer {transfer} needs --pretrained SOURCE.earmark, the tagger to transfer from.")
    if pretrained is not None and not pretrained.is_file():
        raise ParameterError(f"--pretrained {pretrained}: no such model file; train the source tagger first "
                             "(earmark train SOURCE --model lstm-tagger --out SOURCE.earmark).")
    pretrained = str(pretrained.resolve()) if pretrained is not None else None
    params = {k: v for k, v in (("max_epochs", max_epochs), ("time_budget_s", time_budget_s), ("augment", augment),
                                ("pretrained", pretrained), ("transfer", transfer), ("calibration", calibration), ("reject", reject),
                                ("reject_rate", reject_rate)) if v is not None}
    return params or None


def _run(fn, quiet: bool = False):
    """Call ``fn(progress)``, turning earmark errors into one line and exit code 1."""
    root = logging.getLogger("earmark")
    if not any(isinstance(h, Warnings) for h in root.handlers):
        root.addHandler(Warnings(level=logging.WARNING))
        root.setLevel(logging.WARNING)
    try:
        return fn(not quiet)
    except EarmarkError as exc:
        error(as_option(str(exc)))
        raise typer.Exit(1) from None
    except ImportError as exc:  # an optional extra that is not installed: say which, and how to install it
        from earmark.errors import missing_extra

        message = missing_extra(exc)
        if message is None:
            raise
        error(message)
        raise typer.Exit(1) from None


def _gate(value: float) -> float | None:
    """--gate-db as the library takes it: None for -inf (keep every window), else a level in [-200, 0] dBFS."""
    from earmark.errors import check_gate_db

    return None if value == float("-inf") else check_gate_db("gate_db", value)


def _check_outputs(json_path: Path | None = None, report: Path | None = None, out_path: Path | None = None, *,
                   inputs=(), data: Path | None = None) -> None:
    """Fail before any work if an output cannot be written, or would overwrite one of the command's ``inputs``
    (or ``data``'s metadata.csv)."""
    from earmark.fileio import check_writable_dir, check_writable_file

    inputs = [*inputs, *([data / "metadata.csv"] if data is not None else [])]
    if json_path:
        check_writable_file(json_path, "json", inputs=inputs)
    if report:
        check_writable_dir(report, "report")
    if out_path:
        check_writable_file(out_path, "out", inputs=inputs)


def _save_and_say(m, out_path: Path, line) -> None:
    """Save a trained model, report the files it skipped, and print ``line(data summary, saved path)``."""
    path = m.save(out_path)
    report_skipped(m.info["skipped"])
    say(line(m.info["data"], path))


def _names(value: str, option: str) -> list[str]:
    from earmark.errors import ParameterError

    from earmark.models.registry import split_models

    names = split_models(value)
    if not names:
        raise ParameterError(f"The '{option}' option needs a comma-separated list of names. Got {value!r} instead.")
    return names


@app.command()
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


@app.command()
def models() -> None:
    """List every registered model with its kind, front end and parameter count."""
    from earmark.embeddings import DEFAULT_EMBEDDER, get_embedder
    from earmark.models import DEFAULT_MODEL, MODELS

    rows = []
    for name, spec in MODELS.items():
        shape = get_embedder(spec.front_end).feature_shape if spec.front_end else (512,)
        count = spec.factory().parameter_count(shape, 10)
        rows.append([f"{name} (default)" if name == DEFAULT_MODEL else name, spec.kind, spec.front_end or f"--embedder (default {DEFAULT_EMBEDDER})",
                     f"{count:,}" if count is not None else "grows with the data", spec.description])
    listing = plain_table("earmark models", ("name", "kind", "front end", "parameters (10 classes; heads on 512-d)", "what it is"), rows, no_wrap=("name",))
    out.print(listing)


def _model_name(model: str | None, classifier: str) -> str:
    """--model if given, else --classifier (checked under that option's name)."""
    from earmark.errors import check_choice
    from earmark.models import MODELS

    return model if model is not None else check_choice("classifier", classifier, list(MODELS))


def _csv_list(value: str | None, option: str) -> list[str] | None:
    return _names(value, option) if value is not None else None


@app.command()
def train(
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Model file to write.")],
    data: Annotated[Path | None, typer.Argument(metavar="DATA", help="Folder with metadata.csv or class sub-folders "
                                                                    "(left out with --from-store).")] = None,
    model: ModelOpt = None,
    embedder: EmbedderOpt = "aisfx",
    classifier: ClassifierOpt = "logreg",
    aggregation: AggOpt = "mean",
    gate_db: GateOpt = -60.0,
    file_column: FileCol = "filename",
    label_column: LabelCol = "label",
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
    labels: Annotated[str | None, typer.Option(help="Train from label files beside long recordings in DATA: audacity, raven, csv or json; "
                                                    "with --from-store, the CSV 'earmark label' wrote, filled in.")] = None,
    from_store: Annotated[Path | None, typer.Option("--from-store", help="Train on a store's windows named in --labels "
                                                                         "(nothing is decoded; see 'earmark label').")] = None,
    background: Annotated[bool, typer.Option(help="With --labels: unlabelled stretches become a 'background' class.")] = True,
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
    strict_paths: StrictPaths = False,
    backend: BackendOpt = None,
    calibration_data: Annotated[list[Path] | None, typer.Option("--calibration-data", help=(
        "With --backend onnx-int8: recordings whose windows set the int8 ranges (default: the training clips)."))] = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
) -> None:
    """Train a model on DATA and save it to --out."""
    from earmark import api
    from earmark.errors import ParameterError

    def go(progress):
        _check_outputs(out_path=out_path, inputs=[pretrained] if pretrained else (), data=data)
        if from_store is not None:
            if data is not None or labels is None:
                raise ParameterError("--from-store trains on the store's windows named in --labels FILE.csv; pass --labels and no DATA.")
            m = api.train_from_store(from_store, labels, model=_model_name(model, classifier), aggregation=aggregation,
                                     gate_db=_gate(gate_db))
            _save_and_say(m, out_path, lambda d, path: f"trained {m.name} on {d['n_windows']} labelled windows of {from_store} "
                          f"({m.front_end.name}): {', '.join(f'{k} {v}' for k, v in d['classes'].items())} -> {path}")
            return
        if data is None:
            raise ParameterError("Missing argument 'DATA': the folder of training clips (or --from-store STORE --labels FILE.csv).")
        name = _model_name(model, classifier)
        if labels is not None and negatives is not None:
            raise ParameterError("--negatives works with a DATA folder of clips; with --labels, unlabelled stretches are the background class.")
        if stream and (labels is not None or cv is not None):
            raise ParameterError(f"--stream works with a DATA folder of clips and trains one model; leave out {'--labels' if labels is not None else '--cv'}.")
        stream_settings = None
        if stream:
            from earmark.augment.stream import StreamTraining

            stream_settings = StreamTraining(background=tuple(map(str, stream)), snr_db=stream_snr,
                                             copies=stream_copies, negatives=stream_negatives, partials=stream_partials, rounds=hard_negative_rounds,
                                             label=stream_label)
        if labels is not None and backend is not None:
            raise ParameterError("--backend works with a DATA folder of clips; leave it out with --labels (predict and detect take it).")
        if labels is not None:
            m = api.train_from_labels(data, labels=labels, model=name, embedder=embedder, aggregation=aggregation,
                                      background=background, cache_dir=cache_dir, use_cache=not no_cache,
                                      model_params=_model_params(max_epochs, time_budget_s, augment, pretrained, transfer, calibration, reject, reject_rate), progress=progress)
            _save_and_say(m, out_path, lambda d, path: f"trained {name} on {m.front_end.name} features of {d['n_events']} labelled "
                          f"stretches in {d['n_recordings']} recordings: {', '.join(f'{k} {v}' for k, v in d['classes'].items())} -> {path}")
            return
        m = api.train(data, model=name, embedder=embedder, aggregation=aggregation, gate_db=_gate(gate_db), file_column=file_column,
                      label_column=label_column, folds=folds, train_folds=_csv_list(train_folds, "--train-folds"),
                      exclude_folds=_csv_list(exclude_fold, "--exclude-fold"), strict_paths=strict_paths, cache_dir=cache_dir,
                      use_cache=not no_cache, cv=cv, model_params=_model_params(max_epochs, time_budget_s, augment, pretrained, transfer, calibration, reject, reject_rate),
                      negatives=negatives, progress=progress, backend=backend, calibration_data=calibration_data or None,
                      stream=stream_settings)
        path = m.save(out_path)
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
        if not m.front_end.commercial_use:
            say(f"note: the {m.front_end.name} weights are licensed {m.front_end.licence}: non-commercial use only.")

    _run(go, quiet)


@app.command()
def predict(
    model_path: ModelArg,
    paths: Annotated[list[Path], typer.Argument(metavar="PATH...", help="Audio files or folders (searched recursively).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Also show the next K labels (at most the number of classes - 1).")] = 0,
    backend: BackendOpt = None,
    calibration_data: CalibrationDataOpt = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the predictions here (--format csv or json) instead of "
                                                              "printing them; with --workers, row by row as files finish.")] = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
) -> None:
    """Classify audio files with a trained model.

    Unreadable files are reported on stderr and skipped; the exit code is 1 if any was.
    """
    from earmark import api
    from earmark.errors import ParameterError, check_choice
    from earmark.pipeline import Model

    def go(progress):
        check_choice("format", fmt, ("table", "csv", "json"))
        if top_k < 0:
            raise ParameterError(f"The '--top-k' option must be >= 0. Got {top_k} instead.")
        if out_path is not None and fmt == "table":
            raise ParameterError(f"--out {out_path}: give --format csv or json for a file (table is for the screen).")
        _check_outputs(out_path=out_path, inputs=[model_path, *paths])
        m = Model.load(model_path)
        k = min(top_k, len(m.classes) - 1)
        if workers is not None or scheduler is not None:
            batch = api.predict(model_path, paths, top_k=k + 1, progress=progress, backend=backend, workers=workers,
                                scheduler=scheduler, out=out_path, fmt=fmt)
            say(f"{out_path}: {len(batch.records)} file(s) classified, {len(batch.resumed)} done before, {len(batch.skipped)} skipped",
                about=out_path)
            fail_if_any(batch.skipped)
            return
        batch = api.predict(m, paths, top_k=k + 1, cache_dir=cache_dir, use_cache=not no_cache, progress=progress, backend=backend,
                            calibration=calibration_data or None)
        if batch.records and out_path is not None:
            from earmark.console import predictions_text
            from earmark.fileio import atomic_write

            with atomic_write(out_path, "w") as f:  # checked before any work (_check_outputs above)
                f.write(predictions_text(batch.records, fmt, k))
            say(f"{out_path}: {len(batch.records)} file(s) classified", about=out_path)
        elif batch.records:
            print_predictions(batch.records, fmt, k)
        fail_if_any(batch.skipped)

    _run(go, quiet)


@app.command()
def evaluate(
    data: DataArg,
    model: ModelOpt = None,
    embedder: EmbedderOpt = "aisfx",
    classifier: ClassifierOpt = "logreg",
    aggregation: AggOpt = "mean",
    gate_db: GateOpt = -60.0,
    folds: FoldsOpt = None,
    test_fold: TestFoldOpt = None,
    cv: CvOpt = None,
    json_path: JsonOpt = None,
    report: ReportOpt = None,
    file_column: FileCol = "filename",
    label_column: LabelCol = "label",
    strict_paths: StrictPaths = False,
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
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
) -> None:
    """Cross-validate a model on DATA (official folds or stratified K-fold)."""
    from earmark import api

    def go(progress):
        _check_outputs(json_path, report, data=data)
        result = api.evaluate(data, model=_model_name(model, classifier), embedder=embedder, aggregation=aggregation, gate_db=_gate(gate_db),
                              folds=folds, test_folds=test_fold or None, cv=cv, file_column=file_column,
                              label_column=label_column, strict_paths=strict_paths, cache_dir=cache_dir, use_cache=not no_cache,
                              model_params=_model_params(max_epochs, time_budget_s, augment, pretrained, transfer, calibration, reject, reject_rate),
                              unknown_classes=_csv_list(unknown_classes, "--unknown-classes"), unknown_dir=unknown_dir, progress=progress,
                              backend=backend, calibration_data=calibration_data or None)
        report_skipped(result["skipped"])
        rows = [[f["fold"], f["n_test"], f"{f['accuracy']:.3f}", f"{f['balanced_accuracy']:.3f}", f"{f['macro_f1']:.3f}"] for f in result["folds"]]
        rows.append(["mean ± std", result["n_files"], f"{result['accuracy_mean']:.3f} ± {result['accuracy_std']:.3f}",
                     f"{result['balanced_accuracy_mean']:.3f}", f"{result['macro_f1_mean']:.3f}"])
        title = f"{result['embedder']['name']} + {result['classifier']['name']}: {result['protocol']}"
        out.print(plain_table(title, ("fold", "test clips", "accuracy", "balanced acc.", "macro F1"), rows))
        if "per_tag" in result:  # multi-label: accuracy above is exact match (every tag of a clip right)
            tag_rows = [[t, v["support"], "-" if v["roc_auc"] is None else f"{v['roc_auc']:.3f}",
                         "-" if v["average_precision"] is None else f"{v['average_precision']:.3f}", f"{v['f1']:.3f}"]
                        for t, v in result["per_tag"].items()]
            out.print(plain_table(f"tags: mAP {result['mAP_mean']:.3f} ± {result['mAP_std']:.3f}, ROC-AUC {result['macro_auc_mean']:.3f} "
                                  "(F1 at thresholds tuned on training clips)", ("tag", "clips with it", "ROC-AUC", "avg. precision", "F1"),
                                  tag_rows))
        if "calibration" in result:
            say(f"expected calibration error {result['calibration']['ece']:.3f} (top-class confidence against accuracy, "
                f"{len(result['calibration']['bins'])} bins, all test clips)")
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
        _save_outputs(result, json_path, report, "evaluation_report")

    _run(go, quiet)


def _save_outputs(result: dict, json_path: Path | None, report: Path | None, report_kind: str) -> None:
    """Write the result as JSON and/or a report (``report_kind`` names the writer in earmark.evaluation.report)."""
    if json_path:
        from earmark.fileio import atomic_write

        with atomic_write(json_path, "w") as f:
            json.dump(result, f, indent=2)
        say(f"wrote {json_path}", about=json_path)
    if report:
        from earmark.evaluation import report as reports

        paths = getattr(reports, report_kind)(result, report)
        say(f"wrote {paths['html']} and {paths['markdown']}")


def _numbers(value: str, option: str, *, kind=float, what: str = "numbers", example: str) -> list:
    """Comma-separated numbers of ``kind`` (ints: at least 1); a one-line error naming the option otherwise."""
    from earmark.errors import ParameterError

    try:
        out = [kind(v) for v in value.split(",") if v.strip()]
    except ValueError:
        out = []
    if not out or (kind is int and min(out) < 1):
        raise ParameterError(f"The '{option}' option must be {what} separated by commas, e.g. {example}. Got {value!r} instead.")
    return out


EmbeddersOpt = Annotated[str, typer.Option("--embedders", help="Comma-separated embedder names for embedding heads; 'a+b' is their fusion.")]
ModelsOpt = Annotated[str | None, typer.Option("--models", help=(
    "Comma-separated registered models (see 'earmark models'), each optionally with options: "
    "'sbcnn,sbcnn[augment=pitch,specaugment; max_epochs=20]'; default: --classifiers."))]
ClassifiersOpt = Annotated[str, typer.Option(help="Comma-separated embedding heads.")]


@app.command()
def curve(
    data: DataArg,
    embedders_: EmbeddersOpt = "mfcc,aisfx",
    models_: ModelsOpt = None,
    classifiers: ClassifiersOpt = "knn,logreg",
    shots: Annotated[str, typer.Option(help="Training clips per class, comma-separated.")] = "1,2,4,8,16,32",
    repeats: Annotated[int, typer.Option(help="Seeded draws per fold and n.")] = 10,
    folds: FoldsOpt = None,
    test_fold: TestFoldOpt = None,
    cv: CvOpt = None,
    json_path: JsonOpt = None,
    report: ReportOpt = None,
    gate_db: GateOpt = -60.0,
    file_column: FileCol = "filename",
    label_column: LabelCol = "label",
    strict_paths: StrictPaths = False,
    seed: SeedOpt = 0,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
) -> None:
    """Learning curves: accuracy against training clips per class, per model and embedder."""
    from earmark import api
    from earmark.evaluation.fewshot import mean_ci_text

    def go(progress):
        _check_outputs(json_path, report, data=data)
        result = api.curve(data, embedders=_names(embedders_, "--embedders"), models=_names(models_ or classifiers, "--models"),
                           shots=_numbers(shots, "--shots", kind=int, what="positive integers", example="1,2,4,8"), repeats=repeats, folds=folds, test_folds=test_fold or None, cv=cv,
                           gate_db=_gate(gate_db), file_column=file_column, label_column=label_column, strict_paths=strict_paths,
                           cache_dir=cache_dir, use_cache=not no_cache, seed=seed, progress=progress)
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
        _save_outputs(result, json_path, report, "curve_report")

    _run(go, quiet)


@app.command()
def compare(
    data: DataArg,
    embedders_: EmbeddersOpt = "mfcc,aisfx",
    models_: ModelsOpt = None,
    classifiers: ClassifiersOpt = "knn,logreg",
    folds: FoldsOpt = None,
    test_fold: TestFoldOpt = None,
    cv: CvOpt = None,
    json_path: JsonOpt = None,
    report: ReportOpt = None,
    gate_db: GateOpt = -60.0,
    file_column: FileCol = "filename",
    label_column: LabelCol = "label",
    strict_paths: StrictPaths = False,
    seed: SeedOpt = 0,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
) -> None:
    """Full-data comparison of models x embedders on the same folds."""
    from earmark import api

    def go(progress):
        _check_outputs(json_path, report, data=data)
        result = api.compare(data, embedders=_names(embedders_, "--embedders"), models=_names(models_ or classifiers, "--models"),
                             folds=folds, test_folds=test_fold or None, cv=cv, gate_db=_gate(gate_db),
                             file_column=file_column, label_column=label_column, strict_paths=strict_paths, cache_dir=cache_dir,
                             use_cache=not no_cache, seed=seed, progress=progress)
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
        _save_outputs(result, json_path, report, "compare_report")

    _run(go, quiet)


@app.command()
def detect(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="Model file from 'earmark train', or a voice database folder "
                                                                     "from 'earmark enroll' (who speaks when).")],
    recordings: Annotated[list[Path], typer.Argument(metavar="RECORDING...", help="Audio files or folders (searched recursively).")],
    threshold: Annotated[float | None, typer.Option(help="Score in (0, 1] at which an event starts (it lasts while above 0.6 x this); "
                                                         "default 0.5, or a voice database's calibrated threshold.")] = None,
    min_duration_s: Annotated[float, typer.Option("--min-duration-s", help="Drop events shorter than this.")] = 0.0,
    merge_gap_s: Annotated[float, typer.Option("--merge-gap-s", help="Merge same-label events closer than this.")] = 0.0,
    median_windows: Annotated[int, typer.Option(help="Median filter length over window scores.")] = 3,
    hop_s: Annotated[float | None, typer.Option("--hop-s", help="Take windows this often (default: the model's hop); smaller sharpens event edges.")] = None,
    exclusive: Annotated[bool, typer.Option(help="One label at a time: each window keeps only its top class (--no-exclusive: classes may overlap).")] = True,
    refine_edges: Annotated[bool, typer.Option("--refine-edges", help=(
        "Move each event's start and end to where the sound's level rises and falls (10-ms frames, within half a window); "
        "sharper edges where the events stand out from their background."))] = False,
    one_label_per_event: Annotated[bool, typer.Option("--one-label-per-event", help=(
        "Find where any class leads, then give each such stretch the one class with the highest mean score over it "
        "(for sounds that never overlap; fewer split and mislabelled events)."))] = False,
    label_with: Annotated[Path | None, typer.Option("--label-with", metavar="CLIP_MODEL", help=(
        "Name each event with this clip model (say aisfx + logreg) as it would the clip cut there; MODEL only says where "
        "(a sed-crnn frame model's sharp edges with a pretrained model's names)."))] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, json, audacity or raven.")] = "csv",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for one event file per recording (default: ./earmark-events).")] = None,
    plot: Annotated[bool, typer.Option("--plot", help="Also write a PNG: spectrogram with the events, scores under it.")] = False,
    backend: BackendOpt = None,
    calibration_data: CalibrationDataOpt = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
) -> None:
    """Find events in long recordings (or, with a voice database, who speaks when); writes one event file per recording.

    Unreadable recordings are reported and skipped; the exit code is 1 if any was.
    """
    from earmark import api
    from earmark.inference.detect import DetectionSettings

    def go(progress):
        settings = DetectionSettings(threshold=0.5 if threshold is None else threshold, min_duration_s=min_duration_s,
                                     merge_gap_s=merge_gap_s, median_windows=median_windows, exclusive=exclusive,
                                     refine_edges=refine_edges, one_label_per_event=one_label_per_event)
        batch = api.detect(model_path, recordings, settings=settings, hop_s=hop_s, fmt=fmt, out_dir=out_dir, plot=plot, progress=progress,
                           voice_threshold=threshold, backend=backend, calibration=calibration_data or None, workers=workers,
                           scheduler=scheduler, label_with=label_with)
        if batch.resumed:
            say(f"{len(batch.resumed)} recording(s) done by an earlier run with these settings (kept)")
        rows = [[r["recording"], f"{r['duration_s']:.1f}", len(r["events"]), ", ".join(f"{k} {v}" for k, v in r["counts"].items()),
                 r["written_to"]] for r in batch.records]
        if rows:
            out.print(plain_table(f"events ({fmt})", ("recording", "duration s", "events", "by label", "written to"), rows))
            say(f"wrote {len(rows)} event file(s) to {Path(batch.records[0]['written_to']).parent}")
        fail_if_any(batch.skipped)

    _run(go, quiet)


@app.command()
def listen(
    model_path: ModelArg,
    input_: Annotated[str | None, typer.Option("--input", "-i", help="A file played at real-time pace, or - for raw 16-bit PCM on stdin.")] = None,
    device: Annotated[str | None, typer.Option(help="Sound card (index or name) when no --input is given.")] = None,
    rate: Annotated[int, typer.Option(help="Sample rate of the PCM on stdin.")] = 16000,
    hop_s: Annotated[float | None, typer.Option("--hop-s", help="Classify the newest window this often (0.5 s; 0.1 s with --keywords).")] = None,
    gate_db: Annotated[float, typer.Option("--gate-db", help="Windows quieter than this (dBFS) are not classified.")] = -50.0,
    gate: Annotated[str, typer.Option(help="energy, or vad: also skip windows without voice (Silero VAD).")] = "energy",
    threshold: Annotated[float, typer.Option(help="Print windows whose top score reaches this (0, 1].")] = 0.5,
    keywords: Annotated[str | None, typer.Option(help="Keyword spotting: fire once per spoken keyword of these classes (comma-separated).")] = None,
    sensitivity: Annotated[float | None, typer.Option(help="With --keywords: fire when the smoothed score reaches 1 - this; "
                                                           "'earmark evaluate-kws' picks it for a false-accept rate.")] = None,
    smooth: Annotated[int, typer.Option(help="With --keywords: average scores over this many hops.")] = 3,
    refractory_s: Annotated[float, typer.Option("--refractory-s", help="With --keywords: seconds after an event in which nothing fires.")] = 1.0,
    realtime: Annotated[bool, typer.Option(help="With --input FILE: play it at real-time pace (--no-realtime: as fast as possible).")] = True,
    backend: BackendOpt = None,
    calibration_data: CalibrationDataOpt = None,
) -> None:
    """Classify live audio as it arrives, or spot keywords in it; prints detections with their stream time and latency."""
    from earmark import api
    from earmark.inference.listen import file_blocks, microphone_blocks, stdin_blocks
    from earmark.pipeline import Model

    def go(_progress):
        hop = api.inference.listen_hop_s(hop_s, keywords)
        api.inference.check_listen_options(rate=rate, hop_s=hop, gate=gate, threshold=threshold)  # before loading anything
        m = Model.load(model_path)  # api.listen checks --hop-s against the model's sample rate before any audio flows
        sr, block_s = m.front_end.sample_rate, min(hop, 0.1)
        if input_ == "-":
            blocks = stdin_blocks(rate=rate, sr=sr, block_s=block_s)
        elif input_:
            blocks = file_blocks(input_, sr=sr, block_s=block_s, realtime=realtime)
        else:
            blocks = microphone_blocks(device=int(device) if device and device.isdigit() else device, sr=sr, block_s=block_s)
        stats = api.ListenStats()
        try:
            for d in api.listen(m, blocks, hop_s=hop, gate_db=gate_db, threshold=threshold, gate=gate, keywords=keywords,
                                sensitivity=sensitivity, smooth=smooth, refractory_s=refractory_s, stats=stats, backend=backend,
                                calibration=calibration_data or None):
                print(f"{d.end_s:9.2f} s  {d.label:<20} {d.score:.2f}  level {d.level_db:6.1f} dBFS  latency {d.latency_s * 1000:5.0f} ms", flush=True)
        except KeyboardInterrupt:
            pass
        s = stats.summary()
        if s["detections"]:
            err.print(Text(f"stream ended: {s['detections']} detections, latency median {s['latency_median_ms']:.0f} ms, "
                           f"95th percentile {s['latency_p95_ms']:.0f} ms; CPU {s['cores']:.2f} cores on average over {s['wall_s']:.1f} s"))
        else:
            err.print(Text(f"stream ended: no detections; CPU {s['cores']:.2f} cores on average over {s['wall_s']:.1f} s"))

    _run(go)


@app.command("evaluate-kws")
def evaluate_kws(
    model_path: ModelArg,
    data: DataArg,
    keywords: Annotated[str, typer.Option(help="The keywords the detector fires on (classes of the model, comma-separated).")],
    background: Annotated[list[Path], typer.Option(help="Keyword-free recordings, files or folders (repeatable): false accepts "
                                                        "are counted on them and keywords are mixed into them.")],
    test_fold: Annotated[list[str], typer.Option(help="Fold of held-out speakers whose keyword clips are tested (repeatable); "
                                                      "train the model with --exclude-fold on it.")],
    folds: Annotated[str, typer.Option(help="metadata.csv column with the folds.")] = "fold",
    snr_db: Annotated[str, typer.Option("--snr-db", help="Speech-to-noise ratios (dB) at which keywords are mixed into the background.")] = "20,10,5,0",
    target_fa_per_hour: Annotated[float, typer.Option("--target-fa-per-hour", help="Pick the threshold that fires at most this often "
                                                                                  "per hour on the background.")] = 1.0,
    hop_s: Annotated[float, typer.Option("--hop-s", help="Score the newest window this often, as listen does.")] = 0.1,
    smooth: Annotated[int, typer.Option(help="Average scores over this many hops, as listen does.")] = 3,
    refractory_s: Annotated[float, typer.Option("--refractory-s", help="Seconds after an event in which nothing fires.")] = 1.0,
    gate_db: Annotated[float, typer.Option("--gate-db", help="Windows quieter than this (dBFS) are not classified, as in listen.")] = -50.0,
    plot: Annotated[Path | None, typer.Option(help="Write the operating curve (PNG) here.")] = None,
    json_path: JsonOpt = None,
    file_column: FileCol = "filename",
    label_column: LabelCol = "label",
    seed: SeedOpt = 0,
    quiet: Quiet = False,
) -> None:
    """Measure a keyword model as a live detector: false accepts per hour against false rejects, and the threshold
    (sensitivity) for a target false-accept rate."""
    from earmark import api

    def go(progress):
        _check_outputs(json_path)
        if plot:
            from earmark.fileio import check_writable_file

            check_writable_file(plot, "plot")
        r = api.evaluate_kws(model_path, data, keywords=keywords, background=background, folds=folds, test_folds=test_fold,
                             snr_db=_numbers(snr_db, "--snr-db", example="20,10,5,0"), target_fa_per_hour=target_fa_per_hour, hop_s=hop_s, smooth=smooth,
                             refractory_s=refractory_s, gate_db=gate_db, seed=seed, file_column=file_column,
                             label_column=label_column, plot=plot, progress=progress)
        report_skipped(r["skipped"])
        op, curve = r["operating_point"], r["curve"]
        say(f"{r['n_keywords']} keywords of held-out speakers (fold {','.join(r['test_folds'])}) at {', '.join(f'{s:g}' for s in r['snr_db'])} dB SNR; "
            f"false accepts counted over {curve['background_hours'] * 60:.0f} min: {r['background']['hours'] * 60:.1f} min of background in "
            f"{len(r['background']['files'])} recordings and the noise between keywords")
        if op is None:
            say(f"no threshold keeps false accepts at or below {target_fa_per_hour:g} per hour on this background "
                f"(at the highest, {curve['fa_per_hour'][-1]:.2g} per hour); the model fires on it too often")
        else:
            rows = [[f"{snr} dB", f"{v:.3f}"] for snr, v in op["frr_by_snr"].items()] + [["all", f"{op['frr']:.3f}"]]
            out.print(plain_table(f"false-reject rate at {op['fa_per_hour']:.2g} false accepts per hour ({op['false_accepts']} on the "
                                  f"noise, target {target_fa_per_hour:g}; {op['confusions']} other keywords fired)", ("SNR", "false-reject rate"), rows))
            lat = "" if op["latency_median_s"] is None else (f"; events {op['latency_median_s']:.2f} s after the keyword ends (median, "
                                                             f"95th percentile {op['latency_p95_s']:.2f} s) plus compute "
                                                             f"{r['compute_ms_per_hop']:.1f} ms per hop")
            say(f"threshold {op['threshold']:.7g}: earmark listen {model_path} --keywords {','.join(r['keywords'])} "
                f"--sensitivity {op['sensitivity']:.3g}{lat}")
        if plot:
            say(f"wrote {r['plot']}")
        _save_outputs(r, json_path, None, "")

    _run(go, quiet)


@app.command()
def mix(
    backgrounds: Annotated[Path, typer.Option(help="Background recordings: a dataset folder or CSV (label column = class).")],
    events: Annotated[Path, typer.Option(help="Event recordings: a dataset folder or CSV (label column = the tag).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="New (or empty) folder for the mixtures and metadata.csv.")],
    n: Annotated[int | None, typer.Option("--n", help="Number of mixtures (one split named 'all'); or give --split.")] = None,
    split: Annotated[str | None, typer.Option(help="Mixtures per split, e.g. train=36,test=500; no source recording is in two splits.")] = None,
    duration_s: Annotated[float, typer.Option("--duration-s", help="Length of each mixture in seconds.")] = 10.0,
    ebr_db: Annotated[str, typer.Option("--ebr-db", help="Event-to-background ratios to draw from (dB, RMS over the event).")] = "-6,0,6",
    event_rate: Annotated[float, typer.Option(help="Probability that a mixture holds events.")] = 0.5,
    max_events: Annotated[int, typer.Option(help="A mixture with events holds 1 to this many.")] = 1,
    background_classes: Annotated[str | None, typer.Option(help="Use only these background classes (comma-separated).")] = None,
    event_classes: Annotated[str | None, typer.Option(help="Use only these event classes (comma-separated).")] = None,
    folds: Annotated[str | None, typer.Option(help="Use only recordings in these folds (comma-separated values of --fold-column).")] = None,
    fold_column: Annotated[str, typer.Option(help="Column holding the folds.")] = "fold",
    group_column: Annotated[str | None, typer.Option(help="Column naming each clip's source recording (default: src_file if present).")] = None,
    sample_rate: Annotated[int | None, typer.Option(help="Sample rate of the mixtures (default: the sources' most common).")] = None,
    seed: SeedOpt = 0,
    quiet: Quiet = False,
) -> None:
    """Make weakly labelled mixtures: events at random times in background recordings, 24-bit WAV + metadata.csv + events.csv."""
    from earmark import api
    from earmark.data.mix import MAX_MIXTURES, parse_splits
    from earmark.errors import ParameterError, check_number

    def go(progress):
        if (n is None) == (split is None):
            raise ParameterError("Give the number of mixtures with --n N or per split with --split train=36,test=500 (one of them).")
        if n is not None:
            check_number("n", n, low=1, high=MAX_MIXTURES, integer=True)
        try:
            ebrs = [float(v) for v in ebr_db.split(",") if v.strip()]
        except ValueError:
            raise ParameterError(f"--ebr-db {ebr_db}: give comma-separated numbers in dB, e.g. -6,0,6.") from None
        result = api.mix(backgrounds, events, out_dir, splits=parse_splits(split) if split else {"all": n}, duration_s=duration_s,
                         ebr_db=ebrs, event_rate=event_rate, max_events=max_events, seed=seed, sample_rate=sample_rate,
                         background_classes=_csv_list(background_classes, "--background-classes"),
                         event_classes=_csv_list(event_classes, "--event-classes"), folds=_csv_list(folds, "--folds"),
                         fold_column=fold_column, group_column=group_column, progress=progress)
        report_skipped(result["skipped"])
        parts = ", ".join(f"{k} {v} ({result['with_events'][k]} with events)" for k, v in result["by_split"].items())
        say(f"wrote {result['n_mixtures']} mixtures of {duration_s:g} s at {result['sample_rate']} Hz ({parts}; tags "
            f"{', '.join(result['tags'])}; common scale {result['scale']:.3f}) -> {Path(result['out']) / 'metadata.csv'}")

    _run(go, quiet)


DbArg = Annotated[Path, typer.Argument(metavar="DB", help="Voice database folder (from 'earmark enroll').")]
ClipsArg = Annotated[list[Path], typer.Argument(metavar="CLIP...", help="Audio files or folders (searched recursively).")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")]


@app.command()
def enroll(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The speaker's name.")],
    clips: ClipsArg,
    db: Annotated[Path, typer.Option(help="Voice database folder (made if new).")],
    model: Annotated[Path | None, typer.Option("--model", help=(
        "A 'metric' model file to encode voices with (a new database only); default: the speaker embedder as it is."))] = None,
    embedder: Annotated[str | None, typer.Option(help="Front end of a new database without --model (default speaker).")] = None,
    calibrate: Annotated[Path | None, typer.Option(help=(
        "Recordings of other speakers (metadata.csv with a speaker column): sets the accept threshold at their equal error rate."))] = None,
    speaker_column: Annotated[str, typer.Option(help="With --calibrate: the metadata.csv column naming each clip's speaker.")] = "speaker",
    replace: Annotated[bool, typer.Option("--replace", help="Replace the voice print of a NAME enrolled already.")] = False,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
) -> None:
    """Enrol a voice from a few clips (no retraining): its voice print goes into --db."""
    from earmark import api
    from earmark.errors import ParameterError

    def go(progress):
        if model is not None and not model.is_file():
            raise ParameterError(f"--model {model}: no such model file; train one with 'earmark train DATA --label-column speaker "
                                 "--model metric --embedder speaker --out voice.earmark'.")
        r = api.enroll(name, clips, db, model=model, embedder=embedder, calibrate=calibrate, speaker_column=speaker_column,
                       replace=replace, cache_dir=cache_dir, use_cache=not no_cache)
        report_skipped(r["skipped"])
        rec = r["record"]
        say(f"enrolled {name} from {rec['n_clips']} clips (similarity to the print: mean {rec['similarity_to_print']['mean']:.3f}, "
            f"lowest {rec['similarity_to_print']['min']:.3f}); {r['n_speakers']} voices in {db}")
        cal = r["calibration"]
        if cal:
            say(f"threshold {r['threshold']:.4f}: equal error rate {cal['eer']:.3f} on {cal['n_trials']} trials among "
                f"{cal['n_speakers']} speakers of {cal['data']}")
        else:
            say("no threshold yet: identify gives the closest voice and never 'unknown'; add --calibrate DATA to set one")

    _run(go, quiet)


def _print_voice_records(records: list[dict], fmt: str, columns: tuple[str, ...]) -> None:
    import csv as _csv
    import io
    import json as _json

    if fmt == "json":
        print(_json.dumps(records, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        buf = io.StringIO()
        w = _csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        w.writerows(records)
        print(buf.getvalue(), end="")
    else:
        out.print(plain_table("", columns, [[f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in columns] for r in records]))


def _voice_command(call, fmt: str, last_column: str, quiet: bool) -> None:
    """Run an identify / verify call and print its records (file, speaker, score, ``last_column``) and skipped files."""
    from earmark.errors import check_choice

    def go(progress):
        check_choice("format", fmt, ("table", "csv", "json"))
        r = call()
        if r["records"]:
            _print_voice_records(r["records"], fmt, ("file", "speaker", "score", last_column))
        fail_if_any(r["skipped"])

    _run(go, quiet)


@app.command()
def identify(
    db: DbArg,
    clips: ClipsArg,
    fmt: FormatOpt = "table",
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
) -> None:
    """Who speaks in each clip: the closest enrolled voice, or 'unknown' below the calibrated threshold."""
    from earmark import api

    _voice_command(lambda: api.identify(db, clips, cache_dir=cache_dir, use_cache=not no_cache), fmt, "closest", quiet)


@app.command()
def verify(
    db: DbArg,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The enrolled speaker to check against.")],
    clips: ClipsArg,
    fmt: FormatOpt = "table",
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
) -> None:
    """Is each clip NAME's voice? Accept or reject at the database's calibrated threshold, with the score."""
    from earmark import api

    _voice_command(lambda: api.verify(db, name, clips, cache_dir=cache_dir, use_cache=not no_cache), fmt, "accepted", quiet)


@app.command("export")
def export_model(
    model_path: ModelArg,
    out_path: Annotated[Path, typer.Option("--out", help="The file to write: model.onnx, or model.h for --format c.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="onnx (audio window in, class scores out; a runner script is written "
                                                            "beside it) or c (small heads on MFCC statistics).")] = "onnx",
    int8: Annotated[bool, typer.Option("--int8", help="ONNX: quantize the convolutions to int8, calibrated on --calibration-data.")] = False,
    calibration: CalibrationDataOpt = None,
    quiet: Quiet = False,
) -> None:
    """Export a trained model to run without earmark: ONNX (onnxruntime + numpy + soundfile) or a C header."""
    from earmark import api

    def go(progress):
        _check_outputs(out_path=out_path, inputs=[model_path])
        record = api.export(model_path, out_path, fmt=fmt, int8=int8, calibration=calibration or None)
        say(f"wrote {record['out']} ({record['bytes']:,} bytes{', int8' if record.get('int8') else ''})")
        if record.get("runner"):
            say(f"run it with: python {record['runner']} {record['out']} clip.wav")
        if record.get("example"):
            say(f"example program: {record['example']} (cc -O2 -o classify {record['example']} -lm)")

    _run(go, quiet)


@app.command()
def bench(
    model_path: ModelArg,
    int8: Annotated[bool, typer.Option("--int8", help="Also time the int8 graph (calibrated on --calibration-data).")] = False,
    calibration: CalibrationDataOpt = None,
    windows: Annotated[int, typer.Option(help="Windows to time per runtime.")] = 64,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    quiet: Quiet = False,
) -> None:
    """Size, latency per window and x realtime of a model on this machine: earmark's own path against ONNX (and int8)."""
    from earmark import api
    from earmark.errors import check_choice

    def go(progress):
        check_choice("format", fmt, ("table", "json"))
        rows = api.bench(model_path, int8=int8, calibration=calibration or None, windows=windows)
        if fmt == "json":
            print(json.dumps(rows, indent=2))
            return
        table = [[r["runtime"], "" if r["bytes"] is None else f"{r['bytes']:,}", f"{r['ms_per_window']:.2f}", f"{r['x_realtime']:.0f}"]
                 for r in rows]
        out.print(plain_table(f"{model_path}: {windows} windows each", ("runtime", "bytes", "ms / window", "x realtime"), table))

    _run(go, quiet)


@app.command()
def index(
    recordings: Annotated[list[Path], typer.Argument(metavar="RECORDINGS...", help="Audio files or folders (searched recursively).")],
    store: Annotated[Path, typer.Option("--store", help="Store folder (made on first use; later runs add new or changed files).")],
    embedder: Annotated[str | None, typer.Option(help="Front end, fixed when the store is made (default aisfx).")] = None,
    window_s: Annotated[float | None, typer.Option("--window-s", help="Window length in seconds, for front ends that take one "
                                                                   "(mfcc, wave); fixed when the store is made.")] = None,
    hop_s: Annotated[float | None, typer.Option("--hop-s", help="Seconds between windows, fixed when the store is made "
                                                             "(default: the front end's own).")] = None,
    labels: Annotated[Path | None, typer.Option(help="CSV with file and label columns (as 'earmark train' reads) whose labels "
                                                     "are kept with the windows.")] = None,
    backend: BackendOpt = None,
    calibration_data: Annotated[list[Path] | None, typer.Option("--calibration-data", help=(
        "With --backend onnx-int8 on a new store: recordings whose windows set the int8 ranges (default: RECORDINGS)."))] = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
) -> None:
    """Embed every window of a collection into a store for search, clusters and maps.

    Only new or changed files (by content hash) are embedded; an interrupted run goes on where it stopped.
    Unreadable files are reported and skipped; the exit code is 1 if any was.
    """
    from earmark import api

    def go(progress):
        r = api.index(recordings, store, embedder=embedder, window_s=window_s, hop_s=hop_s, labels=labels, backend=backend,
                      calibration=calibration_data or None, progress=progress, workers=workers, scheduler=scheduler)
        say(f"{store}: {len(r.added)} added, {len(r.changed)} changed, {len(r.copied)} copies of stored files, {r.unchanged} unchanged, "
            f"{len(r.skipped)} skipped; {r.windows:,} windows"
            + (f", {r.audio_s / 3600:.2f} h of audio at {r.realtime:.0f}x realtime" if r.audio_s else ""))
        fail_if_any(r.skipped)

    _run(go, quiet)


@app.command()
def search(
    store: Annotated[Path, typer.Argument(metavar="STORE", help="Store folder from 'earmark index'.")],
    like: Annotated[str | None, typer.Option("--like", help="An audio file, or a stretch of one: FILE@START-END in seconds.")] = None,
    k: Annotated[int, typer.Option("-k", help="How many windows to list.")] = 20,
    model_path: Annotated[Path | None, typer.Option("--model", help="With --label: list the windows this model scores highest.")] = None,
    label: Annotated[str | None, typer.Option("--label", help="The model's class to rank windows by.")] = None,
    approximate: Annotated[bool | None, typer.Option("--approximate/--exact", help="Search the HNSW index, or check every window "
                                                                                    "(default: exact below a million windows).")] = None,
    gate_db: Annotated[float, typer.Option("--gate-db", help="Leave out windows quieter than this (dBFS); -inf keeps all.")] = -60.0,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    html_path: Annotated[Path | None, typer.Option("--html", help="Also write a page where each window can be played.")] = None,
    quiet: Quiet = False,
) -> None:
    """Find the windows most like an example, or those a model scores highest for a class."""
    import csv
    import sys

    from earmark import api
    from earmark.errors import check_choice

    def go(progress):
        check_choice("format", fmt, ("table", "csv", "json"))
        _check_outputs(out_path=html_path)
        hits = api.search(store, like=like, k=k, model=model_path, label=label, approximate=approximate, gate_db=_gate(gate_db),
                          html=html_path)
        measure = "distance" if like is not None else "score"
        if fmt == "json":
            print(json.dumps(hits, indent=2))
        elif fmt == "csv":
            w = csv.writer(sys.stdout, lineterminator="\n")
            w.writerow(["file", "start_s", "end_s", measure, "label"])
            w.writerows([h["file"], f"{h['start_s']:.3f}", f"{h['end_s']:.3f}", f"{h[measure]:.6f}", h["label"]] for h in hits)
        else:
            rows = [[str(i), h["file"], f"{h['start_s']:.2f}", f"{h['end_s']:.2f}", f"{h[measure]:.4f}", h["label"]]
                    for i, h in enumerate(hits, 1)]
            out.print(plain_table(f"{store}: {len(hits)} windows", ("#", "file", "start s", "end s", measure, "label"), rows))
        if html_path is not None:
            (say if fmt == "table" else err.print)(f"wrote {html_path}")

    _run(go, quiet)


@app.command()
def cluster(
    store: Annotated[Path, typer.Argument(metavar="STORE", help="Store folder from 'earmark index'.")],
    method: Annotated[str, typer.Option(help="hdbscan (finds the number of clusters; runs on a sample of 20,000 windows) or "
                                             "kmeans (needs -k; all windows, one shard at a time).")] = "hdbscan",
    k: Annotated[int | None, typer.Option("-k", help="k-means: the number of clusters.")] = None,
    min_cluster_size: Annotated[int, typer.Option(help="HDBSCAN: the fewest windows a cluster may have.")] = 10,
    gate_db: Annotated[float, typer.Option("--gate-db", help="Leave out windows quieter than this (dBFS); -inf keeps all.")] = -60.0,
    out_path: Annotated[Path | None, typer.Option("--out", help="CSV of every window's cluster (file, start_s, end_s, cluster, label).")] = None,
    html_path: Annotated[Path | None, typer.Option("--html", help="A page with each cluster's most typical windows, playable.")] = None,
    quiet: Quiet = False,
) -> None:
    """Group a store's windows by sound, and say what is in each group (the assignment is kept for 'earmark map')."""
    from earmark import api

    def go(progress):
        _check_outputs(out_path=out_path)
        _check_outputs(out_path=html_path)
        r = api.cluster(store, method=method, k=k, min_cluster_size=min_cluster_size, gate_db=_gate(gate_db), out=out_path, html=html_path)
        rows = [[str(c["cluster"]), str(c["size"]), ", ".join(f"{lab} {n}" for lab, n in list(c["labels"].items())[:4]),
                 "; ".join(f"{Path(e['file']).name}@{e['start_s']:.1f}" for e in c["examples"])] for c in r["clusters"]]
        out.print(plain_table(f"{store}: {len(r['clusters'])} clusters ({method}) of {r['n_windows']:,} windows, {r['noise']:,} "
                              "unclustered", ("cluster", "windows", "labels (known)", "typical windows"), rows))
        for p in (out_path, html_path):
            if p is not None:
                say(f"wrote {p}")

    _run(go, quiet)


@app.command()
def label(
    store: Annotated[Path, typer.Argument(metavar="STORE", help="Store folder from 'earmark index'.")],
    model_path: Annotated[Path, typer.Option("--model", help="A model trained on the store's front end (e.g. 'earmark train "
                                                            "--from-store').")],
    out_path: Annotated[Path, typer.Option("--out", help="The CSV to fill in (or, with --format audacity/raven, a folder of label files).")],
    strategy: Annotated[str, typer.Option(help="uncertain (the model's closest calls), top (its surest finds) or random.")] = "uncertain",
    n: Annotated[int, typer.Option("-n", help="How many windows to pick.")] = 20,
    label_name: Annotated[str | None, typer.Option("--label", help="With --strategy top: the class whose best windows to pick.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, audacity or raven.")] = "csv",
    seed: Annotated[int, typer.Option(help="With --strategy random: the draw.")] = 0,
    exclude: Annotated[Path | None, typer.Option("--exclude", help="A filled-in pick (the --labels of earlier rounds): its "
                                                                  "windows are not picked again.")] = None,
    quiet: Quiet = False,
) -> None:
    """Pick the next windows to label; fill in the label column, then 'earmark train --from-store STORE --labels FILE'."""
    from earmark import api
    from earmark.errors import check_choice

    def go(progress):
        check_choice("format", fmt, ("csv", "audacity", "raven"))
        rows = api.label(store, model_path, strategy=strategy, n=n, label=label_name, out=out_path, fmt=fmt, seed=seed,
                         exclude=exclude)
        say(f"wrote {len(rows)} windows to label ({strategy}) to {out_path}")

    _run(go, quiet)


@app.command("map")
def map_command(
    store: Annotated[Path, typer.Argument(metavar="STORE", help="Store folder from 'earmark index'.")],
    out_path: Annotated[Path, typer.Option("--out", help="The HTML page to write (opens from disk, no server, no network).")],
    color: Annotated[str, typer.Option(help="label, cluster (from 'earmark cluster') or score (needs --model and --label).")] = "label",
    model_path: Annotated[Path | None, typer.Option("--model", help="With --color score: the model whose score colours the points.")] = None,
    label_name: Annotated[str | None, typer.Option("--label", help="With --color score: the model's class.")] = None,
    projection: Annotated[str, typer.Option(help="umap or tsne.")] = "umap",
    max_points: Annotated[int, typer.Option(help="At most this many windows (a seeded sample beyond it).")] = 20_000,
    gate_db: Annotated[float, typer.Option("--gate-db", help="Leave out windows quieter than this (dBFS); -inf keeps all.")] = -60.0,
    embed_audio: Annotated[bool, typer.Option("--embed-audio", help="Put each window's audio inside the page (at most 500 "
                                                                   "points) instead of linking to the recordings.")] = False,
    quiet: Quiet = False,
) -> None:
    """Draw a store's windows as a map you can listen to: hover for file and time, click to play, select and export a CSV to label."""
    from earmark import api

    def go(progress):
        r = api.map(store, out_path, color=color, model=model_path, label=label_name, projection=projection, max_points=max_points,
                    gate_db=_gate(gate_db), embed_audio=embed_audio)
        say(f"wrote {r['out']}: {r['points']:,} of {r['of']:,} windows, {r['projection']}, coloured by {r['color']}")

    _run(go, quiet)


@app.command()
def serve(
    model_paths: Annotated[list[Path], typer.Argument(metavar="MODEL...", help="Model files to serve (named by their file stem).")],
    host: Annotated[str, typer.Option(help="Interface to listen on; anything but 127.0.0.1/localhost needs --token-file.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token_file: Annotated[Path | None, typer.Option("--token-file", help="A file holding the token every request must send "
                                                                         "(Authorization: Bearer TOKEN).")] = None,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest request body accepted; larger ones are cut off.")] = 100.0,
    max_jobs: Annotated[int, typer.Option("--max-jobs", help="Jobs run at once.")] = 2,
    max_queue: Annotated[int, typer.Option("--max-queue", help="Jobs that may wait for a slot; beyond them, 429 (busy) at once.")] = 16,
    timeout_s: Annotated[float, typer.Option("--timeout-s", help="Longest a job may take (504 after).")] = 120.0,
    store: Annotated[Path | None, typer.Option("--store", help="An embedding store ('earmark index'): search by example, its map and "
                                                               "the labelling loop on the page.")] = None,
    labelling_dir: Annotated[Path | None, typer.Option("--labelling-dir", help="Where the page's labels and the models trained "
                                                                             "on them go (default STORE/labelling).")] = None,
    quiet: Quiet = False,
) -> None:
    """Serve models over HTTP: /api/predict, /api/detect, /api/models, with --store search and labelling (docs at /docs). Stop with Ctrl-C."""
    from dataclasses import replace

    from earmark.errors import ParameterError, check_number
    from earmark.pipeline import Model
    from earmark.serve.app import ServeSettings, check_bind, create_app, read_token

    def go(progress):
        check_number("port", port, low=1, high=65535, integer=True)
        settings = ServeSettings(token=None, max_upload_mb=max_upload_mb, max_jobs=max_jobs, max_queue=max_queue,
                                 timeout_s=timeout_s, store=store, labelling_dir=labelling_dir)
        token = read_token(token_file) if token_file is not None else None
        check_bind(host, token)
        names = {}
        for p in model_paths:
            if p.stem in names:
                raise ParameterError(f"{p}: two models named {p.stem!r}; rename one of the files (models are named by their stem).")
            Model.load(p)  # every model checked now: a bad one refuses the start, naming its file
            names[p.stem] = p.resolve()
        import uvicorn

        app_ = create_app(replace(settings, models=names, token=token))
        with_store = f" with the store {store}" if store is not None else ""
        say(f"serving {', '.join(names)}{with_store} on http://{host}:{port} (API docs at /docs){'; token required' if token else ''}")
        uvicorn.run(app_, host=host, port=port, log_level="warning" if quiet else "info")

    _run(go, quiet)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
