# Two entry points for a fresh clone: `make repro` runs the pipeline, `make test` runs the tests
# (`make test-fast`: all but the end-to-end and browser ones, for the edit loop).
# Both create the virtual environment in .venv on first use. `make browser` installs what the
# offline plots page and its browser test need: vega from npm (node_modules/) and Chromium;
# `make compiler` a C++ compiler for torch.compile's CPU backend (runtime.train.compile);
# `make gpu-bundle` the wheels that benchmarks/gpu_check.py needs on a GPU machine (docs/gpu.md).
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: repro test test-fast lint setup browser compiler gpu-bundle

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

# the edit loop: every test but the end-to-end DVC runs (slow) and the headless browser pages
test-fast: setup compiler
	python -m pytest -m "not slow and not browser"

lint: setup
	ruff check . && ruff format --check .

# vega, vega-lite and vega-embed for `dvc plots show` offline (plots/offline.html)
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

browser: node_modules/.package-lock.json
	command -v chromium >/dev/null || { apt-get update && apt-get install -y chromium; }

compiler:
	command -v g++ >/dev/null || { apt-get update && apt-get install -y g++; }

# The GPU machine has Python 3.12 (x86-64, manylinux) with torch but no pydantic and no package
# index: its wheels, at the versions this venv holds, go to .whl/ (git-ignored), and the whole
# working tree that travels with the check (repo + wheels) must stay under GPU_BUNDLE_MIB.
GPU_WHEELS := pydantic pydantic-core annotated-types typing-extensions typing-inspection
GPU_BUNDLE_MIB := 60
PY312_X86 := --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
	--platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
	--platform manylinux2014_x86_64 --platform manylinux1_x86_64

gpu-bundle: setup
	rm -f .whl/*.whl
	python -m pip download --quiet --no-deps --only-binary=:all: $(PY312_X86) -d .whl \
		$$(python -c 'import sys, importlib.metadata as m; \
		print(*(f"{n}=={m.version(n)}" for n in sys.argv[1:]))' $(GPU_WHEELS))
	@bytes=$$( { git ls-files -z --cached --others --exclude-standard; \
		find .whl -type f -print0; } | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1 ); \
	echo "gpu-bundle: repo + wheels $$((bytes / 1048576)) MiB (at most $(GPU_BUNDLE_MIB))"; \
	test $$bytes -le $$(( $(GPU_BUNDLE_MIB) * 1048576 )) || \
		{ echo "gpu-bundle: repo + wheels exceed $(GPU_BUNDLE_MIB) MiB" >&2; exit 1; }
