"""A small model as one C header: MFCC statistics and the head, for microcontrollers and plain C programs.

``earmark export MODEL --format c --out model.h`` takes a model on the
``mfcc`` front end with a ``logreg``, ``mlp`` or ``rf`` head and writes:

* ``model.h``: the whole classifier as static tables and functions, no
  allocation: Hann window, FFT (emlearn's ``eml_fft``), librosa's Slaney mel
  bands (``eml_sparse_filterbank``), dB with the 80-dB floor, the
  orthonormal DCT-II, the mean and standard deviation of each coefficient
  over the window, and the head with the standardisation folded in (into
  the first layer of ``mlp``, or a diagonal layer before ``logreg``: both
  run on emlearn's ``eml_net``; into the split thresholds of ``rf``, converted by emlearn).
  ``earmark_predict_proba(window, proba)`` classifies one window of
  ``EARMARK_WINDOW`` samples at ``EARMARK_SAMPLE_RATE``.
* ``model_example.c``: a program that reads raw mono float32 samples at
  that rate, gates quiet windows like earmark, averages the windows'
  probabilities and prints the class. Build it with
  ``cc -O2 -I $(python -c 'import emlearn; print(emlearn.includedir)') model_example.c -lm``.

Numbers: float32 throughout, as earmark; the classes match earmark's on
real clips (tested by compiling the program with the system compiler).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from earmark.errors import ParameterError
from earmark.fileio import atomic_write
from earmark.pipeline import Model

C_HEADS = ("logreg", "mlp", "rf")



def c_string(text: str) -> str:
    """``text`` as a C string literal: printable ASCII as is (quote and backslash escaped), every other byte of its
    UTF-8 as an octal escape, so no class name can end the literal or add code."""
    out = []
    for b in text.encode("utf-8"):
        ch = chr(b)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= b < 127 and ch != "?":  # '?' escaped too: no trigraphs under -trigraphs
            out.append(ch)
        else:
            out.append(f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def c_comment(text: str) -> str:
    """``text`` safe inside a ``/* */`` comment: printable ASCII only (others as '?'), and no ``*/`` or ``/*``."""
    safe = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    while "*/" in safe or "/*" in safe:
        safe = safe.replace("*/", "* /").replace("/*", "/ *")
    return safe

def check_c_exportable(model: Model) -> None:
    """Raise :class:`ParameterError` (with the fix) unless the model is an MFCC front end with a small head."""
    est = model.estimator
    if model.front_end.name != "mfcc":
        raise ParameterError(f"--format c takes models on the mfcc front end (cheap features a microcontroller can compute); this one "
                             f"runs on {model.front_end.name}: retrain with --embedder mfcc, or export it with --format onnx.")
    if est.export_kind != "head" or est.classifier not in C_HEADS:
        raise ParameterError(f"--format c takes the heads {', '.join(C_HEADS)}; model {model.name!r} is not one: retrain with "
                             "--classifier logreg, mlp or rf.")
    if est.is_tagger or est.calibration != "none" or est.reject != "none" or est.aggregation != "mean":
        raise ParameterError("--format c exports plain classifiers that average their windows: retrain without tags, "
                             "--calibration and --reject, with --aggregation mean.")


def _array(ctype: str, name: str, values) -> str:
    flat = np.asarray(values).ravel()
    fmt = (lambda v: f"{int(v)}") if ctype.endswith("int") or ctype.endswith("int32_t") else (lambda v: f"{float(v):.9e}f")
    body = ", ".join(fmt(v) for v in flat)
    return f"static const {ctype} {name}[{len(flat)}] = {{ {body} }};\n"


def _mel_tables(front) -> tuple[str, int]:
    from earmark.features.mel import mel_filterbank

    basis = mel_filterbank(sr=front.sample_rate, n_fft=front.n_fft, n_mels=front.n_mels)
    starts, stops, lut = [], [], []
    for row in basis:
        nz = np.flatnonzero(row)
        lo, hi = (int(nz[0]), int(nz[-1])) if len(nz) else (0, 0)
        starts.append(lo)
        stops.append(hi)
        lut.extend(row[lo : hi + 1] if len(nz) else [0.0])
    code = _array("int", "earmark_mel_starts", starts) + _array("int", "earmark_mel_stops", stops) + _array("float", "earmark_mel_lut", lut)
    return code, len(lut)


def _net_layers(est) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """The head as dense layers ``(weights (n_in, n_out), biases, activation)``, standardisation folded into the first
    (or, for logistic regression, a diagonal layer before it)."""
    scaler, clf = est.head_.steps[0][1], est.head_.steps[-1][1]
    mean, scale = scaler.mean_, scaler.scale_
    if est.classifier == "logreg":
        layers = [(clf.coef_.T.copy(), clf.intercept_.copy(), "softmax" if len(clf.classes_) > 2 else "logistic")]
    else:
        hidden = {"relu": "relu", "tanh": "tanh", "logistic": "logistic", "identity": "identity"}[clf.activation]
        acts = [hidden] * (len(clf.coefs_) - 1) + [clf.out_activation_]
        layers = [(w.copy(), b.copy(), a) for w, b, a in zip(clf.coefs_, clf.intercepts_, acts)]
    w, b, a = layers[-1]
    if a == "logistic" and w.shape[1] == 1:  # two classes: softmax([-z/2, z/2]) is sigmoid(z) for the second
        layers[-1] = (np.hstack([-w / 2, w / 2]), np.array([-b[0] / 2, b[0] / 2]), "softmax")
    if len(layers) == 1:  # eml_net runs two layers or more: the standardisation becomes a diagonal layer of its own
        return [(np.diag(1.0 / scale), -mean / scale, "identity"), *layers]
    w, b, a = layers[0]
    layers[0] = (w / scale[:, None], b - (mean / scale) @ w, a)
    return layers


def _net_code(est) -> str:
    acts = {"relu": "EmlNetActivationRelu", "tanh": "EmlNetActivationTanh", "logistic": "EmlNetActivationLogistic",
            "identity": "EmlNetActivationIdentity", "softmax": "EmlNetActivationSoftmax"}
    layers = _net_layers(est)
    code = "#include <eml_net.h>\n"
    rows = []
    for i, (w, b, a) in enumerate(layers):
        code += _array("float", f"earmark_layer{i}_weights", w) + _array("float", f"earmark_layer{i}_biases", b)
        rows.append(f"{{ {w.shape[1]}, {w.shape[0]}, earmark_layer{i}_weights, earmark_layer{i}_biases, {acts[a]} }}")
    widest = max(max(w.shape) for w, _, _ in layers)
    code += f"static float earmark_act1[{widest}];\nstatic float earmark_act2[{widest}];\n"
    code += f"static const EmlNetLayer earmark_layers[{len(layers)}] = {{ {', '.join(rows)} }};\n"
    code += f"static EmlNet earmark_net = {{ {len(layers)}, earmark_layers, earmark_act1, earmark_act2, {widest} }};\n"
    code += ("static int earmark_head(const float *features, float *proba) {\n"
             "    return eml_net_predict_proba(&earmark_net, features, EARMARK_N_FEATURES, proba, EARMARK_N_CLASSES) == EmlOk ? 0 : -1;\n"
             "}\n")
    return code


def import_emlearn():
    """``emlearn``, imported without its side effect on the whole process: its ``bayes`` module calls
    ``numpy.seterr(all="raise")`` at import, after which any underflow anywhere (an MLP's Adam step) raises."""
    saved = np.geterr()
    try:
        import emlearn
    finally:
        np.seterr(**saved)
    return emlearn


def _forest_code(est) -> str:
    emlearn = import_emlearn()

    scaler, clf = est.head_.steps[0][1], copy.deepcopy(est.head_.steps[-1][1])
    for tree in clf.estimators_:  # x_std <= t  <=>  x <= t * scale + mean: the standardisation moves into the thresholds
        node_feature, threshold = tree.tree_.feature, tree.tree_.threshold
        split = node_feature >= 0
        threshold[split] = threshold[split] * scaler.scale_[node_feature[split]] + scaler.mean_[node_feature[split]]
    code = emlearn.convert(clf, method="inline", dtype="float").save(name="earmark_rf")
    return code + ("static int earmark_head(const float *features, float *proba) {\n"
                   "    return earmark_rf_predict_proba(features, EARMARK_N_FEATURES, proba, EARMARK_N_CLASSES);\n}\n")


def header_text(model: Model) -> str:
    """The C header of ``model`` (see the module docstring)."""
    import scipy.fft

    from earmark.features.mel import _window

    check_c_exportable(model)
    front, est = model.front_end, model.estimator
    window = int(round(front.window_s * front.sample_rate))
    hop = int(round(front.hop_s * front.sample_rate))
    n_frames = 1 + window // front.hop_length  # centred frames, n_fft // 2 zeros at both ends
    if front.n_fft & (front.n_fft - 1):
        raise ParameterError(f"--format c needs a power-of-two n_fft (emlearn's FFT); the model's mfcc uses {front.n_fft}.")
    mel_code, _ = _mel_tables(front)
    dct = scipy.fft.dct(np.eye(front.n_mels), axis=0, type=2, norm="ortho")[: front.n_mfcc]  # (n_mfcc, n_mels)
    classes = ", ".join(c_string(c) for c in model.classes)
    head = _forest_code(est) if est.classifier == "rf" else _net_code(est)
    gate = "-1e30f" if model.gate_db is None else f"{float(model.gate_db):.6e}f"
    version = model.info.get("versions", {}).get("earmark", "") if isinstance(model.info.get("versions"), dict) else ""
    return f"""/* earmark model '{c_comment(model.name)}' on mfcc, exported as C (earmark {c_comment(str(version))}).
 * Classes: {c_comment(', '.join(model.classes))}.
 * Needs emlearn's headers (MIT licence): cc -I $(python -c 'import emlearn; print(emlearn.includedir)') ... -lm
 * One window: earmark_predict_proba(samples[EARMARK_WINDOW], proba[EARMARK_N_CLASSES]); call earmark_init() once first.
 */
#ifndef EARMARK_MODEL_H
#define EARMARK_MODEL_H
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <eml_fft.h>
#include <eml_audio.h>

#define EARMARK_SAMPLE_RATE {front.sample_rate}
#define EARMARK_WINDOW {window}
#define EARMARK_HOP {hop}
#define EARMARK_N_FFT {front.n_fft}
#define EARMARK_FRAME_HOP {front.hop_length}
#define EARMARK_N_FRAMES {n_frames}
#define EARMARK_N_MELS {front.n_mels}
#define EARMARK_N_MFCC {front.n_mfcc}
#define EARMARK_N_FEATURES {2 * front.n_mfcc}
#define EARMARK_N_CLASSES {len(model.classes)}
#define EARMARK_GATE_DB {gate}
#define EARMARK_NORMALIZE {1 if front.normalize else 0}

static const char *earmark_classes[EARMARK_N_CLASSES] = {{ {classes} }};
{_array("float", "earmark_hann", _window("hann", front.n_fft, front.n_fft))}{mel_code}{_array("float", "earmark_dct", dct)}
static float earmark_fft_sin[EARMARK_N_FFT / 2], earmark_fft_cos[EARMARK_N_FFT / 2];
static float earmark_re[EARMARK_N_FFT], earmark_im[EARMARK_N_FFT];
static float earmark_db[EARMARK_N_FRAMES * EARMARK_N_MELS];

{head}
/* Fill the FFT tables; once, before anything else. */
static void earmark_init(void) {{
    EmlFFT table = {{ EARMARK_N_FFT / 2, earmark_fft_sin, earmark_fft_cos }};
    eml_fft_fill(table, EARMARK_N_FFT);
}}

/* RMS level of a window in dBFS (floor -120), as earmark measures it for the gate. */
static float earmark_level_db(const float *x, int n) {{
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)x[i] * x[i];
    double ms = n > 0 ? sum / n : 0.0;
    return ms > 1e-12 ? (float)(10.0 * log10(ms)) : -120.0f;
}}

/* MFCC means then standard deviations over the window's frames (librosa's mfcc: centred frames, power, Slaney mel,
 * 10 log10 with an 80-dB floor below the window's peak, orthonormal DCT-II). */
static void earmark_features(const float *window, float *features) {{
    EmlFFT table = {{ EARMARK_N_FFT / 2, earmark_fft_sin, earmark_fft_cos }};
    float gain = 1.0f, peak = 0.0f, top = -1e30f;
    if (EARMARK_NORMALIZE) {{
        for (int i = 0; i < EARMARK_WINDOW; i++) peak = fmaxf(peak, fabsf(window[i]));
        if (peak > 0.0f) gain = 1.0f / peak;
    }}
    for (int f = 0; f < EARMARK_N_FRAMES; f++) {{
        const int start = f * EARMARK_FRAME_HOP - EARMARK_N_FFT / 2;
        for (int i = 0; i < EARMARK_N_FFT; i++) {{
            const int s = start + i;
            earmark_re[i] = (s >= 0 && s < EARMARK_WINDOW) ? window[s] * gain * earmark_hann[i] : 0.0f;
            earmark_im[i] = 0.0f;
        }}
        eml_fft_forward(table, earmark_re, earmark_im, EARMARK_N_FFT);
        for (int k = 0; k <= EARMARK_N_FFT / 2; k++) earmark_re[k] = earmark_re[k] * earmark_re[k] + earmark_im[k] * earmark_im[k];
        float *db = earmark_db + f * EARMARK_N_MELS;
        eml_sparse_filterbank(earmark_re, db, EARMARK_N_MELS, earmark_mel_starts, earmark_mel_stops, earmark_mel_lut);
        for (int m = 0; m < EARMARK_N_MELS; m++) {{
            db[m] = 10.0f * log10f(fmaxf(db[m], 1e-10f));
            top = fmaxf(top, db[m]);
        }}
    }}
    for (int i = 0; i < EARMARK_N_FRAMES * EARMARK_N_MELS; i++) earmark_db[i] = fmaxf(earmark_db[i], top - 80.0f);
    for (int c = 0; c < EARMARK_N_MFCC; c++) {{
        double sum = 0.0, sq = 0.0;
        for (int f = 0; f < EARMARK_N_FRAMES; f++) {{
            float v = 0.0f;
            for (int m = 0; m < EARMARK_N_MELS; m++) v += earmark_dct[c * EARMARK_N_MELS + m] * earmark_db[f * EARMARK_N_MELS + m];
            sum += v;
            sq += (double)v * v;
        }}
        const double mean = sum / EARMARK_N_FRAMES, var = sq / EARMARK_N_FRAMES - mean * mean;
        features[c] = (float)mean;
        features[EARMARK_N_MFCC + c] = (float)sqrt(var > 0.0 ? var : 0.0);
    }}
}}

/* Class probabilities of one window of EARMARK_WINDOW samples at EARMARK_SAMPLE_RATE; 0 on success. */
static int earmark_predict_proba(const float *window, float *proba) {{
    float features[EARMARK_N_FEATURES];
    earmark_features(window, features);
    return earmark_head(features, proba);
}}
#endif
"""


EXAMPLE = r"""/* Classify raw mono float32 samples at EARMARK_SAMPLE_RATE read from a file (or stdin with -):
 *   cc -O2 -I EMLEARN_INCLUDE -o classify model_example.c -lm && ./classify clip.f32
 * Prints one line per file: class, score, windows. Windows below EARMARK_GATE_DB are skipped (the loudest is kept when all
 * are), their probabilities averaged: earmark's own rule. With -t, also the time per window in microseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "HEADER"

int main(int argc, char **argv) {
    int timing = argc > 2 && strcmp(argv[2], "-t") == 0;
    if (argc < 2) { fprintf(stderr, "usage: %s samples.f32 [-t]\n", argv[0]); return 2; }
    FILE *f = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "rb");
    if (!f) { fprintf(stderr, "%s: cannot open\n", argv[1]); return 1; }
    size_t cap = 1 << 16, n = 0, got;
    float *x = malloc(cap * sizeof(float));
    while (x && (got = fread(x + n, sizeof(float), cap - n, f)) > 0) {
        n += got;
        if (n == cap) { cap *= 2; x = realloc(x, cap * sizeof(float)); }
    }
    if (f != stdin) fclose(f);
    if (!x) { fprintf(stderr, "out of memory\n"); return 1; }
    size_t n_windows = n >= EARMARK_WINDOW ? 1 + (n - EARMARK_WINDOW) / EARMARK_HOP : 1;
    size_t span = (n_windows - 1) * EARMARK_HOP + EARMARK_WINDOW;  /* samples past the last whole window are not used */
    float *padded = calloc(span, sizeof(float));
    if (!padded) { fprintf(stderr, "out of memory\n"); return 1; }
    memcpy(padded, x, (n < span ? n : span) * sizeof(float));
    earmark_init();
    float mean[EARMARK_N_CLASSES] = {0}, proba[EARMARK_N_CLASSES], loudest_proba[EARMARK_N_CLASSES] = {0}, loudest = -1e30f;
    int kept = 0;
    clock_t t0 = clock();
    for (size_t w = 0; w < n_windows; w++) {
        const float *win = padded + w * EARMARK_HOP;
        const float level = earmark_level_db(win, EARMARK_WINDOW);
        if (earmark_predict_proba(win, proba) != 0) { fprintf(stderr, "classification failed\n"); return 1; }
        if (level > loudest) { loudest = level; memcpy(loudest_proba, proba, sizeof proba); }
        if (level >= EARMARK_GATE_DB) { for (int c = 0; c < EARMARK_N_CLASSES; c++) mean[c] += proba[c]; kept++; }
    }
    double us = 1e6 * (double)(clock() - t0) / CLOCKS_PER_SEC / n_windows;
    if (kept == 0) { memcpy(mean, loudest_proba, sizeof mean); kept = 1; }
    int best = 0;
    for (int c = 0; c < EARMARK_N_CLASSES; c++) { mean[c] /= kept; if (mean[c] > mean[best]) best = c; }
    printf("%s,%.6f,%zu", earmark_classes[best], mean[best], n_windows);
    if (timing) printf(",%.1f", us);
    printf("\n");
    free(x);
    free(padded);
    return 0;
}
"""


def export_c(model: Model, out: Path) -> dict:
    """Write ``out`` (the header) and ``<stem>_example.c`` beside it; return what was written."""
    text = header_text(model)
    example = out.with_name(f"{out.stem}_example.c")
    with atomic_write(out, "w") as f:
        f.write(text)
    with atomic_write(example, "w") as f:
        f.write(EXAMPLE.replace("HEADER", out.name))
    return {"format": "c", "out": str(out), "bytes": out.stat().st_size, "example": str(example), "classes": model.classes,
            "sample_rate": int(model.front_end.sample_rate), "window_samples": int(round(model.front_end.window_s * model.front_end.sample_rate))}
