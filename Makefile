# Two entry points for a fresh clone: `make repro` runs the pipeline, `make test` runs the tests.
# Both create the virtual environment in .venv on first use. `make browser` installs what the
# offline plots page and its browser test need: vega from npm (node_modules/) and Chromium;
# `make compiler` a C++ compiler for torch.compile's CPU backend (runtime.train.compile).
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: repro test lint setup browser compiler

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

repro: setup
	dvc repro

test: setup browser compiler
	python -m pytest

lint: setup
	ruff check . && ruff format --check .

# vega, vega-lite and vega-embed for `dvc plots show` offline (plots/offline.html)
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

browser: node_modules/.package-lock.json
	command -v chromium >/dev/null || { apt-get update && apt-get install -y chromium; }

compiler:
	command -v g++ >/dev/null || { apt-get update && apt-get install -y g++; }
