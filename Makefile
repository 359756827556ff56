# Two commands on a fresh Debian machine:  `make demo`  and  `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Reinstall when the dependency list changes.
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: help setup test-deps lint test demo demo-cluster bench docs clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

setup: $(STAMP)  ## create .venv and install the project with its dev tools

$(STAMP): pyproject.toml
	scripts/bootstrap.sh $(PYTHON) $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

test-deps:  ## Debian packages, the kube binaries, the pause image and the kubernetes provider for the real-cluster tests
	scripts/install-test-deps.sh
	scripts/kube-binary.sh kube-apiserver kube-controller-manager kube-scheduler kubelet >/dev/null
	scripts/pause-image.sh >/dev/null
	scripts/terraform-provider-kubernetes.sh >/dev/null

lint: setup  ## ruff, mypy --strict and the import layers (import-linter)
	$(BIN)/ruff check iac tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# IAC_REQUIRE_CLUSTER=1: every real component is required and any skip fails the run (tests/_required.py).
test: setup test-deps lint  ## set everything up and run the whole test suite (real kube-apiserver included)
	IAC_REQUIRE_CLUSTER=1 $(BIN)/pytest

demo: setup  ## the embedded default: render the example stack, sync each connector against its simulator
	$(BIN)/iac demo

demo-cluster: setup test-deps  ## the same on a one-node Kubernetes cluster here: up --wait, pods sync, inspect, destroy (root)
	$(BIN)/python scripts/demo-cluster.py

bench: setup test-deps  ## run every bench/*.py and write bench/results.md
	@{ echo "# Benchmark results"; echo; echo '```'; uname -srm; nproc | sed 's/^/cores: /'; \
	   for f in bench/*.py; do echo; $(BIN)/python $$f || exit 1; done; echo '```'; } | tee bench/results.md

docs: setup  ## regenerate the README's integration table from the specs
	$(BIN)/python scripts/update-readme.py

clean:  ## remove the virtualenv and generated output
	rm -rf $(VENV) demo-out dist build .pytest_cache .mypy_cache .ruff_cache
