# One venv, created on demand: `make demo` and `make test` work from a fresh clone.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

NPM_DIR := tests/connectors/fidelity/npm

.PHONY: install demo test lint typecheck unit bench fidelity soak clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,sandbox,scale]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/servefirst demo --crm both

lint: $(STAMP)
	$(BIN)/ruff check config connectors sync playbook tests bench
	$(BIN)/ruff format --check config connectors sync playbook tests bench

typecheck: $(STAMP)
	$(BIN)/mypy config connectors sync playbook tests
	MYPYPATH=bench $(BIN)/mypy bench

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

# The fidelity suite, plus clients nobody here wrote (jsforce, the Salesforce CLI and
# @hubspot/api-client from npm, pinned by package-lock.json) against fresh sandboxes.
fidelity: $(STAMP)
	@if command -v npm >/dev/null 2>&1; then \
		[ $(NPM_DIR)/node_modules/.package-lock.json -nt $(NPM_DIR)/package-lock.json ] || \
		npm ci --prefix $(NPM_DIR) --no-audit --no-fund --loglevel=error; \
	else \
		echo "npm is not installed: the independent npm clients (jsforce, the Salesforce CLI, @hubspot/api-client) are skipped."; \
	fi
	$(BIN)/pytest -q tests/connectors/fidelity

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The proof of "incremental equals full" at length: SOAK_EXAMPLES per CRM, SOAK_SEED to replay.
SOAK_EXAMPLES ?= 2000
SOAK_SEED ?= $(shell date +%s)
soak: $(STAMP)
	SOAK_EXAMPLES=$(SOAK_EXAMPLES) SOAK_SEED=$(SOAK_SEED) $(BIN)/pytest -q -s -p no:logging \
		-p no:cacheprovider --timeout=0 --hypothesis-seed=$(SOAK_SEED) \
		tests/sync/proof/test_incremental_equals_full.py -k incremental_run_equals_a_full_scan

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(NPM_DIR)/node_modules
