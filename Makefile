# Mobility — the two commands a newcomer needs: `make demo` and `make test`.
PY      ?= python3.11
VENV    ?= .venv
BIN     := $(VENV)/bin
HOST    ?= 127.0.0.1
PORT    ?= 8000
PYTEST_ARGS ?=

.PHONY: demo test test-only serve vendor migrate lint format lock check clean-db bench audit help

help:
	@echo "make demo   - set up everything and serve the demo on http://$(HOST):$(PORT)"
	@echo "make test   - install test tools (and Debian's chromium) and run the whole suite"
	@echo "make lint   - ruff, migrations check, deploy check"
	@echo "make bench  - run the benchmarks under bench/"
	@echo "make lock   - re-pin requirements/*.txt from requirements/*.in"
	@echo "make audit  - known vulnerabilities in the pinned Python and npm packages (pip-audit, npm audit)"

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.base: $(BIN)/python requirements/base.txt pyproject.toml
	$(BIN)/pip install --quiet --require-hashes -r requirements/base.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

$(VENV)/.dev: $(VENV)/.base requirements/dev.txt
	$(BIN)/pip install --quiet --require-hashes -r requirements/base.txt -r requirements/dev.txt
	@touch $@

vendor: mobility/web/static/vendor/.stamp

mobility/web/static/vendor/.stamp: package.json package-lock.json scripts/vendor.sh
	bash scripts/vendor.sh
	@touch $@

migrate: $(VENV)/.base
	$(BIN)/mobility migrate --noinput

demo: $(VENV)/.base vendor migrate
	$(BIN)/mobility collectstatic --noinput --verbosity 0
	$(BIN)/mobility demo
	$(BIN)/mobility serve --host $(HOST) --port $(PORT)

serve: $(VENV)/.base vendor
	$(BIN)/mobility serve --host $(HOST) --port $(PORT)

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium: browser tests will be skipped"; \
	  else echo "chromium not found and cannot be installed here: browser tests will be skipped"; fi; }

test: $(VENV)/.dev vendor chromium test-only

# The suite alone (CI calls it again with DATABASE_URL set for PostgreSQL).
test-only:
	bash scripts/run-pytest.sh $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check mobility tests bench scripts
	$(BIN)/ruff format --check mobility tests bench scripts
	$(BIN)/python manage.py makemigrations --check --dry-run
	MOBILITY_PRODUCTION=1 SECRET_KEY=lint-only-$$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
	  ALLOWED_HOSTS=mobility.example.org $(BIN)/python manage.py check --deploy --fail-level WARNING

format: $(VENV)/.dev
	$(BIN)/ruff format mobility tests bench
	$(BIN)/ruff check --fix mobility tests bench

lock:
	$(PY) -m pip install --quiet uv
	$(PY) -m uv pip compile --quiet --python-version 3.11 --generate-hashes requirements/base.in -o requirements/base.txt
	$(PY) -m uv pip compile --quiet --python-version 3.11 --generate-hashes requirements/dev.in -o requirements/dev.txt

# Fails on a known vulnerability; a vulnerability service that cannot be reached is a WARNING (scripts/audit.py).
audit: $(VENV)/.dev
	$(BIN)/python scripts/audit.py

bench: $(VENV)/.dev
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done
