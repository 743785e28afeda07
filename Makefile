# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo demo-reset bench bench-webhook lock clean

$(STAMP): pyproject.toml requirements.lock
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The runtime dependencies exactly as the Docker image installs them (hash-checked),
	# then the package itself and its development tools.
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	$(BIN)/pip install -q -e '.[dev]'
	# Alipay's official SDK ships its own alipay/__init__.py, which would replace
	# python-alipay-sdk's: keep it in its own folder, for the gateway's client tests.
	$(BIN)/pip install -q --no-deps --target $(VENV)/opt/alipay-sdk-python 'alipay-sdk-python==3.7.1411'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

# The whole suite, every database-backed test on SQLite and on PostgreSQL.
test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

# The whole system offline: sandbox, gateway, bot, scheduler; Ctrl-C stops it.
demo: $(STAMP)
	$(BIN)/shopbot demo

demo-reset: $(STAMP)
	$(BIN)/shopbot demo --reset

bench: $(STAMP)
	$(BIN)/python -m bench.flash_sale $(BENCH_ARGS)

# One `shopbot run --webhook` worker at Telegram's 40 connections, then the same sale in-process:
# prints webhook_ratio (add --db postgresql+asyncpg://… for PostgreSQL, --json PATH to keep it).
bench-webhook: $(STAMP)
	$(BIN)/python -m bench.flash_sale --workers 1 --concurrency 40 --stock 5000 --buyers 10000 $(BENCH_ARGS)

# Pin the runtime dependencies (with hashes) after a change to pyproject.toml's dependencies.
lock: $(STAMP)
	$(BIN)/pip install -q 'uv==0.13.9'
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes --no-header -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
