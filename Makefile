# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench dpia fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: the real bot when TELEGRAM_BOT_TOKEN is set (env or .env), else the terminal sandbox
run: $(STAMP)
	@if [ -n "$$TELEGRAM_BOT_TOKEN" ] || grep -qs '^TELEGRAM_BOT_TOKEN=.' .env; then \
		grep -qs '^SECRET_KEY=' .env || [ -n "$$SECRET_KEY" ] || $(BIN)/forum-anak init; \
		$(BIN)/forum-anak run; \
	else \
		$(BIN)/forum-anak sandbox; \
	fi

## test: lint and the whole suite (PostgreSQL tests run when the server is reachable; required with CI=true)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/forum-anak content check
	$(BIN)/python -m pytest -p no:cacheprovider

## fuzz: thousands of random updates through the real bot (FUZZ_EXAMPLES=3000 by default here; CI runs 200)
FUZZ_EXAMPLES ?= 3000
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -p no:cacheprovider -s -q tests/e2e/test_fuzz.py

lint: $(STAMP)
	$(BIN)/ruff check .

## bench: throughput and aggregation benchmarks (prints figures, asserts nothing); helper
## processes the benchmarks start (benchmarks/*_process.py) are not benchmarks themselves
bench: $(STAMP)
	@for b in benchmarks/*.py; do \
		case $$b in */__init__.py|*_process.py) continue;; esac; \
		echo "== $$b"; $(BIN)/python $$b || exit 1; \
	done

## dpia: regenerate docs/dpia.md from the models and docs/dpia/ (a test fails when it is stale)
dpia: $(STAMP)
	$(BIN)/python -m docs.dpia

clean:
	rm -rf $(VENV) build *.egg-info
