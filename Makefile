# The two commands of the README: `make demo` and `make test`. Both set everything up first.
# `make test` runs the checks of `make lint` (ruff, mypy, the import contracts) before pytest.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test lint bench system-deps clean

$(BIN)/communectl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

system-deps:
	@bash deploy/system-deps.sh

demo: $(BIN)/communectl
	$(BIN)/communectl run --demo

# All three run even when one fails, so that one run reports everything.
lint: $(BIN)/communectl
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/mypy || status=1; \
	$(BIN)/lint-imports || status=1; \
	exit $$status

test: system-deps $(BIN)/communectl lint
	$(BIN)/python -m pytest

bench: $(BIN)/communectl
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) communectl-data .pytest_cache .mypy_cache .ruff_cache
