"""
Which classes does a model confuse?
===================================

Cross-validation on the demo clips with the defaults (aiSFX embeddings, a logistic-regression head, the clip's label
from the mean of its windows' probabilities), then the **confusion matrix** summed over the held-out folds: rows are
the true classes, columns what the model said.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import earmark

DEMO = Path("../../data/demo")

result = earmark.evaluate(DEMO / "train", cv=4)
print(f"accuracy {result['accuracy_mean']:.3f} (+- {result['accuracy_std']:.3f} over {len(result['folds'])} folds), "
      f"macro F1 {result['macro_f1_mean']:.3f}")

# %%
matrix = np.array(result["confusion_matrix"])
classes = result["classes"]
fig, ax = plt.subplots(figsize=(6.5, 5.5))
ax.imshow(matrix, cmap="Blues")
ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
ax.set_yticks(range(len(classes)), classes)
for i, j in zip(*np.nonzero(matrix)):
    ax.text(j, i, matrix[i, j], ha="center", va="center", color="white" if matrix[i, j] > matrix.max() / 2 else "black")
ax.set_xlabel("predicted")
ax.set_ylabel("true")
ax.set_title("aisfx + logreg, 4 folds of the demo clips")
fig.tight_layout()
