# Two commands do everything on a fresh machine (see README.md):
#   make book   build the HTML book into _build/html   (LTH_PROFILE=standard, every page of that profile)
#   make test   run every test: unit tests, every notebook under nbval, the pages in a browser
# Both create (or reuse) the virtual environment and link or fetch the data first.

VENV    ?= .venv
PY      := $(VENV)/bin/python
SHARED  ?= ../shared/data
STAMP   := $(VENV)/.installed
# -W: unknown docs/refs and missing citation keys fail the build
JBFLAGS  ?= -W --keep-going
CHROMIUM ?= /usr/bin/chromium
JUPYTER_BOOK ?= $(VENV)/bin/jupyter-book

.PHONY: book test env data results bench clean browser pages vendor

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
