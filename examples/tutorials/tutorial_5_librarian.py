"""
Sound librarian: explore a collection, then label it quickly
============================================================

You have a folder of unlabelled recordings. You want to find sounds like one you have, see what kinds of sound the
collection holds, and label it with as few clicks as possible, letting a model suggest what to label next.

The collection here is the 80 demo clips, their labels ignored (we use them only to play the human who answers).

**The data**: the demo clips ship with earmark; any folder of recordings will do (``earmark index`` searches it
recursively). A larger collection to try: ``earmark fetch esc50 --to data/`` (2,000 clips; non-commercial licence).
"""

import csv
import shutil
from pathlib import Path

# sphinx_gallery_start_ignore
import sys as _sys  # (hidden on the page) ``sh``, from _session.py beside this file, runs a command line and shows it

_sys.path.insert(0, ".")
from _session import sh  # noqa: E402
# sphinx_gallery_end_ignore

DEMO = Path("data/demo")


work = Path("librarian")
shutil.rmtree(work, ignore_errors=True)
work.mkdir()

# %%
# **Index** every window of every recording into a store (Parquet files; a rerun embeds only new or changed files).
sh("earmark index data/demo/train --store librarian/store -q")

# %%
# **Search**: the windows most like a recording you have (here the unseen rooster).
sh("earmark search librarian/store --like data/demo/unseen/2-100786-A-1.flac -k 5 -q")

# %%
# **Cluster**: what kinds of sound are there? Each cluster with its size and most typical windows.
sh("earmark cluster librarian/store --method kmeans -k 10 --out librarian/clusters.csv -q")

# %%
# **Label**: start with one clip of each kind you know (here: the first of each class), train, and let the model
# pick the windows it is least sure about; you fill in the ``label`` column of the CSV it writes.
truth = {str((DEMO / "train" / r["filename"]).resolve()): r["label"] for r in csv.DictReader(open(DEMO / "train" / "metadata.csv"))}
seed_dir = work / "seed"
for path, label in truth.items():
    if not (seed_dir / label).exists():
        (seed_dir / label).mkdir(parents=True)
        shutil.copy(path, seed_dir / label)
sh("earmark train librarian/seed --out librarian/round0.earmark -q")
sh("earmark label librarian/store --model librarian/round0.earmark --strategy uncertain -n 20 "
   "--out librarian/round1.csv -q")

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
sh("earmark train --from-store librarian/store --labels librarian/round1.csv --out librarian/round1.earmark -q")
sh("earmark predict librarian/round1.earmark data/demo/unseen -q")

# %%
# One round is rarely enough: the new model picks the next windows it is least sure about, leaving out those
# already labelled (``--exclude``), and the next model learns from both rounds.
sh("earmark label librarian/store --model librarian/round1.earmark -n 20 --exclude librarian/round1.csv "
   "--out librarian/round2.csv -q")
answer(work / "round2.csv")
with open(work / "labels.csv", "w") as f:
    f.write(open(work / "round1.csv").read() + "".join(open(work / "round2.csv").readlines()[1:]))
sh("earmark train --from-store librarian/store --labels librarian/labels.csv --out librarian/round2.earmark -q")
sh("earmark predict librarian/round2.earmark data/demo/unseen -q")

# %%
# Two rounds of 20 windows are not enough for every class: the rooster, with two labelled windows, is still missed.
# Labelling goes on the same way, or straight to a class: ``--strategy top --label rooster`` lists the windows the
# model finds most rooster-like, quick to confirm or correct. Windows, not whole clips, are what you label: a long
# recording holds many sounds.
#
# **Map**: ``earmark map STORE --out map.html`` writes a page (no server needed) where every window is a point and
# nearby points sound alike; hover to see a window, click to hear it, draw a box to export a selection as CSV.
sh("earmark map librarian/store --out librarian/map.html -q")
print((work / "map.html").stat().st_size > 0)
