# HireMate: `make run` to use it, `make test` to prove it. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test test-quick lint bench bench-scale clean venv dev

AXE_VERSION := 4.14.1
AXE := $(VENV)/npm/node_modules/axe-core/axe.min.js

venv: $(VENV)/.runtime-installed
dev: $(VENV)/.dev-installed $(AXE)

$(VENV)/.runtime-installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.runtime-installed
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# axe-core, the accessibility checker the browser tests inject into pages
# (from npm's registry, pinned; kept inside the venv folder, so `make clean` drops it).
$(AXE):
	npm install --silent --no-audit --no-fund --no-save --prefix $(VENV)/npm axe-core@$(AXE_VERSION)
	@test -f $@

## Start the embedded store, the ingest server and the recruiter app with demo data.
run: venv
	$(PY) -m hiremate.ops.launcher

## The whole suite: lint, unit, protocol, pages, faults, end-to-end in Chromium.
test: dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q -n 2 --dist loadfile -m "not e2e"
	$(VENV)/bin/pytest -q -m e2e

## The everyday loop: everything but the slow and browser tests.
test-quick: dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q -n 2 --dist loadfile -m "not slow and not e2e"

lint: dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## Every benchmark, bounded under 10 minutes; writes bench/README.md.
bench: dev
	$(PY) -m bench.run

## 100,000 attempts in one organisation (about 3 million events): pages and recompute; under 30 minutes.
## Writes bench/scale.json and its part of bench/README.md, which `make bench` keeps.
bench-scale: dev
	$(PY) -m bench.bench_scale

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis test-artifacts
