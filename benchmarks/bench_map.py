"""The map page of ESC-10 (issue 12): built, opened in headless Chromium (Debian's), screenshot kept.

    python benchmarks/bench_map.py --work DIR [--png benchmarks/figures/map_esc10.png]

Indexes ESC-10 with aisfx (with its labels) unless DIR already holds that
store, writes the map coloured by label, and times it; then opens it in a
real headless Chromium with the network watched, and prints the page's
console errors, any request that left the machine, and the number of points
the page holds.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from _common import data_root, machine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--png", type=Path, default=Path("benchmarks/figures/map_esc10.png"))
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from earmark import api

    print(machine())
    esc = data_root() / "esc10"
    store = args.work / "esc10-aisfx"
    if not (store / "store.json").is_file():
        api.index(esc / "audio", store, embedder="aisfx", labels=esc / "metadata.csv")
    page_path = args.work / "map.html"
    t0 = time.perf_counter()
    shown = api.map(store, page_path, color="label")
    print(f"map of {shown['points']} windows ({shown['projection']}) written in {time.perf_counter() - t0:.1f} s, "
          f"{page_path.stat().st_size / 1e6:.1f} MB")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"], headless=True)
        page = browser.new_page(viewport={"width": 1000, "height": 820})
        errors, outside = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:")) else outside.append(r.url))
        t0 = time.perf_counter()
        page.goto(page_path.as_uri())
        page.wait_for_function("window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].get_model_by_name('windows')")
        loaded = time.perf_counter() - t0
        n = page.evaluate("Bokeh.documents[0].get_model_by_name('windows').data_source.data.x.length")
        args.png.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.png))
        browser.close()
    print(f"Chromium: page ready in {loaded:.2f} s, {n} points, console errors: {errors or 'none'}, "
          f"requests off the machine: {outside or 'none'}; screenshot {args.png}")


if __name__ == "__main__":
    main()
