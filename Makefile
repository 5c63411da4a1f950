# newsflow developer targets. Everything runs from the project's own files:
#   make demo   environment + local Kafka broker + worker + samples + watched inbox
#   make test   environment + lint + types + the whole test suite (starts its own broker)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KAFKA := deploy/kafka/kafka-local

.PHONY: env demo test lint typecheck unit integration broker-start broker-stop broker-status kafka-fetch eval-segment bench clean

env: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

demo: env
	$(BIN)/newsflow demo

lint: env
	$(BIN)/ruff check .

typecheck: env
	$(BIN)/mypy

unit: env
	$(BIN)/pytest tests/unit

integration: env kafka-fetch
	$(BIN)/pytest tests/integration

test: env kafka-fetch lint typecheck
	$(BIN)/pytest

kafka-fetch:
	$(KAFKA) fetch >/dev/null

broker-start:
	$(KAFKA) start

broker-stop:
	$(KAFKA) stop

broker-status:
	$(KAFKA) status

eval-segment: env
	$(BIN)/newsflow eval segment

clean:
	rm -rf var build *.egg-info .pytest_cache .mypy_cache .ruff_cache
