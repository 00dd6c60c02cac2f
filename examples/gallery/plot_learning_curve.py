"""
How many clips per class do I need?
===================================

A few-shot **learning curve**: accuracy against the number of training clips per class, each size drawn several
times with different seeds, on held-out folds. It answers "how many recordings do I need?" for *your* classes, and
it is the fair way to compare two front ends: here hand-made MFCC statistics against the aiSFX network's
embeddings, both with a logistic-regression head.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import earmark

DEMO = Path("../../data/demo")  # 80 ESC-10 clips, 8 per class, shipped with earmark's repository

curve = earmark.curve(DEMO / "train", embedders=("mfcc", "aisfx"), classifiers=("logreg",), shots=(1, 2, 4, 6),
                      repeats=5, cv=4, seed=0)

# %%
# ``summary`` holds one row per front end, head and size: the mean accuracy over folds and draws and its 95%
# confidence interval.

fig, ax = plt.subplots(figsize=(7, 4))
for embedder in ("mfcc", "aisfx"):
    rows = [r for r in curve["summary"] if r["embedder"] == embedder]
    n = np.array([r["n"] for r in rows])
    ax.plot(n, [r["accuracy_mean"] for r in rows], marker="o", label=f"{embedder} + logreg")
    ax.fill_between(n, [r["ci95_low"] for r in rows], [r["ci95_high"] for r in rows], alpha=0.2)
    print(embedder, " ".join(f"{r['n']}: {r['accuracy_mean']:.2f}" for r in rows))
ax.axhline(curve["chance"], color="grey", linestyle="--", label="chance")
ax.set_xlabel("training clips per class")
ax.set_ylabel("accuracy on held-out folds")
ax.set_ylim(0, 1)
ax.legend()
ax.set_title("ESC-10 demo clips, 4-fold cross-validation, 5 draws per size")
fig.tight_layout()

# %%
# With two clips per class the network's embeddings do better than MFCC statistics with six: the listening was
# learned from a large collection of sound effects, and only the last step is learned from yours.
