"""Write an evaluation result as Markdown and self-contained HTML with a confusion-matrix PNG."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np

from earmark.fileio import atomic_write


def confusion_png(result: dict, path: Path) -> Path:
    """Plot the summed confusion matrix to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(result["confusion_matrix"])
    classes = result["classes"]
    size = max(4.0, 0.55 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title(f"Confusion matrix, all test folds (mean fold accuracy {result['accuracy_mean']:.1%})")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > cm.max() / 2 else "black", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="clips")
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
    return path


def markdown(result: dict, png_name: str = "confusion_matrix.png") -> str:
    """The report as Markdown text."""
    emb, clf = result["embedder"], result["classifier"]
    lines = [
        "# earmark evaluation report",
        "",
        f"- data: `{result['data']['root']}`: {result['n_files']} clips, {len(result['classes'])} classes, "
        f"{result['audio_seconds']:.0f} s of audio, {result['n_skipped']} skipped",
        f"- protocol: {result['protocol']}",
        f"- embedder: `{emb['name']}` version {emb['version']} ({emb.get('licence', '')}), params `{emb['params']}`",
        f"- classifier: `{clf['name']}`, aggregation `{clf['aggregation']}`, gate {clf['gate_db']} dBFS, params `{clf['params']}`",
        f"- earmark {result['earmark_version']}; time: embed {result['seconds']['embed']:.1f} s, fit {result['seconds']['fit']:.1f} s, "
        f"total {result['seconds']['total']:.1f} s",
        "",
        "## Results",
        "",
        "| metric | mean | std |",
        "| --- | --- | --- |",
    ]
    for m in ("accuracy", "balanced_accuracy", "macro_f1"):
        lines.append(f"| {m.replace('_', ' ')} | {result[m + '_mean']:.4f} | {result[m + '_std']:.4f} |")
    lines += ["", "| fold | train | test | accuracy | balanced accuracy | macro F1 |", "| --- | --- | --- | --- | --- | --- |"]
    for f in result["folds"]:
        lines.append(f"| {f['fold']} | {f['n_train']} | {f['n_test']} | {f['accuracy']:.4f} | {f['balanced_accuracy']:.4f} | {f['macro_f1']:.4f} |")
    lines += ["", "## Per class", "", "| class | precision | recall | F1 | support |", "| --- | --- | --- | --- | --- |"]
    for c, r in result["per_class"].items():
        lines.append(f"| {c} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['support']} |")
    lines += ["", f"![confusion matrix]({png_name})", ""]
    if result["skipped"]:
        lines += ["## Skipped files", ""] + [f"- `{s['file']}`: {s['reason']}" for s in result["skipped"]] + [""]
    return "\n".join(lines)


def write_report(result: dict, directory: str | Path) -> dict[str, Path]:
    """Write ``report.md``, ``report.html`` (image embedded) and ``confusion_matrix.png`` to ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    png = confusion_png(result, directory / "confusion_matrix.png")
    md = markdown(result)
    with atomic_write(directory / "report.md", "w") as f:
        f.write(md)
    data_uri = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
    page = _html(md, data_uri)
    with atomic_write(directory / "report.html", "w") as f:
        f.write(page)
    return {"markdown": directory / "report.md", "html": directory / "report.html", "png": png}


def _html(md: str, data_uri: str) -> str:
    """A minimal Markdown-to-HTML for the report's own constructs (headings, lists, tables, image)."""
    out, table = [], []

    def flush():
        if table:
            rows = [r for r in table if not set(r.replace("|", "").strip()) <= {"-", " "}]
            cells = [[html.escape(c.strip()) for c in r.strip().strip("|").split("|")] for r in rows]
            head = "".join(f"<th>{c}</th>" for c in cells[0])
            body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in cells[1:])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            table.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("# "):
            out.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            out.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("- "):
            out.append(f"<p>&bull; {html.escape(line[2:]).replace('`', '')}</p>")
        elif line.startswith("!["):
            out.append(f'<img alt="confusion matrix" src="{data_uri}">')
    flush()
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}"
             "th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}img{max-width:100%}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>earmark evaluation</title><style>{style}</style></head><body>{''.join(out)}</body></html>"
