# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

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

lint: $(STAMP)
	$(BIN)/ruff check .

## bench: throughput and aggregation benchmarks (prints figures, asserts nothing)
bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
