"""Reports as Markdown plus one self-contained HTML page (figures embedded as PNG data URIs).

Each report starts with what a reader needs who did not run the command:
the data (clips, classes, durations, sample rates, skipped files), the
protocol, the settings and the versions; then the results.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from pathlib import Path

from earmark.evaluation.plots import confusion_png, f1_heatmap_png, learning_curve_png, reliability_png
from earmark.evaluation.fewshot import mean_ci_text
from earmark.fileio import atomic_write

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)]+)\)")


def write_report(directory: str | Path, text: str, figures: dict[str, Callable[[Path], Path]]) -> dict[str, Path]:
    """Draw ``figures`` (file name -> drawing function) and write ``report.md`` and ``report.html`` to ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pngs = {name: draw(directory / name) for name, draw in figures.items()}
    with atomic_write(directory / "report.md", "w") as f:
        f.write(text)
    uris = {name: "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode() for name, p in pngs.items()}
    with atomic_write(directory / "report.html", "w") as f:
        f.write(to_html(text, uris))
    return {"markdown": directory / "report.md", "html": directory / "report.html", **pngs}


def header(title: str, data: dict, protocol: str, settings: list[str], versions: dict) -> list[str]:
    """The opening sections shared by every report."""
    d = data
    lines = [f"# {title}", "", "## Data", "",
             f"- folder: `{d['root']}`",
             f"- {d['n_files']} clips in {len(d['classes'])} classes, {d['n_skipped']} skipped",
             f"- durations: {d['duration_s']['min']:.2f} to {d['duration_s']['max']:.2f} s (median {d['duration_s']['median']:.2f} s), "
             f"{d['duration_s']['total'] / 60:.1f} min in all",
             f"- sample rates: {', '.join(f'{sr} Hz ({n} clips)' for sr, n in d['sample_rates'].items())}",
             "", "| class | clips |", "| --- | --- |"]
    lines += [f"| {c} | {n} |" for c, n in d["classes"].items()]
    if d["skipped"]:
        lines += ["", "Skipped files:", ""] + [f"- `{s['file']}`: {s['reason']}" for s in d["skipped"]]
    lines += ["", "## Protocol and settings", "", f"- protocol: {protocol}"] + [f"- {s}" for s in settings]
    lines += ["- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()), ""]
    return lines


def evaluation_report(result: dict, directory: str | Path) -> dict[str, Path]:
    """Report of one :func:`earmark.evaluate` result, with its confusion matrix."""
    emb, clf = result["embedder"], result["classifier"]
    low, high = result["accuracy_ci95"]
    n_test = sum(f["n_test"] for f in result["folds"])
    lines = ["# earmark evaluation report", "",
             f"**Accuracy {result['accuracy_pooled']:.1%}** (95% interval {low:.1%}-{high:.1%}) on {n_test} test clips: "
             f"`{emb['name']}` + `{clf['name']}`, {result['protocol']}.", "",
             "![confusion matrix](confusion_matrix.png)", ""]
    wrong = result.get("misclassified", [])
    if wrong:
        lines += ["## Clips it got wrong", "", f"{len(wrong)} of {n_test}, surest mistakes first; each links to its file.", "",
                  "| file | label | predicted | score |", "| --- | --- | --- | --- |"]
        lines += [f"| [{Path(w['file']).name}]({Path(w['file']).resolve().as_uri()}) | {w['label']} | {w['predicted']} | "
                  f"{w['score']:.3f} |" for w in wrong]
        lines.append("")
    context = header("", result["data"], result["protocol"], [
        f"embedder: `{emb['name']}` version {emb['version']} ({emb.get('licence', '')}), params `{emb['params']}`",
        f"classifier: `{clf['name']}`, aggregation `{clf['aggregation']}`, gate {clf['gate_db']} dBFS, params `{clf['params']}`",
        f"time: embed {result['seconds']['embed']:.1f} s, fit {result['seconds']['fit']:.1f} s, total {result['seconds']['total']:.1f} s",
    ], result["versions"])[2:]  # the data and protocol sections, after the results
    lines += ["## Results", "", "| metric | mean | std |", "| --- | --- | --- |"]
    for m in ("accuracy", "balanced_accuracy", "macro_f1"):
        lines.append(f"| {m.replace('_', ' ')} | {result[m + '_mean']:.4f} | {result[m + '_std']:.4f} |")
    lines += ["", "| fold | train | test | accuracy | balanced accuracy | macro F1 |", "| --- | --- | --- | --- | --- | --- |"]
    for f in result["folds"]:
        lines.append(f"| {f['fold']} | {f['n_train']} | {f['n_test']} | {f['accuracy']:.4f} | {f['balanced_accuracy']:.4f} | {f['macro_f1']:.4f} |")
    lines += _per_class(result) + [""]
    title = "Confusion matrix, all test folds"
    figures = {"confusion_matrix.png": lambda p: confusion_png(result["confusion_matrix"], result["classes"], p, title=title)}
    if "per_tag" in result:
        lines += _per_tag(result)
    if "calibration" in result:
        cal = result["calibration"]
        lines += ["## Calibration", "", f"Expected calibration error (ECE) {cal['ece']:.4f}: top-class confidence against accuracy, "
                  f"all test clips in {len(cal['bins'])} non-empty bins of width 1/15 (per fold {result['ece_mean']:.4f} ± "
                  f"{result['ece_std']:.4f}).", "",
                  "| confidence bin | mean confidence | accuracy | clips |", "| --- | --- | --- | --- |"]
        lines += [f"| {b['low']:.2f}-{b['high']:.2f} | {b['confidence']:.3f} | {b['accuracy']:.3f} | {b['n']} |" for b in cal["bins"]]
        lines += ["", "![reliability diagram](reliability.png)", ""]
        figures["reliability.png"] = lambda p: reliability_png(cal, p, title=f"{result['classifier']['name']}: reliability")
    if "open_set" in result:
        lines += _open_set(result["open_set"])
    return write_report(directory, "\n".join(lines + context), figures)


def _per_tag(result: dict) -> list[str]:
    lines = ["", "## Tags", "", f"mAP {result['mAP_mean']:.4f} ± {result['mAP_std']:.4f}, macro ROC-AUC {result['macro_auc_mean']:.4f} "
             f"± {result['macro_auc_std']:.4f} (per fold); accuracy above is exact match (every tag of a clip right); F1 at the "
             "thresholds each fold's model tuned on its training clips.", "",
             "| tag | clips with it | ROC-AUC | average precision | F1 |", "| --- | --- | --- | --- | --- |"]
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    return lines + [f"| {t} | {v['support']} | {fmt(v['roc_auc'])} | {fmt(v['average_precision'])} | {v['f1']:.3f} |"
                    for t, v in result["per_tag"].items()] + [""]


def _open_set(o: dict) -> list[str]:
    lines = ["## Open set", "", f"Classes held out of training and tested as unknowns: {', '.join(o['unknown_classes'])}"
             + (f", plus {o['n_extra_unknown']} clips of other recordings in every fold" if o["n_extra_unknown"] else "") + ".", "",
             "| score | known clips | unknown clips | AUROC known vs unknown | accuracy on known at "
             f"{o['false_accept']:.0%} false acceptance |", "| --- | --- | --- | --- | --- |",
             f"| {o['score']} | {o['n_known']} | {o['n_unknown']} | {o['auroc']:.4f} | {o['ccr']:.4f} |", ""]
    if "at_threshold" in o:
        t = o["at_threshold"]
        lines += [f"At each fold's own threshold (set on its training clips): known accepted {t['known_accepted']:.3f}, "
                  f"unknown accepted {t['unknown_accepted']:.3f}, known accepted and right {t['ccr']:.3f}.", ""]
    return lines


def curve_report(curve: dict, directory: str | Path) -> dict[str, Path]:
    """Report of :func:`earmark.curve`: table of mean accuracy and 95% CI, the learning-curve plot."""
    lines = header("earmark learning curves", curve["data"], curve["protocol"], curve["settings"], curve["versions"])
    combos = list(dict.fromkeys((r["embedder"], r["classifier"]) for r in curve["summary"]))
    metric = curve.get("metric", "accuracy")
    per = "tag (and clips with none)" if metric == "mAP" else "class"
    lines += ["## Results", "", f"Mean {'average precision over the tags' if metric == 'mAP' else 'accuracy'} on the held-out fold(s) "
              f"[95% CI over repeats], by training clips per {per}:", "",
              "| embedder | classifier | " + " | ".join(f"n={n}" for n in curve["shots"]) + " |",
              "| --- | --- | " + " | ".join("---" for _ in curve["shots"]) + " |"]
    for emb, clf in combos:
        cells = {r["n"]: r for r in curve["summary"] if r["embedder"] == emb and r["classifier"] == clf}
        lines.append(f"| {emb} | {clf} | " + " | ".join(
            mean_ci_text(cells[n], metric=metric) for n in curve["shots"]) + " |")
    lines += ["", f"Chance level: {curve['chance']:.3f}. {len(curve['runs'])} runs in all; every run is in the JSON output.", "",
              "![learning curves](learning_curve.png)", ""]
    return write_report(directory, "\n".join(lines), {
        "learning_curve.png": lambda p: learning_curve_png(curve, p, title=curve["title"])})


def compare_report(comp: dict, directory: str | Path) -> dict[str, Path]:
    """Report of :func:`earmark.compare`: the table with the best cell marked, F1 heat map, best confusion matrix."""
    lines = header("earmark comparison", comp["data"], comp["protocol"], comp["settings"], comp["versions"])
    tagged = comp.get("metric") == "mAP"
    lines += ["## Results", "", "Mean ± std over folds; **bold**: the best " + (
              "mAP (accuracy is exact match: every tag of a clip right; F1 per tag below)." if tagged else "mean accuracy."), "",
              "| embedder | classifier | dims | " + ("mAP | macro ROC-AUC | " if tagged else "") +
              "accuracy | balanced accuracy | macro F1 | fit s/fold | predict s/fold |",
              "| --- | --- | --- | " + ("--- | --- | " if tagged else "") + "--- | --- | --- | --- | --- |"]
    for i, r in enumerate(comp["rows"]):
        acc = f"{r['accuracy_mean']:.4f} ± {r['accuracy_std']:.4f}"
        tag_cells = ""
        if tagged:
            m = f"{r['mAP_mean']:.4f} ± {r['mAP_std']:.4f}"
            tag_cells = f"{'**' + m + '**' if i == comp['best'] else m} | {r['macro_auc_mean']:.4f} ± {r['macro_auc_std']:.4f} | "
        elif i == comp["best"]:
            acc = "**" + acc + "**"
        lines.append(f"| {r['embedder']} | {r['classifier']} | {r['dims']} | {tag_cells}{acc} | "
                     f"{r['balanced_accuracy_mean']:.4f} ± {r['balanced_accuracy_std']:.4f} | {r['macro_f1_mean']:.4f} ± {r['macro_f1_std']:.4f} | "
                     f"{r['fit_seconds_per_fold']:.2f} | {r['predict_seconds_per_fold']:.3f} |")
    best = comp["rows"][comp["best"]]
    key = f"{best['embedder']} / {best['classifier']}"
    result = comp["results"][key]
    lines += ["", "![per-class F1](f1_per_class.png)", "", f"Confusion matrix of the best combination, {key}:", "",
              "![confusion matrix](confusion_matrix.png)", ""]
    return write_report(directory, "\n".join(lines), {
        "f1_per_class.png": lambda p: f1_heatmap_png(comp, p, title=f"Per-{'tag' if tagged else 'class'} F1 (all test folds)"),
        "confusion_matrix.png": lambda p: confusion_png(result["confusion_matrix"], result["classes"], p,
                                                        title=f"{key}: mean fold accuracy {result['accuracy_mean']:.1%}"),
    })


def _per_class(result: dict) -> list[str]:
    lines = ["", "### Per class", "", "| class | precision | recall | F1 | support |", "| --- | --- | --- | --- | --- |"]
    return lines + [f"| {c} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['support']} |" for c, r in result["per_class"].items()]


def _file_link(match) -> str:
    name, uri = match.groups()
    player = f' <audio controls preload="none" src="{uri}"></audio>' if Path(name).suffix.lower() in _AUDIO else ""
    return f'<a href="{uri}">{name}</a>{player}'


_AUDIO = {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aif", ".aiff"}


def to_html(md: str, images: dict[str, str]) -> str:
    """Markdown (the subset these reports use) to one HTML page, images inlined from ``images``."""
    out, table = [], []

    def inline(text: str) -> str:
        text = html.escape(text)
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
        text = re.sub(r"\[([^\]]+)\]\((file:[^)\s\"<>]+)\)", _file_link, text)  # a clip: its link, and a player for it
        return re.sub(r"`(.+?)`", r"<code>\1</code>", text)

    def flush() -> None:
        if table:
            rows = [r for r in table if not set(r.replace("|", "").strip()) <= {"-", " "}]
            cells = [[inline(c.strip()) for c in r.strip().strip("|").split("|")] for r in rows]
            head = "".join(f"<th>{c}</th>" for c in cells[0])
            body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in cells[1:])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            table.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        image = _IMAGE.fullmatch(line.strip())
        if line.startswith("### "):
            out.append(f"<h3>{inline(line[4:])}</h3>")
        elif line.startswith("## "):
            out.append(f"<h2>{inline(line[3:])}</h2>")
        elif line.startswith("# "):
            out.append(f"<h1>{inline(line[2:])}</h1>")
        elif line.startswith("- "):
            out.append(f"<li>{inline(line[2:])}</li>")
        elif image:
            out.append(f'<img alt="{html.escape(image.group(1))}" src="{images.get(image.group(2), image.group(2))}">')
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
    flush()
    style = ("body{font-family:sans-serif;max-width:72em;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}"
             "th{background:#f0f0f0}td:first-child,th:first-child,td:nth-child(2){text-align:left}img{max-width:100%}"
             "code{background:#f4f4f4;padding:0 .2em}li{margin:.2em 0}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(md.splitlines()[0].lstrip('# '))}</title>"
            f"<style>{style}</style></head><body>{''.join(out)}</body></html>")
