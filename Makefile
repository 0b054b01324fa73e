# The README's commands. Each installs what it needs (a .venv with shipyard) on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-aws test lint bench install clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	@scripts/bootstrap.sh "$(PYTHON)" "$(VENV)"
	@touch $(STAMP)

install: $(STAMP)

## demo: render every stack offline, then run dev on this machine behind HAProxy
demo: $(STAMP)
	@scripts/need.sh haproxy haproxy "the local platform runs services behind HAProxy"
	@$(BIN)/shipyard stacks render --check
	@$(BIN)/shipyard demo

## demo-aws: the demo's story on the AWS platform, against the AWS harness (moto server, HAProxy)
demo-aws: $(STAMP)
	@scripts/need.sh haproxy haproxy "the AWS harness plays the ALB with HAProxy"
	@$(BIN)/shipyard stacks render --check
	@PYTHONPATH="$(CURDIR)" $(BIN)/python -m aws_harness demo

## test: the whole test suite (pytest exits 5 when it collects nothing: that fails too)
test: $(STAMP)
	@scripts/need.sh haproxy haproxy "the local platform's tests run real HAProxy"
	@scripts/need.sh chromium chromium "the parity HTML report is checked in headless Chromium"
	@scripts/vendor-mermaid.sh
	@$(BIN)/shipyard stacks render --check
	@$(BIN)/shipyard docs environments --check
	$(BIN)/python -m pytest --cov=shipyard --cov=components --cov=parity --cov=rollout --cov=smoke --cov-report=term:skip-covered

## lint: ruff, strict mypy, and parliament on the IAM policies in docs/iam (offline)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python scripts/audit_iam.py docs/iam/*.json

## bench: measured figures (never asserted by tests; each also runs with --quick in the tests)
bench: $(STAMP)
	@scripts/need.sh haproxy haproxy "the local platform's benchmarks run real HAProxy"
	@set -e; for bench in benchmarks/*.py; do echo "== $$bench"; $(BIN)/python $$bench $(BENCH_ARGS); done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
