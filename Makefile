# The two commands of the README. Both create .venv when missing, install what they need once
# (a stamp file re-runs the install only when pyproject.toml or constraints.txt change), then run.
VENV      ?= .venv
PYTHON    ?= python3
BIN       := $(VENV)/bin
PIP       := $(BIN)/python -m pip
export PATH := $(abspath $(BIN)):$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: demo test install install-dev lint bench clean-data

demo: install ## run the whole pipeline (dvc repro) on the embedded synthetic data set
	@git rev-parse HEAD >/dev/null 2>&1 || { echo "make demo needs a git repository with at least one commit (DVC requires it)"; exit 1; }
	$(BIN)/dvc repro
	@echo "Done. Outputs: data/ (tracks, overlays, features), models/, reports/."

test: install-dev ## run the test suite
	$(BIN)/python -m pytest -q

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install -q -c constraints.txt -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install -q -c constraints.txt -e ".[dev]"
	@touch $(VENV)/.installed $@

lint: install-dev
	$(BIN)/ruff check lang2motion pipeline benchmarks tests

bench: install ## speed benchmarks; figures land in reports/
	$(BIN)/python benchmarks/run_all.py

clean-data: ## remove generated data, models and reports (DVC cache stays)
	rm -rf data models dvclive reports/*.json reports/*.md reports/*.png
