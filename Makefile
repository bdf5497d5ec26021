# The README's two commands: `make demo` and `make test`. Each creates .venv when
# missing and installs what it needs from this repository's own pyproject.toml.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -m "not slow"

.PHONY: demo test lint unit clean lock lock-check

# uv installs what pip would, from the same pyproject.toml, in about a quarter of the time (a
# fresh clone's `make demo`: ~11 s against ~41 s); pip only fetches uv itself. Unlike pip, uv
# writes no bytecode unless asked: without it a fresh clone's first demo compiled every module
# as it imported it, one process at a time (59 s against 46 s).
$(BIN)/uv:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "releasectl needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'uv>=0.5'

export PIP_DISABLE_PIP_VERSION_CHECK := 1
# The suite and the demo start hundreds of Python processes (workers, CLI runs, the sandbox);
# where the environment turns bytecode caching off, each would compile every module it imports
# again. The caches go to __pycache__/, which git ignores.
unexport PYTHONDONTWRITEBYTECODE
# The editable install of this repository as a plain path in a .pth file: setuptools' default for a
# flat layout is an import finder whose own imports (pathlib, re, importlib.util) cost each of
# those processes 12 ms before it runs a line (26 ms against 14 ms for `python -c pass`).
INSTALL = $(BIN)/uv pip install --quiet --compile-bytecode --config-setting editable_mode=compat \
	--python $(BIN)/python

# Stamp files record what was installed; they go stale when pyproject.toml or this file changes.
$(VENV)/.installed-demo: pyproject.toml Makefile | $(BIN)/uv
	$(INSTALL) -e '.[demo]'
	@touch $@

$(VENV)/.installed-test: pyproject.toml Makefile | $(BIN)/uv
	$(INSTALL) -e '.[test,dev]'
	@touch $@ $(VENV)/.installed-demo

demo: $(VENV)/.installed-demo
	$(BIN)/releasectl demo

# The three slowest checks (10 s of CPU between them, against 3 s for the rest) run again only when
# what they read or the tools changed since they last passed: each leaves a stamp in .venv/ then.
# A fresh clone, `make clean` or a reinstall runs them all.
PRODUCT_SOURCES := $(shell find releasectl releasectl_sandbox service -name '*.py' -not -path '*/__pycache__/*')
TEMPLATES := $(wildcard infra/*.yaml)
LINT_STAMPS := $(VENV)/bandit.passed $(if $(TEMPLATES),$(VENV)/cfn-lint.passed $(VENV)/checkov.passed)

$(VENV)/bandit.passed: $(PRODUCT_SOURCES) Makefile $(VENV)/.installed-test
	$(BIN)/bandit -q -r releasectl releasectl_sandbox service -s B101,B404,B603,B607
	@touch $@

$(VENV)/cfn-lint.passed: $(TEMPLATES) Makefile $(VENV)/.installed-test
	$(BIN)/cfn-lint $(TEMPLATES)
	@touch $@

$(VENV)/checkov.passed: $(TEMPLATES) scripts/checkov.sh Makefile | $(VENV)/.installed-test
	PYTHON=$(PYTHON) scripts/checkov.sh
	@touch $@

lint: $(VENV)/.installed-test lock-check $(LINT_STAMPS)
	$(BIN)/ruff check releasectl releasectl_sandbox service tests benchmarks scripts
	$(BIN)/ruff format --check releasectl releasectl_sandbox service tests benchmarks scripts
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	$(BIN)/python scripts/scan-secrets.py $(VENV)/secrets-clean.json

# The pipeline installs from requirements/*.lock with `pip install --require-hashes` (buildspec.yml):
# every package pinned by version and hash, for every Python from 3.11 and every platform.
# ci.lock: the test extra, for a build that runs the tests; release.lock: what `releasectl release` needs.
COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" --quiet
CI_LOCK_ARGS = requirements/ci.in --extra test
RELEASE_LOCK_ARGS = requirements/release.in

lock: $(VENV)/.installed-test
	$(COMPILE) $(CI_LOCK_ARGS) --output-file requirements/ci.lock
	$(COMPILE) $(RELEASE_LOCK_ARGS) --output-file requirements/release.lock

# Current when compiling again, preferring the versions locked, changes nothing: a dependency
# added to or dropped from pyproject.toml without `make lock` fails here.
lock-check: $(VENV)/.installed-test
	@cp requirements/ci.lock $(VENV)/ci.lock.check
	@cp requirements/release.lock $(VENV)/release.lock.check
	@$(COMPILE) $(CI_LOCK_ARGS) --output-file $(VENV)/ci.lock.check
	@$(COMPILE) $(RELEASE_LOCK_ARGS) --output-file $(VENV)/release.lock.check
	@diff -u requirements/ci.lock $(VENV)/ci.lock.check && diff -u requirements/release.lock $(VENV)/release.lock.check \
		|| { echo "requirements/*.lock are not current: run make lock" >&2; exit 1; }

# Four pytest workers per core: the end-to-end tests, which start first, spend most of their time
# waiting on what they started (sandbox rollouts, the demo). With two per core all of them waited
# at once for over a minute with one core idle; with four, the other workers keep both cores busy.
TEST_WORKERS ?= $(shell echo $$(( $$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1) * 4 )))

# The suite's temporary files in RAM where /dev/shm allows it (scripts/test-tmpdir.sh says when).
unit: $(VENV)/.installed-test
	TMPDIR="$$(scripts/test-tmpdir.sh)" $(BIN)/python -m pytest -n $(TEST_WORKERS) -p tests.image.report $(PYTEST_ARGS)

# Lint and the tests at once: while the sandbox's rollouts wait on real time the workers leave
# part of both cores idle, and lint (about 30 s of one core) fills it. Each prints its output
# when it ends (-O), so the two never interleave; either failing fails the target.
test:
	@$(MAKE) --no-print-directory -j2 -Otarget lint unit

clean:
	rm -rf $(VENV) .venv-checkov .pytest_cache .mypy_cache .ruff_cache .hypothesis
