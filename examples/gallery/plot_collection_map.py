"""
A map of a collection
=====================

``earmark index`` embeds every window of a collection into a store; nearby points on a 2-D **map** of the
embeddings (UMAP) sound alike. ``earmark map`` writes such a map as an offline page where each point plays its
sound; here we draw it with matplotlib, coloured by the labels the store was given.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import umap

from earmark import api
from earmark.explore.store import Store

DEMO = Path("../../data/demo")
store_path = Path(tempfile.mkdtemp()) / "demo-store"

report = api.index(DEMO / "train", store_path, labels=DEMO / "train" / "metadata.csv")
print(f"{len(report.added)} recordings, {report.windows} windows")

# %%
store = Store.open(store_path)
table = store.table(("file", "start_s", "level_db", "label"))
loud = table["level_db"] > -60  # leave out silent windows, as earmark search and map do
xy = umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=0).fit_transform(store.vectors()[loud])
labels = np.asarray(table["label"])[loud]

fig, ax = plt.subplots(figsize=(7.5, 6))
for i, name in enumerate(sorted(set(labels))):
    pts = xy[labels == name]
    ax.scatter(pts[:, 0], pts[:, 1], s=12, color=plt.get_cmap("tab10")(i), label=name)
ax.set_xticks([])
ax.set_yticks([])
ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
ax.set_title(f"{int(loud.sum())} windows of the demo clips, aisfx embeddings, UMAP")
fig.tight_layout()
