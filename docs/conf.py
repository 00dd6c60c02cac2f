"""Sphinx configuration of earmark's documentation (``make docs``; offline, warnings are errors)."""

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))  # _cli.py: the command-line reference, generated from the typer app

import earmark  # noqa: E402
from _cli import write_reference  # noqa: E402

write_reference(DOCS / "generated" / "cli-commands.rst")


def write_benchmark_log(source: Path, path: Path) -> Path:
    """``benchmarks/RESULTS.md`` for readers of the site: the same figures and commands, without the project's internal
    issue numbers, with links to report files (not part of the site) as plain paths and images found from here."""
    import re

    text = source.read_text()
    if text.startswith("# "):  # the page has its own title
        text = text.split("\n", 1)[1]
    text = re.sub(r"\s*\(issues? \d+[^)]*\)", "", text)
    for old, new in (("issue 7", "the model-contract redesign of 2026-11-24"), ("issue 9", "the tagging work"),
                     ("issue 26's", "the"), ("issue 26", "the detection work"), ("issue 4", "the detection benchmark"),
                     ("issue 30's work", "work to come")):
        text = text.replace(old, new)
    text = re.sub(r"\[([^\]]+)\]\((?!https?:)([^)]+\.md)\)", r"\1", text)  # a report file's link: its path, as text
    text = re.sub(r"(!\[[^\]]*\]\()(?!https?:)([^)]+\))", r"\1../../benchmarks/\2", text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


write_benchmark_log(ROOT / "benchmarks" / "RESULTS.md", DOCS / "generated" / "benchmark-log.md")

project = "earmark"
author = "the earmark developers"
copyright = "2026, the earmark developers"
release = version = earmark.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

# the gallery and the tutorials run at build time, on the bundled demo clips and (for two tutorials) the shared sets
os.environ.setdefault("EARMARK_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("EARMARK_CACHE_DIR", str(DOCS / "_build" / "cache"))
os.environ.setdefault("MPLBACKEND", "Agg")

sphinx_gallery_conf = {
    "examples_dirs": [str(ROOT / "examples" / "gallery"), str(ROOT / "examples" / "tutorials")],
    "gallery_dirs": ["auto_examples", "tutorials"],
    "filename_pattern": r"/(plot|tutorial)_",
    "ignore_pattern": r"(__init__|_session)\.py",  # the tutorials' shell helper is not a page
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 1,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
    "write_computation_times": False,  # its page loads jQuery and DataTables from a CDN; the site works offline
}

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False, "show-inheritance": False}
autodoc_typehints = "none"  # the numpydoc sections say the types, with shapes and units
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

myst_heading_anchors = 3
suppress_warnings = ["myst.header", "myst.xref_missing"]  # RESULTS.md is a log: its headings skip levels

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.md5", "tutorials/*.md5"]

html_theme = "pydata_sphinx_theme"
html_title = f"earmark {release}"
html_static_path = ["_static"]
html_css_files = ["earmark.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": True,
    "footer_start": ["copyright"],
    "footer_end": [],
    "icon_links": [],
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False
html_copy_source = False
