# make book: build the reproducibility book into _build/html (profile quick by default)
# make test: run the test suite (unit tests + every notebook executed at profile smoke)
# make lab: JupyterLab on the notebooks, with this venv's kernel

# Oversubscribed torch threads slow down by 5x to 100x on small machines.
OMP_NUM_THREADS ?= 2
export OMP_NUM_THREADS

PY       = .venv/bin/python
PROFILE ?= quick
# notebooks executed at once; empty: one per core the process may use (build_book.py decides), each training its
# runs in its own single-threaded kernel (no worker processes)
JOBS    ?=
BOOK_FLAGS ?=
MATHJAX  = .cache/npm/node_modules/mathjax/es5/tex-chtml.js
MATHJAX_VERSION ?= 3.2.2
STAMP    = .venv/.installed

# python3.11 when on PATH, else python3 (checked to be 3.11 below).
PYTHON ?= $(shell command -v python3.11 || command -v python3)

# extra JupyterLab options, e.g. LAB_FLAGS="--port=8890 --no-browser"
LAB_FLAGS ?=

.PHONY: venv mathjax data book test lab clean

venv: $(STAMP)

# Reinstall only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv .venv
	@$(PY) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 11) else f"mmlib needs Python 3.11, .venv has {v[0]}.{v[1]}: remove .venv and set PYTHON=/path/to/python3.11")'
	$(PY) -m pip install -e '.[book,test,lab]'
	@touch $@

mathjax: $(MATHJAX)

$(MATHJAX):
	npm install --no-audit --no-fund --prefix .cache/npm mathjax@$(MATHJAX_VERSION)

# Data lookup order: $$MMLIB_DATA, then ../shared/data beside the checkout, then data/.
data: venv
	@if [ -f data_scripts/fetch.py ]; then \
		$(PY) -m data_scripts.fetch --check; \
	else \
		echo "data_scripts/fetch.py not there yet; data is looked up in \$$MMLIB_DATA, then ../shared/data, then data/"; \
	fi

book: venv mathjax data
	$(PY) book/build_book.py --profile $(PROFILE) --out _build $(if $(JOBS),--jobs $(JOBS)) $(BOOK_FLAGS)
	@echo "Open $(abspath _build/html/index.html)"

test: venv mathjax
	$(PY) -m pytest

lab: venv
	$(PY) book/lab.py $(LAB_FLAGS)

clean:
	rm -rf _build .pytest_cache
