# Two commands for a new user: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
JOBS ?= 2

.PHONY: demo test lint format install clean bench test-tools

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/trainforge train --config examples/digits.yaml --output demo_runs/digits --overwrite

lint: $(STAMP)
	$(BIN)/ruff check trainforge tests benchmarks *.py
	$(BIN)/ruff format --check trainforge tests benchmarks *.py
	$(BIN)/mypy
	$(BIN)/lint-imports

test-tools:
	@bash scripts/test-tools.sh

test: lint test-tools
	$(BIN)/pytest -n $(JOBS) -q

format: $(STAMP)
	$(BIN)/ruff format trainforge tests benchmarks *.py
	$(BIN)/ruff check --fix trainforge tests benchmarks *.py

clean:
	rm -rf $(VENV) demo_runs .pytest_cache .mypy_cache .ruff_cache
