# The two commands a user needs: `make up` (a cluster) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= $(HOME)/.kapi
PORT ?= 6443
SIMULATED_NODES ?= 3

.PHONY: up test bench fuzz lint clean docker-env etcd-env

$(BIN)/.installed: pyproject.toml
	@echo "make: creating $(VENV) and installing kapi and its tools into it (first run: about 20 s)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@
	@echo "make: kapi is installed in $(VENV)"

# Docker for the Docker-backed nodes: installs docker.io/busybox-static as root when missing,
# starts dockerd when none answers, builds the local images (never pulls).
docker-env: $(BIN)/.installed
	PYTHON=$(BIN)/python bash scripts/docker-env.sh

# etcd for the etcd backend's tests: installs etcd-server/etcd-client as root when missing.
etcd-env:
	bash scripts/etcd-env.sh

up: docker-env
	@echo "make: starting kapi on 127.0.0.1:$(PORT), data in $(DATA_DIR) (set PORT= and DATA_DIR= to change them)"
	$(BIN)/kapi up --data-dir $(DATA_DIR) --port $(PORT) --simulated-nodes $(SIMULATED_NODES)

# Docker and etcd first (as root it installs them; otherwise it says what to do and those
# tests skip, unless KAPI_REQUIRE_DOCKER=1 / KAPI_REQUIRE_ETCD=1 make that a failure, as in CI).
test: docker-env etcd-env
	$(BIN)/ruff check kapi runtime tests bench conformance
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: $(BIN)/.installed
	$(BIN)/python -m bench.api

# every served operation, 25 generated requests each, 10 minutes at most
fuzz: $(BIN)/.installed
	$(BIN)/python -m bench.fuzz --examples 25 --seconds 600

clean:
	rm -rf $(VENV) *.egg-info

lint: $(BIN)/.installed
	$(BIN)/ruff check kapi runtime tests bench conformance
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
