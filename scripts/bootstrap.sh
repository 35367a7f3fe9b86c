#!/usr/bin/env bash
# Sets up everything spark-seccomp needs on a Debian machine, idempotently:
#   system packages (Docker engine, mmdebstrap, bpftrace, strace, libseccomp),
#   a running Docker engine, and a virtualenv with the tool installed.
# Steps that need root are skipped with a message when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PACKAGES=(docker.io mmdebstrap bpftrace strace libseccomp2 python3-venv gcc libc6-dev)

say() { printf 'bootstrap: %s\n' "$*" >&2; }

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    say "installing ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing packages: ${missing[*]} (run as root, or install them with apt-get)"
  fi
fi

engine_up() { timeout 5 docker info >/dev/null 2>&1; }
if ! engine_up; then
  if [[ $(id -u) -eq 0 ]] && command -v dockerd >/dev/null; then
    say "starting the Docker engine (log: /var/log/spark-seccomp-dockerd.log)"
    if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
      systemctl start docker
    else
      nohup dockerd >/var/log/spark-seccomp-dockerd.log 2>&1 &
    fi
    for _ in $(seq 1 60); do engine_up && break; sleep 1; done
    engine_up || say "the Docker engine did not start (see /var/log/spark-seccomp-dockerd.log); the local backend will be used where possible"
  else
    say "no Docker engine is reachable; the local backend will be used where possible"
  fi
fi

# tracefs is where bpftrace finds the syscall tracepoints.
if [[ $(id -u) -eq 0 && ! -e /sys/kernel/tracing/events ]]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi

if [[ ! -x $VENV/bin/python ]]; then
  say "creating $VENV"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import profiler, pytest' 2>/dev/null || [[ pyproject.toml -nt $VENV/.installed ]]; then
  say "installing spark-seccomp into $VENV (pyspark is a 320 MB download the first time)"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q -e '.[dev]'
  touch "$VENV/.installed"
fi
say "ready"
