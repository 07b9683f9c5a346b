# Everything installs into .venv from the project's own files: `make test` on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DB ?= sqlite:///$(CURDIR)/var/demo.db

.PHONY: install demo test check format bench bench-docs clean

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

## make check: formatting, lint, types and import contracts; it never rewrites a file
check: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

## make format: rewrite files in the project's style
format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

## make bench: benchmarks that print their figures, in one run
bench: $(STAMP)
	$(BIN)/python bench/run_all.py

## make bench-docs: the same, and the output written into docs/benchmarks.md
bench-docs: $(STAMP)
	$(BIN)/python bench/run_all.py --update-docs

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
