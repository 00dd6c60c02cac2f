"""The map page in a real headless browser (Debian's chromium, driven by playwright), on real demo clips.

Set ``EARMARK_SCREENSHOTS=DIR`` to keep the screenshot (``DIR/map.png``).
"""

import csv
from pathlib import Path

import numpy as np
import pytest

from conftest import chromium_path, keep_screenshot
from earmark import api
from earmark.explore.store import Store


# the page position of a point, from the plot's own scales
_POINT_XY = """(i) => {
  const r = Bokeh.documents[0].get_model_by_name('windows');
  let plot = null;
  const find = (v) => { if (!v || plot) return; if (v.frame && v.model.renderers) { plot = v; return; }
                        for (const c of (v.child_views || [])) find(c); };
  for (const v of Object.values(Bokeh.index)) find(v);
  const d = r.data_source.data, box = plot.canvas_view.el.getBoundingClientRect();
  return [box.left + plot.frame.x_scale.compute(d.x[i]), box.top + plot.frame.y_scale.compute(d.y[i])];
}"""


def test_the_map_opens_offline_shows_every_point_plays_and_exports(demo_subset, tmp_path):
    from playwright.sync_api import sync_playwright

    chromium = chromium_path()
    store = tmp_path / "store"
    api.index(demo_subset, store, embedder="aisfx", labels=demo_subset / "metadata.csv")
    api.cluster(store, method="kmeans", k=3)
    page_path = tmp_path / "map.html"
    shown = api.map(store, page_path, color="cluster")
    html = page_path.read_text()
    assert "<script src=" not in html.replace('<script src="data:', "")  # every script inline: no CDN
    st = Store.open(store)
    loud = st.table()["level_db"] >= -60
    assert shown["points"] == int(loud.sum()) > 10

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"], headless=True)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900}, accept_downloads=True)
            errors, requests = [], []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.as_uri())
            page.wait_for_function("window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].get_model_by_name('windows')")
            page.wait_for_timeout(500)
            n = page.evaluate("Bokeh.documents[0].get_model_by_name('windows').data_source.data.x.length")
            assert n == shown["points"]
            shot = page.screenshot(path=str(tmp_path / "map.png"))
            # a click on a point selects it and starts its window's audio, a file beside the page (relative link)
            x, y = page.evaluate(_POINT_XY, 0)
            page.mouse.click(x, y)
            page.wait_for_function("window._earmarkAudio !== undefined")
            src = page.evaluate("window._earmarkAudio.src")
            assert src.startswith("file://") and Path(src.removeprefix("file://")).name in {f.name for f in demo_subset.glob("*.flac")}
            # a selection exports as the CSV 'earmark train --from-store' reads
            page.evaluate("Bokeh.documents[0].get_model_by_name('windows').data_source.selected.indices = [0, 1, 2]")
            with page.expect_download() as download:
                page.get_by_role("button", name="Export selection as CSV").click()
            saved = tmp_path / "selection.csv"
            download.value.save_as(saved)
            assert errors == []
            assert [u for u in requests if not u.startswith(("file:", "data:", "blob:"))] == []  # nothing left the machine
        finally:
            browser.close()
    rows = list(csv.DictReader(open(saved)))
    assert len(rows) == 3 and set(rows[0]) == {"file", "start_s", "end_s", "label"}
    assert all(Path(r["file"]).is_file() for r in rows)
    # the screenshot shows the points: many pixels in the clusters' colours, not a blank page
    import io

    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB")).astype(int)
    colourful = (img.max(axis=2) - img.min(axis=2)) > 60
    assert colourful.sum() > 500
    keep_screenshot(tmp_path / "map.png")


def test_map_options_are_checked(demo_subset, tmp_path):
    from earmark.errors import ParameterError

    store = tmp_path / "store"
    api.index(demo_subset, store, embedder="mfcc")
    with pytest.raises(ParameterError, match="--model MODEL --label LABEL"):
        api.map(store, tmp_path / "m.html", color="score")
    with pytest.raises(ParameterError, match="earmark cluster"):
        api.map(store, tmp_path / "m.html", color="cluster")
    shown = api.map(store, tmp_path / "t.html", projection="tsne", max_points=20, embed_audio=True)
    assert shown["points"] == 20 and (tmp_path / "t.html").read_text().count("data:audio/wav;base64,") == 20
