# Two commands: `make demo` and `make test`. Each creates .venv when it is missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-pythons soak-sigint lint typecheck coverage bench conformance clean flowno-tests

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/flowtrace demo

# lint: ruff and the import layers (pyproject.toml [tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff check flowtrace tests bench examples tools
	$(BIN)/ruff format --check flowtrace tests bench examples tools
	$(BIN)/lint-imports --no-cache

# typecheck: mypy strict over flowtrace/, tests/, bench/, examples/ and tools/
# (pyproject.toml [tool.mypy]; incremental, cached in .mypy_cache).
typecheck: $(STAMP)
	$(BIN)/mypy

# The suite under coverage (subprocesses included); fails below the floor in pyproject.toml.
coverage: $(STAMP)
	@rm -rf .coverage && mkdir -p .coverage
	$(BIN)/coverage run -m pytest -q
	@$(BIN)/coverage combine -q
	$(BIN)/coverage report

test: lint typecheck coverage

# The suite on every other Python the package claims (3.12, 3.13; `make test` runs 3.11
# or whatever PY is), each in its own venv. A missing interpreter is skipped with a line.
OTHER_PYTHONS ?= 3.12 3.13

test-pythons:
	@for v in $(OTHER_PYTHONS); do \
	  py=$$(ls -d $$(pyenv root 2>/dev/null)/versions/$$v*/bin/python$$v 2>/dev/null | tail -n 1); \
	  [ -n "$$py" ] || py=$$(command -v python$$v); \
	  if [ -z "$$py" ] || ! "$$py" -c pass 2>/dev/null; then echo "test-pythons: Python $$v not found, skipped"; continue; fi; \
	  venv=.venv-$$v; \
	  test -x $$venv/bin/python || $$py -m venv $$venv || exit 1; \
	  $$venv/bin/python -m pip install --quiet --upgrade pip || exit 1; \
	  $$venv/bin/python -m pip install --quiet -e '.[all,test]' || exit 1; \
	  echo "test-pythons: Python $$v ($$py)"; \
	  $$venv/bin/python -m pytest -q || exit 1; \
	done

# The Ctrl-C soak: SIGINT at varied moments into recorded runs (about a minute).
soak-sigint: $(STAMP)
	FLOWTRACE_SIGINT_RUNS=30 $(BIN)/python -m pytest -q tests/test_record_interrupts.py

# The benchmark environment: flowtrace plus Flowno 0.1.19 from PyPI, side by side.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): pyproject.toml
	@test -x $(BENCH_VENV)/bin/python || $(PY) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[otel,dask]' 'flowno==0.1.19'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/run_all.py --readme bench/README.md --json bench/results.json

# The differential tester (slow, minutes; not part of `make test`): generated programs under
# Flowno 0.1.19 and flowtrace, outcomes compared. PROGRAMS=400 SEED=0 by default.
PROGRAMS ?= 400
SEED ?= 0
conformance: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/differential/run.py --programs $(PROGRAMS) --seed $(SEED)

# Flowno 0.1.19's own tests (from its sdist, in a temporary directory) with their imports
# pointed at flowtrace, and the same tests against Flowno itself; prints both, side by side.
flowno-tests: $(STAMP) $(BENCH_STAMP)
	@$(BENCH_VENV)/bin/python -c 'import pytest_timeout' 2>/dev/null || \
		$(BENCH_VENV)/bin/python -m pip install --quiet pytest pytest-timeout
	$(BIN)/python tools/flowno_suite.py --flowno-python $(BENCH_VENV)/bin/python

clean:
	rm -rf $(VENV) $(BENCH_VENV) .venv-3.* build *.egg-info .coverage
