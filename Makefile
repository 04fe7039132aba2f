# The two commands of the README: `make up` (install + run the platform), `make test` (install + run every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: up test install bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

up: $(BIN)/.installed
	$(BIN)/hokusai up

test: $(BIN)/.installed
	$(BIN)/python -m pytest

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/startup.py
