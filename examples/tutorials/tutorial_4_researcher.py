"""
Researcher: compare front ends and heads, honestly
==================================================

You want to know which front end and which classifier to use for a few-shot task, and how the answer changes with
the number of examples, with confidence intervals and without leakage between training and test clips.

``earmark curve`` trains on 1, 2, 4, ... clips per class (several seeded draws each) and tests on held-out folds;
``earmark compare`` uses all training clips. Both embed each file once per front end (through the embedding cache)
and write a report (Markdown and HTML, with figures) and the full result as JSON. Here on the 80 demo clips, with a
4-fold split; on a data set with official folds, pass ``--folds fold``.
"""

import json
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt

DEMO = Path("../../data/demo")
EARMARK = str(Path(sys.executable).with_name("earmark"))


def earmark(*args):
    """Run an earmark command and show what it prints."""
    print("$ earmark " + " ".join(map(str, args)))
    r = subprocess.run([EARMARK, *map(str, args)], capture_output=True, text=True)
    print(r.stdout + (r.stderr if r.returncode else ""), end="")
    assert r.returncode == 0


work = Path("researcher")
work.mkdir(exist_ok=True)

# %%
# Learning curves of two front ends with two heads.
earmark("curve", DEMO / "train", "--embedders", "mfcc,aisfx", "--classifiers", "knn,logreg", "--shots", "1,2,4,6",
        "--repeats", "5", "--cv", "4", "--json", work / "curve.json", "--report", work / "curve", "-q")

# %%
# The report's figure: mean accuracy with its 95% interval per size; chance dashed.
figure = sorted((work / "curve").glob("*.png"))[0]
fig, ax = plt.subplots(figsize=(10, 5.2))
ax.imshow(mpimg.imread(figure))
ax.axis("off")
fig.tight_layout()

# %%
# Every single run is in the JSON, for your own statistics:
curve = json.loads((work / "curve.json").read_text())
print(len(curve["runs"]), "runs; protocol:", curve["protocol"])

# %%
# All training clips, every front end with every head:
earmark("compare", DEMO / "train", "--embedders", "mfcc,aisfx", "--classifiers", "knn,logreg,svm", "--cv", "4", "-q")
