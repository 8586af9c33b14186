# Two commands do all the set-up: `make demo` and `make test`.
# Both create .venv and install the pinned dependencies first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint format format-check typecheck contracts check bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Backroom Console needs Python 3.11 or newer; found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

demo: $(STAMP)
	$(BIN)/backroom demo

# Every test, on real Postgres, with a coverage report of the four packages.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --cov --cov-report=term:skip-covered

lint: $(STAMP)
	$(BIN)/ruff check .

format-check: $(STAMP)
	$(BIN)/ruff format --check .

# Rewrites the tree: the formatter, then the linter's safe fixes.
format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

# The layers and the forbidden imports in pyproject.toml's [tool.importlinter].
contracts: $(STAMP)
	$(BIN)/lint-imports

# What CI runs: the quick checks first, then the tests.
check: lint format-check typecheck contracts test

bench: $(STAMP)
	$(BIN)/python benchmarks/bookings.py
	$(BIN)/python benchmarks/identity.py
	$(BIN)/python benchmarks/realtime.py
	$(BIN)/python benchmarks/ui.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .coverage .coverage.* .import_linter_cache
