# Two commands: `make demo` and `make test`. Each creates .venv when it is missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench conformance clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/flowtrace demo

test: $(STAMP)
	$(BIN)/ruff check flowtrace tests bench examples
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# The benchmark environment: flowtrace plus Flowno 0.1.19 from PyPI, side by side.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): pyproject.toml
	@test -x $(BENCH_VENV)/bin/python || $(PY) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e . 'flowno==0.1.19'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/run_all.py --readme bench/README.md --json bench/results.json

# The differential tester (slow, minutes; not part of `make test`): generated programs under
# Flowno 0.1.19 and flowtrace, outcomes compared. PROGRAMS=400 SEED=0 by default.
PROGRAMS ?= 400
SEED ?= 0
conformance: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/differential/run.py --programs $(PROGRAMS) --seed $(SEED)

clean:
	rm -rf $(VENV) $(BENCH_VENV) build *.egg-info
