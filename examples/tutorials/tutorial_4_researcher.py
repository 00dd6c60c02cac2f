"""
Researcher: compare front ends and heads, honestly
==================================================

You want to know which front end and which classifier to use for a few-shot task, and how the answer changes with
the number of examples, with confidence intervals and without leakage between training and test clips.

``earmark curve`` trains on 1, 2, 4, ... clips per class (several seeded draws each) and tests on held-out folds;
``earmark compare`` uses all training clips. Both embed each file once per front end (through the embedding cache)
and write a report (Markdown and HTML, with figures) and the full result as JSON. Here on the 80 demo clips, with a
4-fold split; on a data set with official folds, pass ``--folds fold``.

**The data**: the demo clips ship with earmark (80 ESC-10 clips of fold 1). For the whole benchmark,
``earmark fetch esc10 --to data/`` (ESC-10's 400 clips, official folds), ``earmark fetch fsdd --to data/`` and
``earmark fetch speech-commands --to data/`` download and check the public sets in the layout these commands read.
"""

import json
from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt

# sphinx_gallery_start_ignore
import sys as _sys  # (hidden on the page) ``sh``, from _session.py beside this file, runs a command line and shows it

_sys.path.insert(0, ".")
from _session import sh  # noqa: E402
# sphinx_gallery_end_ignore

DEMO = Path("data/demo")


work = Path("researcher")
work.mkdir(exist_ok=True)

# %%
# Learning curves of two front ends with two heads.
sh("earmark curve data/demo/train --embedders mfcc,aisfx --classifiers knn,logreg --shots 1,2,4,6 "
   "--repeats 5 --cv 4 --json researcher/curve.json --report researcher/curve -q")

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
sh("earmark compare data/demo/train --embedders mfcc,aisfx --classifiers knn,logreg,svm --cv 4 -q")
