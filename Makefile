# One venv, created on demand: `make demo` and `make test` work from a fresh clone.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck unit bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,sandbox]'
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

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
