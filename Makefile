# Two entry points for a fresh Debian machine (run as root to install packages and start
# the Docker engine): `make demo` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
CLI := $(BIN)/spark-seccomp

.PHONY: setup engine image demo test unit lint profiles clean

setup:
	@scripts/bootstrap.sh

engine: setup

image: setup
	$(CLI) image build

# Without a reachable Docker engine the demo runs on the local backend (host Java and
# pyspark under the same seccomp profiles); `--backend auto` says which it picked.
demo: setup
	@if timeout 5 docker info >/dev/null 2>&1; then $(CLI) image build; \
	else echo "demo: no Docker engine can be reached: using the local backend"; fi
	$(CLI) check --backend auto --modes unconfined,runtime-default

test: image
	$(BIN)/python -m pytest -ra $(PYTEST_ARGS)

unit: setup
	$(BIN)/python -m pytest -ra tests/unit

lint: setup
	$(BIN)/ruff check profiler tests workloads
	$(BIN)/ruff format --check profiler tests workloads
	$(BIN)/mypy profiler

clean:
	-$(CLI) cleanup
	rm -rf runs
