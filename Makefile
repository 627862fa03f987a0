# Quick start: `make demo` then `make test`. Every target creates .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINT_PATHS := sim tests tools $(wildcard benchmarks)

.PHONY: demo test test-fast lint format bench clean venv browser proxy example lab notebooks

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Writes reports/demo/ (ignored by git): the committed example is `make example`'s.
demo: $(STAMP)
	$(BIN)/sim run scenarios/order-service.yaml --arch both --out reports/demo

# The example report committed under reports/order-service/, regenerated from the flagship.
example: $(STAMP)
	rm -rf reports/order-service
	$(BIN)/sim run scenarios/order-service.yaml --out reports/order-service --quiet

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format $(LINT_PATHS)
	$(BIN)/ruff check --fix $(LINT_PATHS)

# Everything: lint, then the whole suite, statistical and notebook tests included (CI runs this),
# spread over the machine's cores (pytest-xdist; one worker per core, idle ones steal work).
PYTEST := $(BIN)/pytest -n auto --dist worksteal
test: lint browser proxy
	$(PYTEST)

# While developing: the suite without the tests marked slow (statistics, notebooks, sweeps).
test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

# Jupyter Lab on the teaching notebooks (installs the `notebooks` extra into .venv once).
lab: $(VENV)/.notebooks
	$(BIN)/jupyter lab notebooks/

# Execute every notebook in place and save its outputs (commit them: figures show on a code host).
notebooks: $(VENV)/.notebooks
	$(BIN)/python tools/execute_notebooks.py

$(VENV)/.notebooks: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,notebooks]'
	touch $@

# The report's rendering test needs headless Chromium. Install it where we can (Debian-like,
# root); elsewhere that one test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } || \
	  echo "note: chromium not installed; the report rendering test will skip"

# `sim calibrate` / `sim validate --real` and their test measure a real L7 proxy: Envoy if on
# PATH, else haproxy (installed here where we can: Debian-like, root), else nginx; without
# one, the proxy cases are left out and the test says why.
proxy:
	@command -v envoy >/dev/null 2>&1 || command -v haproxy >/dev/null 2>&1 || \
	  [ -x /usr/sbin/haproxy ] || command -v nginx >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null) ; } || \
	  echo "note: no L7 proxy installed; the real proxy cases will skip"

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
