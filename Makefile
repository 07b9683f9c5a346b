# Everything installs into .venv from the project's own files: `make test` on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DB ?= sqlite:///$(CURDIR)/var/demo.db

.PHONY: install demo test check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make demo: the platform on SQLite with a seeded demo workspace
demo: $(STAMP)
	mkdir -p var
	THREADLINE_DATABASE_URL=$(DEMO_DB) $(BIN)/threadline demo

## make test: the whole suite (SQLite, then PostgreSQL when reachable)
test: $(STAMP)
	bash scripts/test.sh

## make check: formatter, linter, type checker
check: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

## make bench: benchmarks that print their figures
bench: $(STAMP)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
