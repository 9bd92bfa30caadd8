# Two entry points (see README): `make demo` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-runtime
PORT   ?= 8000

.PHONY: demo test lint bench postgres browser clean
OIDC_PROVIDER := tests/oidc_provider

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The demo needs only the runtime dependencies (no Spark, browser or Helm): installed with pip's progress.
$(DEMO_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -e .
	touch $(DEMO_STAMP)

## demo: seed the synthetic borough (if absent), link it, and serve on http://127.0.0.1:$(PORT) (make demo PORT=8080)
demo: $(DEMO_STAMP)
	$(BIN)/gateway demo --port $(PORT)

## test: the whole suite, SQLite and PostgreSQL
test: $(STAMP) postgres browser $(OIDC_PROVIDER)/node_modules/.package-lock.json
	$(BIN)/ruff check gateway audit tests benchmarks
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -n 2 --dist loadfile

## postgres: start the local PostgreSQL cluster if it is installed and not running
postgres:
	@if command -v pg_ctlcluster >/dev/null 2>&1; then \
	  if ! pg_isready -q -h 127.0.0.1 -p 5432; then \
	    echo "starting local PostgreSQL"; \
	    pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -n 1) main start; \
	    for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	  fi; \
	else echo "PostgreSQL is not installed here: its tests will be skipped"; fi

## browser: Debian's Chromium for the browser tests (Playwright's own browser download does not work here)
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get install -y -qq --no-install-recommends chromium \
	    || { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium; }; \
	fi

## the certified OpenID provider the sign-in tests run (node-oidc-provider, from its lock file)
$(OIDC_PROVIDER)/node_modules/.package-lock.json: $(OIDC_PROVIDER)/package-lock.json
	npm ci --prefix $(OIDC_PROVIDER) --no-audit --no-fund

lint: $(STAMP)
	$(BIN)/ruff check gateway audit tests benchmarks
	$(BIN)/ruff format --check gateway audit tests benchmarks

## bench: every benchmark (long: the largest boroughs take a while), then one report with each figure
## next to its goal in benchmarks/results/summary.md; a benchmark that fails does not stop the others
BENCHMARKS := seed linkage policy audit_log flags aggregates extracts load
bench: $(STAMP) postgres
	@failed=""; for b in $(BENCHMARKS); do \
	  echo "== benchmarks/$$b.py"; $(BIN)/python benchmarks/$$b.py || failed="$$failed $$b"; \
	done; \
	$(BIN)/python benchmarks/report.py; \
	if [ -n "$$failed" ]; then echo "benchmarks that failed:$$failed"; exit 1; fi

clean:
	rm -rf var .pytest_cache .ruff_cache $(OIDC_PROVIDER)/node_modules
