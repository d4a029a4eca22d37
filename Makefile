# Fresh machine: `make run` starts the server on SQLite + ./.gristmill; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint install install-dev install-bench bench-upload bench-ingest bench-datapoints bench-evaluate bench-run bench-export bench-viewer clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# llama-cpp-python compiles llama.cpp: GGML_NATIVE=OFF builds for a baseline x86-64 with
# AVX2, not for every instruction the build machine reports (AMX faults in some VMs)
LLAMA_CMAKE := CMAKE_ARGS="-DGGML_NATIVE=OFF"

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(LLAMA_CMAKE) $(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/gristmill serve

lint: install-dev
	$(BIN)/ruff check
	$(BIN)/mypy

test: install-dev lint
	$(BIN)/pytest -q

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(LLAMA_CMAKE) $(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@ $(VENV)/.installed-dev $(VENV)/.installed

install-bench: $(VENV)/.installed-bench

bench-upload: install-bench
	$(BIN)/python bench/upload.py

bench-ingest: install-bench
	$(BIN)/python bench/ingest.py

bench-datapoints: install-bench
	$(BIN)/python bench/datapoints.py

bench-evaluate: install-bench
	$(BIN)/python bench/evaluate.py

bench-run: install-bench
	$(BIN)/python bench/run.py

bench-export: install-bench
	$(BIN)/python bench/export.py

bench-viewer: install-bench
	$(BIN)/python bench/viewer.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
