# Two commands do everything on a fresh machine (see README.md):
#   make book   build the HTML book into _build/html   (LTH_PROFILE=standard, every page of that profile)
#   make test   run every test: unit tests, every notebook under nbval, the pages in a browser
# Both create (or reuse) the virtual environment and link or fetch the data first.
#   make slides reveal.js slides of every chapter into _build/slides (seconds; no data, no run)
#   make colab  the unit tests that need no data, under Colab's Python and ipywidgets (.venv-colab)

VENV    ?= .venv
PY      := $(VENV)/bin/python
SHARED  ?= ../shared/data
STAMP   := $(VENV)/.installed
# -W: unknown docs/refs and missing citation keys fail the build
JBFLAGS  ?= -W --keep-going
CHROMIUM ?= /usr/bin/chromium
JUPYTER_BOOK ?= $(VENV)/bin/jupyter-book

.PHONY: book test env data results bench clean browser pages vendor slides colab

env: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

# Offline machines: link the real dataset files from ../shared/data (see its README).
# MNIST/Fashion-MNIST: the .gz files are linked one by one so torchvision can extract beside them.
data:
	@mkdir -p data/results
	@if [ -d "$(SHARED)" ]; then \
	  for d in MNIST FashionMNIST; do \
	    if [ -d "$(SHARED)/$$d/raw" ]; then mkdir -p data/$$d/raw; \
	      for f in "$(SHARED)/$$d/raw/"*.gz; do ln -sf "$$(cd "$$(dirname "$$f")" && pwd)/$$(basename "$$f")" data/$$d/raw/; done; fi; \
	  done; \
	  if [ -d "$(SHARED)/cifar-10-batches-py" ]; then ln -sfn "$$(cd "$(SHARED)/cifar-10-batches-py" && pwd)" data/cifar-10-batches-py; fi; \
	  echo "data: linked the offline datasets from $(SHARED)"; \
	else echo "data: no $(SHARED); torchvision will download into data/ on first use"; fi

# tools/build_book.sh records the profile in _build/.profile and rebuilds every page (--all) when the
# pages were built for another one (e.g. quick pages left by `make test`); no progress bars on pages.
book: env data
	JUPYTER_BOOK="$(JUPYTER_BOOK)" tools/build_book.sh $${LTH_PROFILE:-standard} $(JBFLAGS)
	@echo "book: open _build/html/index.html"

# Headless Chromium for tests/test_pages.py (Playwright drives it; never `playwright install`).
browser:
	@test -x "$(CHROMIUM)" || { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser: $(CHROMIUM) missing: sudo apt-get install -y chromium (or set CHROMIUM)"; exit 1; fi; }

# One thread per process: the page build (tests/conftest.py starts it in the background) and the
# notebooks under nbval run side by side on two cores.
test: env data browser
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} LTH_PROFILE=$${LTH_PROFILE:-quick} JBFLAGS="$(JBFLAGS)" CHROMIUM="$(CHROMIUM)" $(PY) -m pytest -p no:cacheprovider -q tests book --nbval-lax $(PYTESTFLAGS)

# Only the page checks; builds _build/html first (tools/build_book.sh) if missing, stale or of
# another profile.
pages: env data browser
	LTH_PROFILE=$${LTH_PROFILE:-quick} JBFLAGS="$(JBFLAGS)" CHROMIUM="$(CHROMIUM)" $(PY) -m pytest -p no:cacheprovider -q tests/test_pages.py

# Slides for each chapter with Jupyter's own tool (`jupyter nbconvert --to slides`; the cells'
# slide tags come from `python tools/slides.py --write`), with no execution: each chapter as
# `make book` last executed it (_build/jupyter_execute/book, with its figures and glued numbers)
# when that copy is not older than the chapter, else as committed (no outputs). SLIDES_FROM=book
# takes every chapter as committed; SLIDES_FROM=DIR the notebooks in DIR.
SLIDES_FROM ?=
slides: env
	$(PY) tools/slides.py --build $(if $(SLIDES_FROM),$(SLIDES_FROM)/[0-9][0-9]_*.ipynb)

# Colab's Python and ipywidgets (googlecolab/backend-info, 2026-08-19: Python 3.13, ipywidgets
# 7.7.1, ipykernel 6) in a second virtual environment: torch from the registry (about 5 GB with
# its CUDA libraries), the package as the setup cell installs it, and the unit tests that need no
# data plus every widget panel under ipywidgets 7 and 8. Needs that interpreter: pyenv's 3.13 if
# pyenv has one, else python3.13 on the PATH, or COLAB_PYTHON=/path/to/python3.13.
COLAB_PYTHON ?= $(shell PYENV_VERSION=3.13 pyenv which python3.13 2>/dev/null || echo python3.13)
COLAB_VENV   ?= .venv-colab
COLAB_TESTS  ?= tests/test_masks.py tests/test_models.py tests/test_pruning.py tests/test_records.py \
                tests/test_claims.py tests/test_layout.py tests/test_widgets_versions.py
colab:
	@$(COLAB_PYTHON) -c "import sys; assert sys.version_info[:2] == (3, 13)" 2>/dev/null || { \
	  echo "colab: $(COLAB_PYTHON) is not Python 3.13, Colab's: install it (pyenv install 3.13," \
	  "uv python install 3.13) or set COLAB_PYTHON"; exit 1; }
	test -x $(COLAB_VENV)/bin/python || $(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install -q "torch>=2.1" "torchvision>=0.16" "ipywidgets==7.7.1" \
	  "ipykernel>=6,<7" "pytest>=7.4"
	$(COLAB_VENV)/bin/python -m pip install -q -e .
	$(COLAB_VENV)/bin/python -c "import sys, ipywidgets, lth_utils; print('colab: Python', \
	  sys.version.split()[0], '· ipywidgets', ipywidgets.__version__)"
	OMP_NUM_THREADS=1 $(COLAB_VENV)/bin/python -m pytest -p no:cacheprovider -q $(COLAB_TESTS)

# Re-vendor require.js, the widget manager and MathJax into book/_vendor (needs npm); commit the result.
vendor:
	bash tools/vendor_js.sh

# The experiment records the book reads (data/results/), recomputed only if missing or stale.
results: env data
	$(PY) -m lth_utils study lenet-mnist --profile $${LTH_PROFILE:-standard}

bench: env data
	$(PY) -m lth_utils bench

clean:
	rm -rf _build
