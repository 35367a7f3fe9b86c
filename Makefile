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

demo: image
	$(CLI) check --modes unconfined,runtime-default

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
