# syncmesh — one command per task; `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
PYTHON ?= python3
TOOLS := .tools
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
VENV := .venv
RUN := $(VENV)/bin

.PHONY: help install fmt lint typecheck imports test test-unit test-integration schema up down status check clean bench bench-sync bench-gateway bench-presence

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	@echo "bootstrapping uv $(UV_VERSION) into $(TOOLS)/ …"
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml tools/*/pyproject.toml) | $(UV)
	$(UV) sync --all-packages --group bench --group deploy --frozen --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed ## Build .venv from nothing (bootstraps uv with pip if missing)

fmt: install ## Format and auto-fix
	$(RUN)/ruff format .
	$(RUN)/ruff check --fix .

lint: install ## ruff format check + lint
	$(RUN)/ruff format --check .
	$(RUN)/ruff check .

typecheck: install ## mypy --strict over every package and test
	$(RUN)/mypy libs/schema/src libs/kit/src libs/merge/src tools/cli/src services/*/src bench

imports: install ## import-linter: services independent, schema free of server libraries
	$(RUN)/lint-imports

test-unit: install ## Tests without a NATS server
	$(RUN)/pytest -m "not integration and not e2e"

test-integration: install ## Tests against a real nats-server (started by the fixtures)
	$(RUN)/pytest -m "integration or e2e"

test: lint typecheck imports ## Lint, typecheck, import contracts and every test (real NATS included)
	$(RUN)/pytest

schema: install ## Export JSON Schemas of every wire model into docs/schema/
	$(RUN)/python -m syncmesh_schema.export docs/schema

up: install ## Run the whole stack locally (NATS + five services); Ctrl-C stops it
	$(RUN)/syncmesh up

down: install ## Stop a stack left running in the background
	$(RUN)/syncmesh down

status: install ## Table of services: URL, ready, version, uptime
	$(RUN)/syncmesh status

bench-sync: install ## Sync benchmark: intake-to-commit throughput, latency at 1,000/s (bench/results/)
	$(RUN)/python -m bench.sync --processes 1
	$(RUN)/python -m bench.sync --processes 2

bench-gateway: install ## Gateway benchmark: latency, fan-out, idle RSS vs nats-server WS and python-socketio
	$(RUN)/python -m bench.gateway

bench-presence: install ## Presence benchmark: 10,000 members joining one room
	$(RUN)/python services/presence/bench_presence.py

bench: bench-sync bench-gateway bench-presence ## Every benchmark; results as JSON in bench/results/

check: test ## Alias of test

clean: ## Remove the virtualenv, caches and local data
	rm -rf $(VENV) $(TOOLS) .data .mypy_cache .ruff_cache .pytest_cache
