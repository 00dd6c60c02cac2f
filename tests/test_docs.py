"""The documentation (issue 15): the site ``make docs`` built, its references complete, its tutorials run with their
output on the page, its pages rendered in chromium with their figures (screenshots kept as test artifacts), and the
docstrings' examples run as doctests."""

import doctest
import importlib
import io
import pkgutil
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest

import earmark
from conftest import chromium_path, keep_screenshot, missing

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "docs" / "_build" / "html"


@pytest.fixture(scope="module")
def site() -> Path:
    """The site ``make docs`` built (``make test`` builds it first)."""
    if not (SITE / "index.html").is_file():
        missing("docs/_build/html is missing: run 'make docs' (make test builds it before the tests)")
    return SITE


def _text(page: Path) -> str:
    return re.sub(r"<[^>]+>", " ", page.read_text())


def test_the_cli_reference_lists_every_command_and_option(site):
    import typer

    from earmark.cli import app

    page = (site / "cli.html").read_text()
    command = typer.main.get_command(app)
    for name, sub in command.commands.items():
        assert f'id="earmark-{name}"' in page, name
        for param in sub.params:
            for opt in param.opts:
                if opt.startswith("--"):
                    assert opt in page, f"{name} {opt}"


def test_the_api_reference_has_every_public_function(site):
    for name in earmark.api.__all__:
        if name[0].islower() and name not in {"build_model", "train_from_labels"}:
            assert (site / "generated" / f"earmark.api.{name}.html").is_file(), name
    page = _text(site / "generated" / "earmark.features.melspectrogram.html")
    assert "n_mels" in page and "Returns" in page and "shape=(n_mels, n_frames)" in page


def test_the_tutorials_ran_and_show_their_output(site):
    pages = {p.stem: _text(p) for p in (site / "tutorials").glob("tutorial_*.html")}
    assert len(pages) == 5
    assert "Begin Time (s)" in pages["tutorial_1_ecologist"] and "rooster" in pages["tutorial_1_ecologist"]
    assert "$ earmark export" in pages["tutorial_2_maker"] and "the C program hears" in pages["tutorial_2_maker"]
    assert re.search(r"s\s+unknown\s+\(nearest \w+ [01]\.\d\d\)\s+level", pages["tutorial_3_qa_engineer"])  # the dog, unknown live
    assert "stream ended:" in pages["tutorial_3_qa_engineer"]  # listen's summary, as a terminal shows it
    assert "$ earmark compare" in pages["tutorial_4_researcher"]
    assert "round2.csv: 20 windows labelled" in pages["tutorial_5_librarian"]
    for name, text in pages.items():
        assert "Traceback" not in text, name


def test_the_gallery_drew_its_figures(site):
    for name in ("plot_learning_curve", "plot_confusion_matrix", "plot_detection_timeline", "plot_collection_map"):
        assert (site / "auto_examples" / f"{name}.html").is_file(), name
        assert list((site / "_images").glob(f"sphx_glr_{name}_*.png")), name


class _Refs(HTMLParser):
    """The ids of a page and every address it links to or loads."""

    def __init__(self) -> None:
        super().__init__()
        self.ids, self.refs = set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.ids.update(a[k] for k in ("id", "name") if a.get(k))
        self.refs += [(tag, a[k]) for k in ("href", "src") if a.get(k)]


def test_the_site_has_no_dead_link_or_anchor_and_loads_nothing_from_elsewhere(site):
    pages = {}
    for f in site.rglob("*.html"):
        if "_static" not in f.relative_to(site).parts:  # the theme's templates, not pages
            pages[f.resolve()] = parser = _Refs()
            parser.feed(f.read_text(errors="replace"))
    assert len(pages) > 40
    dead, elsewhere = [], []
    for page, parser in pages.items():
        for tag, ref in parser.refs:
            url = urlsplit(ref)
            if url.scheme in ("http", "https") or ref.startswith("//"):
                if tag != "a":  # a link to another site is fine; loading from one is not (the site works offline)
                    elsewhere.append(f"{page.name}: {ref}")
                continue
            if url.scheme in ("mailto", "data", "javascript"):
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if not target.exists():
                dead.append(f"{page.relative_to(site.resolve())}: {ref}")
            elif url.fragment and target.suffix == ".html" and url.fragment not in pages.get(target, _Refs()).ids:
                dead.append(f"{page.relative_to(site.resolve())}: {ref}")
    assert dead == [] and elsewhere == []
    log = (site / "results.html").read_text()
    assert not re.search(r"\b[Ii]ssue \d+", _text(site / "results.html")) and log.count("<h1") == 1
    achieves = _text(site / "achieves.html")
    assert "93.5%" in achieves and "human listeners" in achieves


def test_the_docs_pages_and_a_report_render_offline_in_chromium(site, tmp_path):
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from conftest import make_demo_subset
    from earmark import api
    from earmark.evaluation.report import evaluation_report

    result = api.evaluate(make_demo_subset(tmp_path / "data"), embedder="mfcc", classifier="logreg", cv=3,
                          cache_dir=tmp_path / "cache")
    evaluation_report(result, tmp_path / "report")
    shots = {"docs_home.png": site / "index.html", "docs_gallery_detection.png": site / "auto_examples" / "plot_detection_timeline.html",
             "docs_tutorial_ecologist.png": site / "tutorials" / "tutorial_1_ecologist.html",
             "docs_achieves.png": site / "achieves.html", "report_first_screen.png": tmp_path / "report" / "report.html"}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"], headless=True)
        try:
            for png, page_path in shots.items():
                page = browser.new_page(viewport={"width": 1280, "height": 1400})
                errors, requests = [], []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("request", lambda r: requests.append(r.url))
                page.goto(page_path.as_uri())
                page.wait_for_load_state("load")
                shot = page.screenshot(path=str(tmp_path / png), full_page="gallery" in png)
                if "gallery" in png:  # the figure is on the page, loaded
                    assert page.locator("img.sphx-glr-single-img").first.evaluate("i => i.complete && i.naturalWidth") > 300
                if png.startswith("report"):  # the answer and the confusion matrix on the first screen
                    assert page.locator("b").first.inner_text().startswith("Accuracy") and page.locator("audio").count() >= 1
                    assert page.locator("img").first.evaluate("i => i.complete && i.getBoundingClientRect().top < 1400") is True
                assert errors == []
                assert [u for u in requests if not u.startswith(("file:", "data:"))] == []  # nothing fetched from elsewhere
                img = np.asarray(Image.open(io.BytesIO(shot)).convert("L"))
                assert img.std() > 20  # text and figures, not a blank page
                keep_screenshot(tmp_path / png)
                page.close()
        finally:
            browser.close()


def test_the_docstring_examples_run(monkeypatch):
    monkeypatch.chdir(REPO)  # the examples name the bundled demo clips by their path in the repository
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    ran = 0
    for info in pkgutil.walk_packages(earmark.__path__, "earmark."):
        if info.name.startswith("earmark.serve.app"):
            continue  # builds the service on import
        module = importlib.import_module(info.name)
        for test in finder.find(module, info.name, globs={"np": np, **vars(module)}):
            ran += runner.run(test, clear_globs=True).attempted
    assert runner.failures == 0 and ran >= 50
