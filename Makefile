PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
LAKE ?= lake

.PHONY: run test lint floors bench clean venv

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed  ## set up and start the pipeline on sample data: dashboard, AWS endpoint, watcher on raw/ (Ctrl+C stops)
	$(BIN)/lakebox --lake $(LAKE) up

test: $(VENV)/.dev-installed  ## set up and run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(VENV)/.dev-installed  ## ruff, the import layers and the types
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

floors: $(VENV)/.dev-installed  ## prove the dependency floors: lowest allowed versions, quick suite
	scripts/check_floors.sh

bench: $(VENV)/.dev-installed  ## run the benchmarks (slow; writes tables to stdout)
	$(BIN)/python benchmarks/bench_pipeline.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
