"""What the ``earmark`` commands share: their common options, the error wrapper, output checks and small parsers."""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from earmark.console import Warnings, as_option, error, report_skipped, say
from earmark.errors import EarmarkError

# The fixed choices of the options that have them, shown in --help as the option's metavar ([table|csv|json]). Written out
# here so that --help imports no library module; tests/test_cli_help.py checks each against the library's own tuple, and
# the library checks the value (with a "did you mean" for a misspelling).
CHOICES = {
    "table": ("table", "csv", "json"),
    "bench": ("table", "json"),
    "export": ("onnx", "c"),
    "classifier": ("logreg", "svm", "knn", "rf", "mlp"),
    "aggregation": ("mean", "vote", "max", "linsoft"),
    "transfer": ("all", "freeze-low", "parallel-low"),
    "calibration": ("temperature", "isotonic"),
    "reject": ("proba", "distance"),
    "backend": ("auto", "torch", "onnx", "onnx-int8"),
    "method": ("hdbscan", "kmeans"),
    "strategy": ("uncertain", "top", "random"),
    "color": ("label", "cluster", "score"),
    "projection": ("umap", "tsne"),
    "gate": ("energy", "vad"),
}


def one_of(kind: str) -> str:
    """The metavar of an option with fixed choices: ``[table|csv|json]``."""
    return "[" + "|".join(CHOICES[kind]) + "]"


Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
CacheDir = Annotated[Path | None, typer.Option(help="Embedding cache folder (default: $EARMARK_CACHE_DIR or the user cache dir).")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Compute embeddings without reading or writing the cache.")]
EmbedderOpt = Annotated[str, typer.Option("--embedder", "-e", help="Embedder (front end) for embedding heads; see 'earmark embedders'; 'a+b' fuses two.")]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Any registered model; see 'earmark models'. Default: --classifier.")]
ClassifierOpt = Annotated[str, typer.Option("--classifier", "-c", metavar=one_of("classifier"), help="Embedding head.")]
AggOpt = Annotated[str, typer.Option(metavar=one_of("aggregation"), help=(
    "Window-to-clip aggregation: the mean of the window scores, a vote, their max, or linsoft (lstm-tagger's linear softmax)."))]
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
TransferOpt = Annotated[str | None, typer.Option(metavar=one_of("transfer"), help=(
    "With --pretrained: fine-tune all layers, or freeze the lower one, or add a fresh one beside it."))]
CalibrationOpt = Annotated[str | None, typer.Option(metavar=one_of("calibration"), help=(
    "Calibrate probabilities on held-out scores of the training clips (k extra fits)."))]
RejectOpt = Annotated[str | None, typer.Option(metavar=one_of("reject"), help=(
    "Answer 'unknown' for sounds of none of the classes, by the highest probability (proba) or the distance to the "
    "nearest training clip (distance)."))]
RejectRateOpt = Annotated[float | None, typer.Option(help="With --reject: share of known training clips the threshold may reject (0.05).")]
CalibrationDataOpt = Annotated[list[Path] | None, typer.Option("--calibration-data", help=(
    "int8: recordings (folders or files, repeatable) whose windows set the int8 ranges; default: the model's training data."))]
Workers = Annotated[int | None, typer.Option("--workers", help="Run on a local Dask cluster of this many worker processes "
                                                               "(127.0.0.1; one per core is usual).")]
Scheduler = Annotated[str | None, typer.Option("--scheduler", help="Run on an existing Dask cluster: its scheduler's address, "
                                                                   "e.g. tcp://10.0.0.5:8786 (see the docs' tour).")]
BackendOpt = Annotated[str | None, typer.Option("--backend", metavar=one_of("backend"), help=(
    "What runs the aisfx network: auto (onnx if onnxruntime is installed, else torch), torch, onnx (float32, the same "
    "scores) or onnx-int8 (2.5x faster, accuracy within 0.25 points on ESC-10; see --calibration-data)."))]
DataArg = Annotated[Path, typer.Argument(metavar="DATA", help="Folder with metadata.csv or class sub-folders.")]
ModelArg = Annotated[Path, typer.Argument(metavar="MODEL", help="Model file from 'earmark train'.")]


def model_params_of(max_epochs: int | None, time_budget_s: float | None, augment: str | None = None,
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


def _run(call):
    """``call()``, turning earmark errors into one line and exit code 1 (and library warnings into lines on stderr)."""
    root = logging.getLogger("earmark")
    if not any(isinstance(h, Warnings) for h in root.handlers):
        root.addHandler(Warnings(level=logging.WARNING))
        root.setLevel(logging.WARNING)
    try:
        return call()
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


def model_first(command: str, model_path: Path, paths) -> None:
    """Refuse MODEL and the audio given the other way round (a model file among the audio, MODEL not a file), naming the
    order that works, before anything is loaded."""
    from earmark.errors import ParameterError

    if model_path.is_file():
        return
    swapped = next((p for p in paths if p.suffix == ".earmark" and p.is_file()), None)
    if swapped is not None:
        raise ParameterError(f"{model_path} is not a model file but {swapped} is: the model comes first, "
                             f"e.g. 'earmark {command} {swapped} {model_path}'.")


def gate_level(value: float) -> float | None:
    """--gate-db as the library takes it: None for -inf (keep every window), else a level in [-200, 0] dBFS."""
    from earmark.errors import check_gate_db

    return None if value == float("-inf") else check_gate_db("gate_db", value)


def check_outputs(json_path: Path | None = None, report: Path | None = None, out_path: Path | None = None, *,
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


def save_and_say(m, out_path: Path, line) -> None:
    """Save a trained model, report the files it skipped, and print ``line(data summary, saved path)``."""
    path = m.save(out_path)
    report_skipped(m.info["skipped"])
    say(line(m.info["data"], path))


def name_list(value: str, option: str) -> list[str]:
    from earmark.errors import ParameterError

    from earmark.models.registry import split_models

    names = split_models(value)
    if not names:
        raise ParameterError(f"The '{option}' option needs a comma-separated list of names. Got {value!r} instead.")
    return names


def model_choice(model: str | None, classifier: str) -> str:
    """--model if given, else --classifier (checked under that option's name)."""
    from earmark.errors import check_choice
    from earmark.models import MODELS
    from earmark.models.registry import ALIASES

    return model if model is not None else check_choice("classifier", classifier, list(MODELS), ALIASES)


def csv_list(value: str | None, option: str) -> list[str] | None:
    return name_list(value, option) if value is not None else None


def save_outputs(result: dict, json_path: Path | None, report: Path | None, report_kind: str) -> None:
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


def number_list(value: str, option: str, *, kind=float, what: str = "numbers", example: str) -> list:
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


def runs(command):
    """A command's body under :func:`_run`: earmark errors as one line and exit code 1 (typer reads the signature
    through ``__wrapped__``)."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        return _run(lambda: command(*args, **kwargs))

    return run


@dataclass(frozen=True)
class DataOptions:
    """How a DATA folder is read and its embeddings cached: the options train, evaluate, curve and compare share,
    declared once (:func:`data_options`)."""

    file_column: str = "filename"
    label_column: str = "label"
    strict_paths: bool = False
    gate_db: float = -60.0
    cache_dir: Path | None = None
    no_cache: bool = False

    def api(self) -> dict:
        """As the library takes them."""
        return {"file_column": self.file_column, "label_column": self.label_column, "strict_paths": self.strict_paths,
                "gate_db": gate_level(self.gate_db), "cache_dir": self.cache_dir, "use_cache": not self.no_cache}


@dataclass(frozen=True)
class FoldOptions:
    """Which clips test and which train: the options evaluate, curve and compare share."""

    folds: str | None = None
    test_fold: list[str] | None = None
    cv: int | None = None

    def api(self) -> dict:
        return {"folds": self.folds, "test_folds": self.test_fold or None, "cv": self.cv}


@dataclass(frozen=True)
class ModelGrid:
    """Which front ends and models curve and compare run, every pair on the same folds."""

    embedders_: str = "mfcc,aisfx"
    models_: str | None = None
    classifiers: str = "knn,logreg"

    def api(self) -> dict:
        return {"embedders": name_list(self.embedders_, "--embedders"), "models": name_list(self.models_ or self.classifiers, "--models")}


_GROUPS = {
    DataOptions: {"file_column": FileCol, "label_column": LabelCol, "strict_paths": StrictPaths, "gate_db": GateOpt,
                  "cache_dir": CacheDir, "no_cache": NoCache},
    FoldOptions: {"folds": FoldsOpt, "test_fold": TestFoldOpt, "cv": CvOpt},
    ModelGrid: {"embedders_": EmbeddersOpt, "models_": ModelsOpt, "classifiers": ClassifiersOpt},
}


def grouped(**groups):
    """Give a command the options of each group (``data=DataOptions`` say) as declared once here; it receives them as
    one object per group. They are listed before ``--quiet`` in its help."""

    def decorate(command):
        import inspect

        sig = inspect.signature(command, eval_str=True)
        own = [p for name, p in sig.parameters.items() if name not in groups]
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=getattr(cls(), name), annotation=annotation)
                 for cls in groups.values() for name, annotation in _GROUPS[cls].items()]
        at = next((i for i, p in enumerate(own) if p.name == "quiet"), len(own))
        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if i >= at else p for i, p in enumerate(own)]

        @functools.wraps(command)
        def run(*args, **kwargs):
            for key, cls in groups.items():
                kwargs[key] = cls(**{name: kwargs.pop(name) for name in _GROUPS[cls]})
            return command(*args, **kwargs)

        run.__signature__ = sig.replace(parameters=[*params[:at], *added, *params[at:]])
        run.__annotations__ = {}
        return run

    return decorate
