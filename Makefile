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

# axe-core, the accessibility checker the browser tests inject (tests/controller/http/browser.py):
# fetched once from npm into the venv, never loaded by the page itself.
AXE := $(VENV)/share/axe-core/axe.min.js
$(AXE): | $(BIN)/communectl
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent axe-core@4.10.3 >/dev/null && \
	tar xzf axe-core-4.10.3.tgz package/axe.min.js && cd - >/dev/null && \
	mkdir -p $(dir $@) && mv $$tmp/package/axe.min.js $@ && rm -rf $$tmp

test: system-deps $(BIN)/communectl $(AXE) lint
	$(BIN)/python -m pytest

bench: $(BIN)/communectl
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) communectl-data .pytest_cache .mypy_cache .ruff_cache
