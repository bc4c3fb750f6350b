# One virtualenv, created on first use; every target goes through it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo movies test check lint types fmt bench bench-quick clean docs

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

## Run the main job on the embedded default (DuckDB and files, no server needed).
demo: $(STAMP)
	$(BIN)/osirisc check $(wildcard examples/*.yaml examples/*.osiris) examples/quickstart/pipeline.yaml examples/movies/pipeline.yaml
	$(BIN)/osirisc run examples/quickstart/pipeline.yaml

## The movies example against the local servers: seed MariaDB, then MySQL -> DuckDB -> PostgreSQL.
movies: $(STAMP)
	mariadb -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS movies"
	mariadb -h 127.0.0.1 -u root movies < examples/movies/seed.sql
	$(BIN)/osirisc run examples/movies/pipeline.yaml

## The whole test suite (CI runs this).
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check osiris tests bench
	$(BIN)/ruff format --check osiris tests bench
	$(BIN)/lint-imports --no-cache

types: $(STAMP)
	$(BIN)/mypy

check: lint types test

fmt: $(STAMP)
	$(BIN)/ruff format osiris tests bench
	$(BIN)/ruff check --fix osiris tests bench

docs: $(STAMP)
	$(BIN)/python -m osiris.ir.catalogue > docs/diagnostics.md

## Benchmarks (bench/README.md); e.g. make bench BENCH_ARGS="--write-readme" to refresh its results table.
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) build runs .pytest_cache .mypy_cache .ruff_cache
