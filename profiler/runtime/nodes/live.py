"""A running node: a built rootfs brought up in namespaces of its own, and its engines.

How a node runs (and why not as a privileged "node container", as kind does):
``unshare`` gives the node private mount, network, PID, UTS and IPC namespaces; a shell
with the host's tools mounts a fresh /proc and /sys, the host's cgroup hierarchy, /dev,
tmpfs on /run and /tmp, and the node's state directories (image store, sockets) from the
cache, makes the rootfs read-only, ``pivot_root``s into it with the host's tree kept at
``/.host`` (a slave copy: host mounts reach the node, nothing of the node reaches the
host), and execs the node's ``catatonit`` as PID 1. The node's daemons (Podman's API
service per OCI runtime, later containerd) are started inside with ``nsenter``.

- The host's eBPF recorder still keys containers by mount namespace: the node's
  containers get mount namespaces of their own, and bpftrace reports host pids.
  Engines in the node report pids of the node's PID namespace; their ``EngineLocation``
  translates (NSpid in /proc/PID/status), so tracers are given host pids.
- The tool reaches the node's engines by Unix socket: the node's /run/spark-seccomp is a
  directory of the node's state on the host, and path sockets work across network
  namespaces. Host paths a container must mount (the job, the run's conf) are found in
  the node under /.host.
- cgroup v1: the node sees the host's hierarchy itself (rbind), so crun finds the hugetlb
  v1 mount bootstrap makes, and the tool's CPU accounting reads the same cgroups as for
  host engines. No cgroup namespace: paths match on both sides.
- Lifetime: the node outlives the command that started it, as dockerd and the host's
  Podman service do (image stores stay loaded, the next command starts at once), and
  several processes share it. The tool's containers in it are removed as on the host
  (session labels, also on Ctrl-C). ``stop_node`` kills the node's PID 1, and the kernel
  then kills every process of the node's PID namespace (daemons, conmon, containers)
  and drops its mounts and network: nothing of a node can outlive it.
- Nothing leaks onto the host: mounts are private to the node, its bridges, veths and
  firewall rules live in its own network namespace (so its networks cannot clash with
  Docker's), and the rootfs in the cache is mounted read-only.
A privileged node container would give the same isolation but needs Docker to run it, an
image import per build, a volume for the nested image store (overlay on overlay), and
pid translation all the same; here the node is plain files plus namespaces.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from profiler import proc
from profiler.errors import EnvironmentProblem, UsageError
from profiler.runtime.cri.node import CriNode
from profiler.runtime.location import EngineLocation
from profiler.runtime.nodes.catalogue import NodeSpec, catalogue, node_spec
from profiler.runtime.nodes.rootfs import (
    NodeBuild,
    build_node,
    find_build,
    node_lock,
    other_builds,
)

# Where the host's tree is in the node (pivot_root's old root, kept).
HOST_IN_NODE = "/.host"
# The node's directories for sockets and config written by the host, and for state that
# outlives a restart of the node (the CRI's containerd root, the kubelet's profiles).
NODE_RUN = "/run/spark-seccomp"
NODE_LIB = "/var/lib/spark-seccomp"
# Where the host keeps the files of a node's cluster DNS: dnsmasq is a host program (in the
# node's network namespace) that drops root, and reads its hosts directory as nobody, which
# cannot enter the tool's cache under /root.
HOST_DNS_ROOT = Path("/run/spark-seccomp/nodes")
NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STATE_FILE = "node.json"
START_TIMEOUT = 30.0
# Podman 5 warns on every command that cgroup v1 is deprecated; it still works.
NODE_ENV = (
    f"PATH={NODE_PATH}",
    "HOME=/root",
    "PODMAN_IGNORE_CGROUPSV1_WARNING=1",
    f"CONTAINERS_CONF_OVERRIDE={NODE_RUN}/containers.conf",
)
# What the node's Podman is told on top of its distribution's own containers.conf (which
# stays in force: its seccomp profile and defaults are what RuntimeDefault means there).
# Networks get the subnets reserved for nodes (they live in the node's own network
# namespace, but the range keeps them apart from Docker's and the CRI's in reports).
CONTAINERS_CONF = """\
[network]
default_subnet = "10.196.0.0/24"
default_subnet_pools = [{ base = "10.196.0.0/15", size = 24 }]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
"""

# Runs as the node's PID 1 before it execs catatonit, with the host's tools, in the new
# namespaces. The self bind mount makes the rootfs a mount point (pivot_root needs one,
# and runc/crun set the root's propagation); mounts are slaves of the host's because
# unshare ran with --propagation slave.
SETUP = r"""
set -eu
rootfs=$1 state=$2 hostname=$3
read -r host_pid _ </proc/self/stat
mount --bind "$rootfs" "$rootfs"
mount -t proc proc "$rootfs/proc"
mount -t sysfs sysfs "$rootfs/sys"
mount --rbind /sys/fs/cgroup "$rootfs/sys/fs/cgroup"
mount --rbind /dev "$rootfs/dev"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$rootfs/dev/shm"
mount -t tmpfs -o mode=755 tmpfs "$rootfs/run"
mount -t tmpfs -o mode=1777 tmpfs "$rootfs/tmp"
mkdir -p "$rootfs/run/spark-seccomp"
mount --bind "$state/run" "$rootfs/run/spark-seccomp"
mount --bind "$state/containers" "$rootfs/var/lib/containers"
mount --bind "$state/lib" "$rootfs/var/lib/spark-seccomp"
mount --bind "$state/cni" "$rootfs/var/lib/cni"
mount --bind "$state/networks" "$rootfs/etc/containers/networks"
mount --bind "$state/tmp" "$rootfs/var/tmp"
mount -o remount,bind,ro "$rootfs"
hostname "$hostname"
ip link set lo up
echo "$host_pid" >"$state/init.pid"
cd "$rootfs"
pivot_root . .host
exec /usr/bin/catatonit -P
"""
_STATE_DIRS = ("run", "containers", "lib", "cni", "networks", "tmp", "logs")


@dataclass(frozen=True)
class Node:
    """A running node: its build and the host pid of its PID 1."""

    build: NodeBuild
    init_pid: int

    @property
    def name(self) -> str:
        return self.build.spec.name

    def enter(self, argv: Sequence[str]) -> list[str]:
        """``argv`` as a command that runs inside the node (its namespaces and root), with
        the node's own environment."""
        return [
            "nsenter",
            f"--target={self.init_pid}",
            "--mount",
            "--net",
            "--pid",
            "--uts",
            "--ipc",
            "--root",
            # Bare --wd: the target's working directory. "--wd=/" would open the host's
            # "/" before entering, and conmon then fails "Failed to get working directory".
            "--wd",
            "/usr/bin/env",
            "-i",
            *NODE_ENV,
            *argv,
        ]

    def socket(self, name: str) -> Path:
        """The host path of a socket the node's daemons listen on (``name.sock``)."""
        return self.build.state / "run" / f"{name}.sock"

    def cri_node(self) -> CriNode:
        """Where the node's containerd with its CRI lives, for the CRI engine: its files in
        the node's state (/run/spark-seccomp, /var/lib/spark-seccomp), its binaries run
        through ``enter``, its pod bridge, iptables chain and cluster DNS in the node's
        network namespace (the host's ip, iptables and dnsmasq, entered there), its CNI
        plugins the node's own."""
        state = self.build.state
        return CriNode(
            name=self.name,
            views=(
                (PurePosixPath("/"), PurePosixPath(self.build.rootfs)),
                (PurePosixPath(NODE_RUN), PurePosixPath(state / "run")),
                (PurePosixPath(NODE_LIB), PurePosixPath(state / "lib")),
                (PurePosixPath(HOST_IN_NODE), PurePosixPath("/")),
                (CriNode().dns_dir, PurePosixPath(self.dns_dir)),
            ),
            command_prefix=tuple(self.enter([])),
            containerd_binary="/usr/bin/containerd",
            ctr_binary="/usr/bin/ctr",
            runtimes=(("runc", "/usr/sbin/runc"), ("crun", "/usr/bin/crun")),
            cni_bin_dir=PurePosixPath("/usr/lib/cni"),
            netns_prefix=("nsenter", f"--target={self.init_pid}", "--net"),
            pid_namespace_init=self.init_pid,
            description=self.build.summary(),
        )

    def location(self, engine: str, oci_runtime: str) -> EngineLocation:
        """Where the node's ``engine`` whose containers run ``oci_runtime`` lives, for the
        host's adapters: its socket in the node's state, the node's binaries run through
        ``enter``, its bundles, the host's tree at /.host, pids of the node's namespace."""
        if engine != "podman":
            raise UsageError(
                f"the {self.name} node's {engine} is not reached through a location",
                "a node's containerd is a CRI engine: use cri_node()",
            )
        storage = self.build.state / "containers" / "storage" / "overlay-containers"
        return EngineLocation(
            name=self.name,
            socket=self.socket(f"{engine}-{oci_runtime}"),
            command_prefix=tuple(self.enter([])),
            binaries=(("podman", "/usr/bin/podman"),),
            bundle_roots=(storage,),
            rootfs=self.build.rootfs,
            description=self.build.summary(),
            host_tree=HOST_IN_NODE,
            pid_namespace_init=self.init_pid,
        )

    @property
    def dns_dir(self) -> Path:
        """The host directory of the node's cluster DNS (pid file, hosts, query log)."""
        return HOST_DNS_ROOT / self.name / "dns"

    def log(self, name: str) -> Path:
        return self.build.state / "logs" / f"{name}.log"


def running_node(name: str) -> Node | None:
    """The node if it is running now (started by any process), else None."""
    spec = node_spec(name)
    build = find_build(spec)
    if build is None:
        return None
    pid = _alive_init(build)
    return Node(build, pid) if pid is not None else None


def start_node(name: str, note: Callable[[str], None] = lambda _: None) -> Node:
    """The running node, built and started first when needed (as root). A node still
    running from an earlier recipe's build is stopped first."""
    spec = node_spec(name)
    build = build_node(spec, note)
    if (pid := _alive_init(build)) is not None:
        return Node(build, pid)
    if os.geteuid() != 0:
        raise EnvironmentProblem(f"starting the {name} node needs root", "run as root")
    with node_lock(name):
        if (pid := _alive_init(build)) is not None:
            return Node(build, pid)
        _remove_other_builds(spec, note)
        return _start(build, note)


def _remove_other_builds(spec: NodeSpec, note: Callable[[str], None]) -> None:
    """Builds of the node's earlier recipes (and their image stores) are not used again:
    a node still running from one is stopped, and they are removed (hold the node's lock).
    The node's mounts live only in its own mount namespace, so nothing is mounted there."""
    for directory in other_builds(spec):
        if (stale := _alive_state(directory / "state")) is not None:
            note(f"stopping the {spec.name} node of an earlier build ({directory.name})")
            _kill_init(stale)
        shutil.rmtree(directory, ignore_errors=True)


def stop_node(name: str) -> bool:
    """Stop the node and everything in it, whichever build it runs; False when it was not
    running."""
    spec = node_spec(name)
    with node_lock(name):
        stopped = False
        current = find_build(spec)
        states = [current.state] if current is not None else []
        states += [directory / "state" for directory in other_builds(spec)]
        for state in states:
            if (pid := _alive_state(state)) is not None:
                _kill_init(pid)
                stopped = True
            _forget_state(state)
        shutil.rmtree(HOST_DNS_ROOT / name, ignore_errors=True)
        return stopped


def _start(build: NodeBuild, note: Callable[[str], None]) -> Node:
    for name in _STATE_DIRS:
        (build.state / name).mkdir(parents=True, exist_ok=True)
    _forget(build)
    (build.state / "run" / "containers.conf").write_text(CONTAINERS_CONF)
    started = time.monotonic()
    with open(build.state / "logs" / "node.log", "ab") as log:
        # setsid -f: the node's unshare is not this process's child, so it is not left a
        # zombie here when another process stops the node.
        launcher = proc.start(
            [
                "setsid",
                "--fork",
                "unshare",
                "--mount",
                "--net",
                "--pid",
                "--uts",
                "--ipc",
                "--fork",
                "--propagation=slave",
                "/bin/sh",
                "-c",
                SETUP,
                "spark-seccomp-node",
                str(build.rootfs),
                str(build.state),
                f"ssnode-{build.spec.name}",
            ],
            stdout=log.fileno(),
            stderr=log.fileno(),
        )
        launcher.wait()
    pid_file = build.state / "init.pid"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text())
            if _is_node_init(pid):
                _remember(build, pid)
                node = Node(build, pid)
                note(f"started the {build.spec.name} node in {time.monotonic() - started:.1f} s")
                return node
        time.sleep(0.05)
    said = (build.state / "logs" / "node.log").read_text(errors="replace").strip().splitlines()
    raise EnvironmentProblem(
        f"the {build.spec.name} node did not start: {said[-1] if said else 'no output'}",
        f"see {build.state / 'logs' / 'node.log'}",
    )


def _is_node_init(pid: int) -> bool:
    """Whether ``pid`` is a node's PID 1 that has finished its set-up (execed catatonit)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        own = os.readlink("/proc/self/ns/pid")
        return cmdline[0].endswith(b"catatonit") and os.readlink(f"/proc/{pid}/ns/pid") != own
    except OSError:
        return False


def _start_ticks(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/PID/stat): tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _remember(build: NodeBuild, pid: int) -> None:
    record = {"init_pid": pid, "start_ticks": _start_ticks(pid), "build": build.directory.name}
    path = build.state / STATE_FILE
    path.with_suffix(".tmp").write_text(json.dumps(record) + "\n")
    path.with_suffix(".tmp").replace(path)


def _forget(build: NodeBuild) -> None:
    _forget_state(build.state)


def _forget_state(state: Path) -> None:
    for path in (state / STATE_FILE, state / "init.pid"):
        path.unlink(missing_ok=True)
    for socket in (state / "run").glob("*.sock"):
        socket.unlink(missing_ok=True)


def _alive_init(build: NodeBuild) -> int | None:
    return _alive_state(build.state)


def _alive_state(state: Path) -> int | None:
    try:
        record: dict[str, Any] = json.loads((state / STATE_FILE).read_text())
        pid = int(record["init_pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if _start_ticks(pid) != record.get("start_ticks") or not _is_node_init(pid):
        return None
    return pid


def _kill_init(pid: int) -> None:
    """SIGKILL the node's PID 1: the kernel kills the rest of its PID namespace. Host
    programs the tool runs in the node's network namespace only (the CRI's cluster DNS,
    dnsmasq) are outside it and are ended too, or they would keep that namespace alive."""
    try:
        network = os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        network = None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if network is not None:
        _end_processes_in(network)


def _end_processes_in(network: str) -> None:
    """SIGTERM, then SIGKILL, every process still in the network namespace ``network``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        found = [p for p in _processes() if _namespace(p, "net") == network]
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while any(Path(f"/proc/{p}").exists() for p in found) and time.monotonic() < deadline:
            time.sleep(0.05)


def _processes() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _namespace(pid: int, kind: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


@dataclass(frozen=True)
class NodeStatus:
    """What ``node list`` says of a catalogued node."""

    spec: NodeSpec
    build: NodeBuild | None  # the build of its current recipe, if made
    running: bool


def node_statuses() -> list[NodeStatus]:
    statuses = []
    for spec in catalogue():
        build = find_build(spec)
        statuses.append(
            NodeStatus(spec, build, build is not None and _alive_init(build) is not None)
        )
    return statuses


def build_nodes(
    names: Sequence[str], *, refresh: bool = False, note: Callable[[str], None] = lambda _: None
) -> list[NodeBuild]:
    """Build each node's rootfs unless its recipe has one already; ``refresh`` builds it
    again from today's packages (sid moves), stopping the node if it runs."""
    builds = []
    for name in names:
        spec = node_spec(name)
        if refresh and (old := find_build(spec)) is not None:
            stop_node(name)
            with node_lock(name):
                shutil.rmtree(old.directory, ignore_errors=True)
        builds.append(build_node(spec, note))
        with node_lock(name):
            _remove_other_builds(spec, note)
    return builds
