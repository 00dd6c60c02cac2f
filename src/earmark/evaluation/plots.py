"""Figures for reports: confusion matrix, learning curves, per-class F1 heat map (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from earmark.fileio import atomic_write


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=110)
    _pyplot().close(fig)
    return path


def confusion_png(matrix, classes: list[str], path: Path, *, title: str) -> Path:
    """Plot a confusion matrix (rows: true label, columns: predicted)."""
    plt = _pyplot()
    cm = np.asarray(matrix)
    size = max(4.0, 0.55 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title(title)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > cm.max() / 2 else "black", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="clips")
    fig.tight_layout()
    return _save(fig, path)


def learning_curve_png(curve: dict, path: Path, *, title: str) -> Path:
    """Accuracy (mAP for tags) against training clips per class (log axis), one line per embedder / classifier, 95% CI
    shaded, chance dashed."""
    plt = _pyplot()
    metric = curve.get("metric", "accuracy")
    prefix = "" if metric == "accuracy" else f"{metric}_"
    fig, ax = plt.subplots(figsize=(10.5, 5.5))
    combos = list(dict.fromkeys((r["embedder"], r["classifier"]) for r in curve["summary"]))
    colours = plt.get_cmap("tab10")
    embedders = list(dict.fromkeys(e for e, _ in combos))
    styles = {c: s for c, s in zip(dict.fromkeys(c for _, c in combos), ["-", "--", ":", "-."] * 3)}
    for emb, clf in combos:
        rows = [r for r in curve["summary"] if r["embedder"] == emb and r["classifier"] == clf]
        n = np.array([r["n"] for r in rows])
        mean = np.array([r[f"{metric}_mean"] for r in rows])
        lo, hi = np.array([r[f"{prefix}ci95_low"] for r in rows]), np.array([r[f"{prefix}ci95_high"] for r in rows])
        colour = colours(embedders.index(emb) % 10)
        ax.plot(n, mean, styles[clf], marker="o", color=colour, label=f"{emb} + {clf}", linewidth=2)
        ax.fill_between(n, lo, hi, color=colour, alpha=0.15)
    ax.axhline(curve["chance"], color="grey", linestyle=(0, (4, 4)), linewidth=1.5, label=f"chance ({curve['chance']:.0%})")
    ax.set_xscale("log", base=2)
    ax.set_xticks(curve["shots"], [str(s) for s in curve["shots"]])
    ax.set_xlabel("training clips per " + ("tag" if metric == "mAP" else "class") + " (log scale)", fontsize=11)
    ax.set_ylabel(("mean average precision" if metric == "mAP" else "accuracy") + " on held-out fold(s)", fontsize=11)
    ax.set_ylim(0, 1.0)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.grid(True, which="major", alpha=0.3)
    ax.set_title(title, fontsize=12)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)  # outside: never hides a line
    fig.tight_layout()
    return _save(fig, path)


def f1_heatmap_png(comparison: dict, path: Path, *, title: str) -> Path:
    """Per-class F1 (rows: classes, columns: embedder / classifier), values printed in the cells."""
    plt = _pyplot()
    rows = comparison["rows"]
    classes = list(rows[0]["f1_per_class"])
    data = np.array([[r["f1_per_class"][c] for r in rows] for c in classes])
    labels = [f"{r['embedder']}\n{r['classifier']}" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(rows) + 3), max(4, 0.45 * len(classes) + 2)))
    im = ax.imshow(data, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(rows)), labels, fontsize=9)
    ax.set_yticks(range(len(classes)), classes)
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            ax.text(j, i, f"{data[i, j]:.2f}", ha="center", va="center", fontsize=8, color="black" if data[i, j] > 0.6 else "white")
    ax.set_xlabel("embedder / classifier")
    ax.set_ylabel("class")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="F1")
    fig.tight_layout()
    return _save(fig, path)


def detection_png(path_audio, result: dict, path: Path, *, threshold: float, max_frames: int = 3000) -> Path:
    """Spectrogram of a recording with its detected events, and the class scores under it.

    The log-mel spectrogram (16 kHz, 64 bands) is computed while streaming the
    file, with a hop chosen so that at most ``max_frames`` columns are drawn:
    memory stays small for long recordings.
    """
    from earmark.audio import Framer, audio_info, stream
    from earmark.data.labels import BACKGROUND
    from earmark.features.mel import mel_frames

    plt = _pyplot()
    sr, n_fft = 16000, 1024
    duration = audio_info(path_audio, min_duration_s=0).duration_s
    hop = max(256, int(duration * sr / max_frames))
    framer, cols = Framer(n_fft, hop), []
    for chunk in stream(path_audio, sr=sr):
        frames = framer.push(chunk)
        if len(frames):
            cols.append(mel_frames(frames, sr=sr, n_mels=64))
    spec = 10 * np.log10(np.maximum(np.concatenate(cols), 1e-10)).T if cols else np.zeros((64, 1))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    ax1.imshow(spec, origin="lower", aspect="auto", cmap="magma", extent=(0, duration, 0, 64), vmin=spec.max() - 80)
    ax1.set_ylabel("mel band (16 kHz, 64 bands)")
    colours = plt.get_cmap("tab10")
    classes = result["classes"]
    for e in result["events"]:
        c = colours(classes.index(e.label) % 10)
        ax1.axvspan(e.start_s, e.end_s, color=c, alpha=0.25)
        ax1.text(e.start_s, 60, e.label, color="white", fontsize=8, va="top", clip_on=True)
    ax1.set_title(f"{Path(path_audio).name}: {len(result['events'])} events")
    for k, label in enumerate(classes):
        if label != BACKGROUND:
            ax2.plot(result["centres_s"], result["scores"][:, k], color=colours(k % 10), label=label, linewidth=1.2)
    ax2.axhline(threshold, color="grey", linestyle="--", linewidth=1, label=f"threshold {threshold}")
    ax2.set_ylim(0, 1.02)
    ax2.set_xlabel("time (s)")
    ax2.set_ylabel("window score")
    ax2.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return _save(fig, path)


def reliability_png(calibration: dict, path: Path, *, title: str) -> Path:
    """Reliability diagram: accuracy against mean top-class confidence per bin (bar width: the bin), the diagonal is
    perfect calibration; the clips per bin below."""
    plt = _pyplot()
    bins = calibration["bins"]
    fig, (ax, axn) = plt.subplots(2, 1, figsize=(5.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    lows = np.array([b["low"] for b in bins])
    widths = np.array([b["high"] - b["low"] for b in bins])
    ax.bar(lows, [b["accuracy"] for b in bins], width=widths, align="edge", color="tab:blue", alpha=0.75, edgecolor="black",
           label="accuracy")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o", color="tab:orange", label="(confidence, accuracy)")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title(f"{title}\nECE {calibration['ece']:.3f}")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    axn.bar(lows, [b["n"] for b in bins], width=widths, align="edge", color="grey", edgecolor="black")
    axn.set_xlim(0, 1)
    axn.set_xlabel("top-class probability (confidence)")
    axn.set_ylabel("clips")
    fig.tight_layout()
    return _save(fig, path)


def kws_curve_png(result: dict, path: Path, *, title: str) -> Path:
    """The keyword detector's operating curve: false-reject rate against false accepts per hour (log axis), one line
    per speech-to-noise ratio and the pooled one, the chosen operating point marked."""
    plt = _pyplot()
    curve = result["curve"]
    fa = np.asarray(curve["fa_per_hour"], float)
    floor = 0.5 / curve["background_hours"]  # zero false accepts drawn half an event below the first measurable rate
    x = np.maximum(fa, floor)
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for snr, frr in curve["frr"].items():
        ax.step(x, frr, where="post", lw=1.2, alpha=0.8, label=f"{snr} dB SNR")
    ax.step(x, curve["frr_pooled"], where="post", lw=2.2, color="black", label="all SNRs")
    op = result.get("operating_point")
    if op:
        ax.plot([max(op["fa_per_hour"], floor)], [op["frr"]], "o", color="crimson", ms=8,
                label=f"threshold {op['threshold']:.2f}: {op['frr']:.1%} FRR at {op['fa_per_hour']:.2g} FA/h")
    ax.set_xscale("log")
    ax.set_xlabel(f"false accepts per hour ({curve['background_hours'] * 60:.0f} min of background; 0 drawn at {floor:.2g})")
    ax.set_ylabel("false-reject rate")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3, which="both")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def kws_det_png(results: dict[str, dict], path: Path, *, title: str) -> Path:
    """Keyword detectors side by side (DET style): false-reject rate against false accepts per hour (log axis), one
    panel per speech-to-noise ratio, one line per detector (``results``: name -> :func:`~earmark.api.evaluate_kws`
    result), each detector's operating point marked."""
    plt = _pyplot()
    first = next(iter(results.values()))["curve"]
    snrs = list(first["frr"])
    fig, axes = plt.subplots(1, len(snrs), figsize=(4.2 * len(snrs), 4.4), sharey=True, squeeze=False)
    for ax, snr in zip(axes[0], snrs):
        for k, (name, result) in enumerate(results.items()):
            curve = result["curve"]
            floor = 0.5 / curve["background_hours"]
            x = np.maximum(np.asarray(curve["fa_per_hour"], float), floor)
            line, = ax.step(x, curve["frr"][snr], where="post", lw=1.8, label=name)
            op = result.get("operating_point")
            if op:
                ax.plot([max(op["fa_per_hour"], floor)], [op["frr_by_snr"][snr]], "o", color=line.get_color(), ms=6)
        ax.axvline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_title(f"{snr} dB SNR")
        ax.set_xlabel(f"false accepts per hour ({first['background_hours']:.1f} h)")
        ax.grid(alpha=0.3, which="both")
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel("false-reject rate")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
