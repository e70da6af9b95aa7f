# Consentry — `make run` and `make test` work on a fresh machine; see README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
INFRA  := $(PY) deploy/local/infra.py
STATE  := deploy/local/.state
MEMBERS := pyproject.toml uv.lock shared/pyproject.toml cli/pyproject.toml \
           services/ingest/pyproject.toml services/rights/pyproject.toml services/ledger/pyproject.toml

.PHONY: help install run test test-unit lint browser infra-up infra-down infra-status infra-env kafka-up kafka-down \
        kafka-fresh pg-up pg-down bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## Set everything up (uv, Python packages, the `consentry` CLI); idempotent

$(VENV)/.installed: $(MEMBERS)
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
	uv sync --frozen --all-packages
	@touch $@

run: install ## Start everything on the embedded default, import the sample registry, submit the sample manifest
	$(VENV)/bin/consentry up --with-sample

test: install infra-up browser ## Start real Apache Kafka + PostgreSQL and run the whole suite
	set -a && source $(STATE)/env && set +a && $(VENV)/bin/pytest

test-unit: install ## Only the fast tests (no infrastructure)
	$(VENV)/bin/pytest tests/unit tests/service

browser: ## Debian's Chromium for the HTML report test (skipped, and said so, where it cannot be installed)
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } || \
	  echo "chromium not installed: tests/unit/test_cli_reports.py will skip its browser check"

lint: install ## ruff + mypy (strict)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared services/ingest services/rights services/ledger cli

infra-up: install ## Start Apache Kafka 4.1 (KRaft) + PostgreSQL 18 on this machine, no Docker; idempotent
	$(INFRA) all start

infra-down: ## Stop them
	@if [ -x $(PY) ]; then $(INFRA) all stop; fi

infra-status: install ## Are they running, and where
	$(INFRA) all status

infra-env: install ## Print their addresses: eval "$$(make -s infra-env)"
	@$(INFRA) env

kafka-up: install
	$(INFRA) kafka start

kafka-down:
	@if [ -x $(PY) ]; then $(INFRA) kafka stop; fi

kafka-fresh: install ## Restart Kafka on an empty data directory
	$(INFRA) kafka stop
	$(INFRA) kafka start --fresh

pg-up: install
	$(INFRA) postgres start

pg-down:
	@if [ -x $(PY) ]; then $(INFRA) postgres stop; fi

bench: install ## Run the benchmarks (they print their numbers and a reference)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean: infra-down ## Stop infrastructure and remove local state
	rm -rf $(STATE) .consentry
