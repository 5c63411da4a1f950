# newsflow developer targets. Everything runs from the project's own files:
#   make demo   environment + local Kafka broker + worker + samples + watched inbox
#   make test   environment + lint + types + the whole test suite (starts its own broker)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KAFKA := deploy/kafka/kafka-local

.PHONY: env demo test lint typecheck unit integration broker-start broker-stop broker-status kafka-fetch eval-segment bench clean promtool k8s-validate ops-check

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

test: env kafka-fetch lint typecheck promtool
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

# Prometheus configs and rules: promtool comes with Debian's prometheus package
#   apt-get update && apt-get install -y --no-install-recommends prometheus
PROMTOOL ?= $(shell command -v promtool 2>/dev/null)
PROM_DIR := deploy/prometheus

promtool:
	@if [ -z "$(PROMTOOL)" ]; then \
	  echo "make promtool: SKIPPED, promtool not found (apt-get install -y --no-install-recommends prometheus)"; \
	else \
	  set -e; cd $(PROM_DIR); \
	  $(PROMTOOL) check config prometheus.yml; \
	  $(PROMTOOL) check config prometheus.local.yml; \
	  $(PROMTOOL) check rules alerts.yml; \
	  $(PROMTOOL) test rules alerts_test.yml; \
	fi

# Kubernetes manifests against the official JSON schemas (kubernetes-validate from PyPI ships
# them; installed in its own venv under var/). The KEDA ScaledObject (a CRD) has no schema
# there: tests/unit/test_ops_k8s.py checks it structurally.
K8S_TOOLS := var/tools/k8s
KUBERNETES_VALIDATE_VERSION := 1.37.0

$(K8S_TOOLS)/bin/kubernetes-validate:
	$(PYTHON) -m venv $(K8S_TOOLS)
	$(K8S_TOOLS)/bin/pip install --quiet kubernetes-validate==$(KUBERNETES_VALIDATE_VERSION)

k8s-validate: $(K8S_TOOLS)/bin/kubernetes-validate
	$(K8S_TOOLS)/bin/kubernetes-validate --strict deploy/k8s/configmap.yaml \
	  deploy/k8s/deployment.yaml deploy/k8s/service.yaml
	PYTHONPATH=$$($(K8S_TOOLS)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
	  $(BIN)/pytest -q tests/unit/test_ops_k8s.py

ops-check: env promtool k8s-validate
	$(BIN)/pytest -q tests/unit/test_ops.py tests/unit/test_compose.py

clean:
	rm -rf var build *.egg-info .pytest_cache .mypy_cache .ruff_cache
