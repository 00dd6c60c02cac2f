"""
Sound librarian: explore a collection, then label it quickly
============================================================

You have a folder of unlabelled recordings. You want to find sounds like one you have, see what kinds of sound the
collection holds, and label it with as few clicks as possible, letting a model suggest what to label next.

The collection here is the 80 demo clips, their labels ignored (we use them only to play the human who answers).
"""

import csv
import shutil
import subprocess
import sys
from pathlib import Path

DEMO = Path("../../data/demo")
EARMARK = str(Path(sys.executable).with_name("earmark"))


def earmark(*args):
    """Run an earmark command and show what it prints."""
    print("$ earmark " + " ".join(map(str, args)))
    r = subprocess.run([EARMARK, *map(str, args)], capture_output=True, text=True)
    print(r.stdout + (r.stderr if r.returncode else ""), end="")
    assert r.returncode == 0


work = Path("librarian")
shutil.rmtree(work, ignore_errors=True)
work.mkdir()

# %%
# **Index** every window of every recording into a store (Parquet files; a rerun embeds only new or changed files).
earmark("index", DEMO / "train", "--store", work / "store", "-q")

# %%
# **Search**: the windows most like a recording you have (here the unseen rooster).
earmark("search", work / "store", "--like", DEMO / "unseen" / "2-100786-A-1.flac", "-k", "5", "-q")

# %%
# **Cluster**: what kinds of sound are there? Each cluster with its size and most typical windows.
earmark("cluster", work / "store", "--method", "kmeans", "-k", "10", "--out", work / "clusters.csv", "-q")

# %%
# **Label**: start with one clip of each kind you know (here: the first of each class), train, and let the model
# pick the windows it is least sure about; you fill in the ``label`` column of the CSV it writes.
truth = {str((DEMO / "train" / r["filename"]).resolve()): r["label"] for r in csv.DictReader(open(DEMO / "train" / "metadata.csv"))}
seed_dir = work / "seed"
for path, label in truth.items():
    if not (seed_dir / label).exists():
        (seed_dir / label).mkdir(parents=True)
        shutil.copy(path, seed_dir / label)
earmark("train", seed_dir, "--out", work / "round0.earmark", "-q")
earmark("label", work / "store", "--model", work / "round0.earmark", "--strategy", "uncertain", "-n", "20",
        "--out", work / "round1.csv", "-q")

# %%
# The person labelling plays each window and types its class; here we answer from the clips' true labels.


def answer(pick: Path) -> None:
    rows = list(csv.DictReader(open(pick)))
    for row in rows:
        row["label"] = truth[str(Path(row["file"]).resolve())]
    with open(pick, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"{pick.name}: {len(rows)} windows labelled")


answer(work / "round1.csv")
print(open(work / "round1.csv").read().splitlines()[0])

# %%
# **Train from the store**: nothing is decoded again, the labelled windows' embeddings are in the store.
earmark("train", "--from-store", work / "store", "--labels", work / "round1.csv", "--out", work / "round1.earmark", "-q")
earmark("predict", work / "round1.earmark", DEMO / "unseen", "-q")

# %%
# One round is rarely enough: the new model picks the next windows it is least sure about, leaving out those
# already labelled (``--exclude``), and the next model learns from both rounds.
earmark("label", work / "store", "--model", work / "round1.earmark", "-n", "20", "--exclude", work / "round1.csv",
        "--out", work / "round2.csv", "-q")
answer(work / "round2.csv")
with open(work / "labels.csv", "w") as f:
    f.write(open(work / "round1.csv").read() + "".join(open(work / "round2.csv").readlines()[1:]))
earmark("train", "--from-store", work / "store", "--labels", work / "labels.csv", "--out", work / "round2.earmark", "-q")
earmark("predict", work / "round2.earmark", DEMO / "unseen", "-q")

# %%
# Two rounds of 20 windows are not enough for every class: the rooster, with two labelled windows, is still missed.
# Labelling goes on the same way, or straight to a class: ``--strategy top --label rooster`` lists the windows the
# model finds most rooster-like, quick to confirm or correct. Windows, not whole clips, are what you label: a long
# recording holds many sounds.
#
# **Map**: ``earmark map STORE --out map.html`` writes a page (no server needed) where every window is a point and
# nearby points sound alike; hover to see a window, click to hear it, draw a box to export a selection as CSV.
earmark("map", work / "store", "--out", work / "map.html", "-q")
print((work / "map.html").stat().st_size > 0)
