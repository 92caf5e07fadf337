# The two commands of the README. Both create .venv when missing, install what they need once
# (a stamp file re-runs the install only when pyproject.toml or constraints.txt change), then run.
VENV      ?= .venv
PYTHON    ?= python3
BIN       := $(VENV)/bin
PIP       := $(BIN)/python -m pip
export PATH := $(abspath $(BIN)):$(PATH)
export DVC_NO_ANALYTICS := 1
# stage commands (sh pipeline/python.sh) use this interpreter, also in dvc exp queue workers
export LANG2MOTION_PYTHON := $(abspath $(BIN))/python

.PHONY: demo test test-fast install install-dev lint deps params bench report ablations clean-data

demo: install ## run the whole pipeline (dvc repro) on the embedded synthetic data set
	@git rev-parse HEAD >/dev/null 2>&1 || { echo "make demo needs a git repository with at least one commit (DVC requires it)"; exit 1; }
	$(BIN)/dvc repro
	@echo "Done. Outputs: data/ (tracks, overlays, features), models/, reports/."

test: install-dev ## lint, then every test (unit tests and the end-to-end DVC runs)
	$(BIN)/ruff check lang2motion pipeline benchmarks tests
	$(BIN)/python -m pytest -q

test-fast: install-dev ## every test but the end-to-end DVC runs (marked slow): under a minute
	$(BIN)/python -m pytest -q -m "not slow"

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

lint: install-dev ## ruff: pycodestyle, pyflakes, import order, bugbear, pyupgrade
	$(BIN)/ruff check lang2motion pipeline benchmarks tests

deps: install ## rewrite dvc.yaml's code deps (each script's imports) and params (lang2motion/config.py)
	$(BIN)/python -m lang2motion.codedeps --update dvc.yaml

params: install ## regenerate params.yaml and dvc.yaml's params from lang2motion/config.py
	$(BIN)/python -m lang2motion.config --write params.yaml
	$(BIN)/python -m lang2motion.codedeps --update dvc.yaml

report: install ## dvc exp show -> reports/experiments.json, then dvc repro report (reports/report.md)
	$(BIN)/lang2motion report

ablations: install ## every configuration of the paper's Tables 4-7 as a DVC experiment, then the report
	$(BIN)/lang2motion ablations --queue
	$(BIN)/dvc queue start --jobs 1
	@while $(BIN)/dvc queue status 2>/dev/null | grep -qE "Queued|Running"; do sleep 30; done
	$(BIN)/dvc queue status
	$(MAKE) report

bench: install ## speed benchmarks; figures land in reports/
	$(BIN)/python benchmarks/run_all.py

clean-data: ## remove generated data and models, and untracked files under reports/ and dvclive/
	rm -rf data models generated
	git clean -fdxq -- reports dvclive   # files git tracks (the committed baseline) stay
