"""A map of a store you can listen to: a 2-D projection of its windows as one self-contained HTML page.

The projection is UMAP (umap-learn, cosine) of up to ``max_points`` windows
above the gate (a seeded sample beyond that), or t-SNE. The page is drawn
with Bokeh and saved with its JavaScript inline, so it opens from disk with
no server and no network: points coloured by label, cluster (from
``earmark cluster``) or a model's score for a class; hovering shows the
file and times; clicking a point plays its window (relative links to the
recordings, or with ``embed_audio`` the snippets themselves inside the page);
the box and lasso tools select points, and a button downloads the selection
as a CSV to label (``file,start_s,end_s,label``, the columns
``earmark train --from-store`` reads).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from earmark.errors import ParameterError, check_choice
from earmark.explore.store import Store
from earmark.fileio import atomic_write

log = logging.getLogger(__name__)

COLORS = ("label", "cluster", "score")
PROJECTIONS = ("umap", "tsne")
MAX_EMBEDDED = 500  # snippets inside the page: about 60 kB each

# Runs in the page: play the tapped window, stop at its end.
_PLAY_JS = """
const i = source.selected.indices[source.selected.indices.length - 1];
if (i === undefined) { return; }
const d = source.data;
if (window._earmarkAudio) { window._earmarkAudio.pause(); }
const a = new Audio(d.audio[i]);
window._earmarkAudio = a;
const start = d.embedded[i] ? 0 : d.start_s[i];
const end = d.embedded[i] ? Infinity : d.end_s[i];
a.addEventListener('loadedmetadata', () => { a.currentTime = start; a.play(); });
a.addEventListener('timeupdate', () => { if (a.currentTime >= end) { a.pause(); } });
"""

# Runs in the page: the selected windows as a CSV download.
_EXPORT_JS = """
const d = source.data;
const rows = [['file', 'start_s', 'end_s', 'label']];
for (const i of source.selected.indices) {
  rows.push([d.file[i], d.start_s[i].toFixed(3), d.end_s[i].toFixed(3), '']);
}
const quote = (v) => /[",\\n]/.test(String(v)) ? '"' + String(v).replace(/"/g, '""') + '"' : String(v);
const text = rows.map(r => r.map(quote).join(',')).join('\\n') + '\\n';
const link = document.createElement('a');
link.href = URL.createObjectURL(new Blob([text], {type: 'text/csv'}));
link.download = 'selection.csv';
document.body.appendChild(link);
link.click();
link.remove();
status.text = rows.length - 1 + ' windows exported to selection.csv';
"""


def project(vectors: np.ndarray, *, method: str = "umap", random_state: int = 0) -> np.ndarray:
    """2-D coordinates of unit-normalised ``vectors`` (PCA to 50 dimensions first when they have more)."""
    check_choice("projection", method, PROJECTIONS)
    x = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    if len(x) < 4:
        raise ParameterError(f"a map needs at least 4 windows above the gate; the store has {len(x)}.")
    if x.shape[1] > 50 and len(x) > 50:
        from sklearn.decomposition import PCA

        x = PCA(n_components=50, random_state=random_state).fit_transform(x)
    if method == "umap":
        import umap

        return umap.UMAP(n_neighbors=min(15, len(x) - 1), min_dist=0.1, metric="cosine", random_state=random_state,
                         n_jobs=1).fit_transform(x)
    from sklearn.manifold import TSNE

    return TSNE(n_components=2, perplexity=min(30.0, (len(x) - 1) / 3), init="pca", random_state=random_state).fit_transform(x)


def map_points(store: Store, *, color: str = "label", model=None, label: str | None = None, projection: str = "umap",
               max_points: int = 20_000, gate_db: float | None = -60.0, random_state: int = 0, check=None) -> tuple[dict, int]:
    """The map's points: 2-D coordinates of up to ``max_points`` windows above the gate (a seeded draw beyond) with
    their file, name, start_s, end_s, label and colour value; and how many windows were above the gate.
    ``check(n_points)``, if given, may refuse before the projection runs."""
    check_choice("color", color, COLORS)
    if color == "score" and (model is None or label is None):
        raise ParameterError("--color score needs --model MODEL --label LABEL: the class whose score colours the points.")
    table = store.table(("file", "start_s", "end_s", "level_db", "label"))
    n = len(table["file"])
    loud = np.ones(n, bool) if gate_db is None else table["level_db"] >= gate_db
    rows = np.flatnonzero(loud)
    if len(rows) > max_points:
        rows = np.sort(np.random.default_rng(random_state).choice(rows, max_points, replace=False))
    if check is not None:
        check(len(rows))
    vectors = store.vectors()[rows]
    xy = project(vectors, method=projection, random_state=random_state)
    values = _colour_values(store, color, rows, table, model, label)
    data = {"x": xy[:, 0], "y": xy[:, 1], "file": [str(f) for f in table["file"][rows]],
            "name": [Path(str(f)).name for f in table["file"][rows]], "start_s": table["start_s"][rows], "end_s": table["end_s"][rows],
            "label": [str(v) or "(none)" for v in table["label"][rows]], "value": values}
    return data, int(loud.sum())


def map_page(store: Store, out: Path, *, color: str = "label", model=None, label: str | None = None, projection: str = "umap",
             max_points: int = 20_000, gate_db: float | None = -60.0, embed_audio: bool = False, random_state: int = 0) -> dict:
    """Write the map page of ``store`` to ``out``; return what it shows (points, colouring, projection)."""
    def check(n_points: int) -> None:
        if embed_audio and n_points > MAX_EMBEDDED:
            raise ParameterError(f"--embed-audio puts every window's audio in the page; {n_points:,} windows is too many (at most "
                                 f"{MAX_EMBEDDED}); pass --max-points {MAX_EMBEDDED}, or leave --embed-audio out (links to the recordings).")

    data, above = map_points(store, color=color, model=model, label=label, projection=projection, max_points=max_points,
                             gate_db=gate_db, random_state=random_state, check=check)
    rows = data["file"]
    data["audio"], data["embedded"] = _audio_sources(data["file"], data["start_s"], data["end_s"], out, embed_audio)
    html = _page(data, color, title=f"{store.path.name}: {len(rows):,} windows ({store.describe_front_end()}), {projection}")
    with atomic_write(out, "w") as f:
        f.write(html)
    return {"out": str(out), "points": len(rows), "color": color, "projection": projection, "of": above}


def _colour_values(store: Store, color: str, rows: np.ndarray, table: dict, model, label) -> list:
    if color == "label":
        return [str(v) or "(none)" for v in table["label"][rows]]
    if color == "cluster":
        from earmark.explore.cluster import load_clusters

        clusters = load_clusters(store)[rows]
        return ["noise" if c == -1 else "(not clustered)" if c < -1 else f"cluster {c}" for c in clusters]
    from earmark.explore.label import window_scores

    if label not in model.classes:
        raise ParameterError(f"--label {label}: the model knows {', '.join(model.classes)}; pick one of them.")
    scores, _ = window_scores(store, model, gate_db=float("-inf"))
    return np.nan_to_num(scores[rows, model.classes.index(label)]).tolist()


def _audio_sources(files, starts, ends, out: Path, embed: bool) -> tuple[list[str], list[bool]]:
    if embed:
        from earmark.explore.pages import snippet_uri

        uris = [snippet_uri(f, s, e, pad_s=0.0) for f, s, e in zip(files, starts, ends)]
        return uris, [True] * len(uris)
    base = out.resolve().parent
    links = [Path(os.path.relpath(f, base)).as_posix() for f in files]  # relative: the page and recordings move together
    return links, [False] * len(links)


def _page(data: dict, color: str, *, title: str) -> str:
    from bokeh.embed import file_html
    from bokeh.layouts import column
    from bokeh.models import Button, ColumnDataSource, CustomJS, Div, HoverTool, TapTool
    from bokeh.plotting import figure
    from bokeh.resources import INLINE
    from bokeh.transform import factor_cmap, linear_cmap

    source = ColumnDataSource(data)
    fig = figure(title=title, width=900, height=700, tools="pan,wheel_zoom,box_select,lasso_select,tap,reset,save",
                 active_drag="box_select", output_backend="canvas")
    if color == "score":
        from bokeh.palettes import Viridis256

        fill = linear_cmap("value", Viridis256, 0.0, 1.0)
    else:
        from bokeh.palettes import Category10, Category20, Turbo256

        factors = sorted(set(data["value"]))
        palette = Category10[10] if len(factors) <= 10 else Category20[20] if len(factors) <= 20 else \
            [Turbo256[int(i)] for i in np.linspace(0, 255, len(factors))]
        fill = factor_cmap("value", list(palette)[: max(len(factors), 3)], factors)
    fig.scatter("x", "y", source=source, size=7, fill_color=fill, line_color=None, alpha=0.8, name="windows",
                legend_field="value" if color != "score" else None)
    if color != "score":
        fig.legend.location = "top_left"
        fig.legend.click_policy = "hide"
    tips = [("file", "@name"), ("time", "@start_s{0.00}-@end_s{0.00} s"), ("label", "@label")]
    fig.add_tools(HoverTool(tooltips=tips if color == "label" else [*tips, (color, "@value")]))
    fig.select_one(TapTool).callback = CustomJS(args={"source": source}, code=_PLAY_JS)
    status = Div(text="Click a point to hear it; select with the box or lasso tool, then export.")
    button = Button(label="Export selection as CSV", button_type="primary")
    button.js_on_event("button_click", CustomJS(args={"source": source, "status": status}, code=_EXPORT_JS))
    return file_html(column(fig, button, status), INLINE, title)
