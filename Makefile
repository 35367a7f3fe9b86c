# Two entry points for a fresh Debian machine (run as root to install packages and start
# the Docker engine): `make demo` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
CLI := $(BIN)/spark-seccomp

.PHONY: setup engine image nodes demo test unit lint profiles clean

setup:
	@scripts/bootstrap.sh

engine: setup

# The images need an engine; without one, tests that need it skip (or fail in CI).
# The newest 3.5 (the default) and the newest 4.x, both on Java 17.
SPARK4_VERSION ?= 4.3.0
image: setup
	@if timeout 5 docker info >/dev/null 2>&1; then $(CLI) image build && \
	  $(CLI) image build --spark-version $(SPARK4_VERSION); \
	else echo "image: no Docker engine can be reached: not building the Spark images"; fi

# Nodes of newer Debian releases (their own Podman, runc, crun, containerd), built once
# with mmdebstrap and cached; the tests need sid's. Needs root.
NODES ?= sid
nodes: setup
	@if [ "$$(id -u)" -eq 0 ]; then $(CLI) node build $(NODES); \
	else echo "nodes: not root: not building the nodes ($(NODES))"; fi

# Without a reachable Docker engine the demo runs on the local backend (host Java and
# pyspark under the same seccomp profiles); `--backend auto` says which it picked.
demo: image
	$(CLI) demo --backend auto

test: image nodes
	$(BIN)/python -m pytest -ra --durations=20 $(PYTEST_ARGS)

unit: setup
	$(BIN)/python -m pytest -ra tests/unit

lint: setup
	$(BIN)/ruff check profiler tests workloads benchmarks
	$(BIN)/ruff format --check profiler tests workloads benchmarks
	$(BIN)/mypy profiler benchmarks
	$(BIN)/lint-imports
	$(BIN)/vulture

# Reference profiles: the whole catalogue recorded in pod shape under restricted pod
# security, verified, then the same recordings targeted at arm64.
# `make profiles SPARK_VERSION=4.3.0` for the 4.x line.
SPARK_VERSION ?= 3.5.9
PROFILE_RUNS ?= runs/reference-profiles-$(SPARK_VERSION)
# Recorded on the host's engine (runc 1.1) and on the newest node (runc 1.3), so the
# profiles hold what each runc version's init calls after the filter; verified there and
# under the newest crun too. crun's init adds only close_range, which the profiles answer
# with ENOSYS and crun falls back from (PROFILE_OCI_RUNTIMES=runc,crun records it too, at
# twice the time).
PROFILE_NODES ?= host,sid
PROFILE_OCI_RUNTIMES ?= runc
# Each workload is recorded once per node, so twice in all, on two runc versions.
# --no-runtime-probe: every job is recorded on both runc versions already, and crun's one
# extra call (close_range) is answered ENOSYS, which crun falls back from; the committed
# references were made so.
PROFILE_RUNS_PER_NODE ?= 1
profiles: image nodes
	$(CLI) record --runs $(PROFILE_RUNS_PER_NODE) --arch amd64 --image spark-seccomp/spark:$(SPARK_VERSION) --node $(PROFILE_NODES) --oci-runtime $(PROFILE_OCI_RUNTIMES) --no-runtime-probe --run-dir $(PROFILE_RUNS) --out profiles/spark-$(SPARK_VERSION)-amd64.json
	$(CLI) record --from-recordings $(PROFILE_RUNS) --arch arm64 --no-verify --image spark-seccomp/spark:$(SPARK_VERSION) --run-dir $(PROFILE_RUNS)/arm64 --out profiles/spark-$(SPARK_VERSION)-arm64.json

clean:
	-$(CLI) cleanup
	rm -rf runs
