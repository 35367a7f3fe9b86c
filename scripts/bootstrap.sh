#!/usr/bin/env bash
# Sets up everything spark-seccomp needs on a Debian machine, idempotently:
#   system packages (Docker engine and its containerd, Podman, crun, mmdebstrap, bpftrace,
#   strace, libseccomp; util-linux and iproute2 run the nodes; a JDK), Docker's crun runtime,
#   a running Docker engine, and a virtualenv with the tool installed. Podman's API services
#   are started by the tool when needed.
# Steps that need root are skipped with a message when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
# dnsmasq-base is the cluster DNS of containerd's CRI pods: the binary alone (the dnsmasq
# package would also start a system-wide DNS server on every interface).
# openjdk-17-jdk-headless: `image build` compiles the JVM catalogue with the host's javac
# (the image holds a JRE only).
PACKAGES=(docker.io containerd mmdebstrap bpftrace strace libseccomp2 python3-venv gcc libc6-dev
  podman crun containernetworking-plugins golang-github-containernetworking-plugin-dnsname
  dnsmasq-base iptables iproute2 util-linux openjdk-17-jdk-headless)

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

# crun refuses a hybrid cgroup layout ("cgroups in hybrid mode not supported"): on a
# cgroup v1 host that leaves hugetlb on the v2 hierarchy, give hugetlb its v1 mount.
# runc and Docker are unaffected.
if [[ $(id -u) -eq 0 && -d /sys/fs/cgroup/cpuacct && ! -e /sys/fs/cgroup/hugetlb ]] &&
  grep -qw hugetlb /proc/cgroups && mountpoint -q /sys/fs/cgroup 2>/dev/null; then
  say "mounting the hugetlb cgroup controller at /sys/fs/cgroup/hugetlb (crun needs it on v1)"
  mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb || true
fi

# Docker runs crun when asked (--oci-runtime crun): a "crun" runtime in daemon.json, merged
# into what is there; a running engine reloads it on SIGHUP.
DAEMON_JSON=/etc/docker/daemon.json
docker_crun_added=0
if [[ $(id -u) -eq 0 ]] && command -v crun >/dev/null; then
  mkdir -p /etc/docker
  if ! python3 - "$DAEMON_JSON" "$(command -v crun)" <<'PY'
import json, os, sys
path, crun = sys.argv[1], sys.argv[2]
config = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
if config.get("runtimes", {}).get("crun", {}).get("path") == crun:
    sys.exit(0)
config.setdefault("runtimes", {})["crun"] = {"path": crun}
with open(path + ".tmp", "w") as f:
    json.dump(config, f, indent=2, sort_keys=True)
    f.write("\n")
os.replace(path + ".tmp", path)
sys.exit(1)
PY
  then
    say "added the crun runtime to $DAEMON_JSON"
    docker_crun_added=1
  fi
fi
# Podman on a local image must never ask a registry; Debian's policy accepts local images,
# and one is written when none is there.
if [[ $(id -u) -eq 0 && ! -e /etc/containers/policy.json ]] && command -v podman >/dev/null; then
  mkdir -p /etc/containers
  printf '{"default": [{"type": "insecureAcceptAnything"}]}\n' >/etc/containers/policy.json
fi

engine_up() { timeout 5 docker info >/dev/null 2>&1; }
if ((docker_crun_added)) && engine_up; then
  pkill -HUP -x dockerd || true
  sleep 1
fi
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
  "$VENV/bin/pip" install -q -e '.[all,dev]'
  touch "$VENV/.installed"
fi
say "ready"
