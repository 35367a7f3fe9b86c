"""The cluster DNS of pod runs: dnsmasq answering for Services the way CoreDNS does.

A pod's resolv.conf, as the kubelet has the runtime write it (ClusterFirst), names the
cluster DNS and searches ``<namespace>.svc.cluster.local svc.cluster.local cluster.local``
with ``ndots:5``, so a name like ``app-driver-svc.default.svc`` is first tried with each
search domain appended (``...default.svc.default.svc.cluster.local``: NXDOMAIN,
``...default.svc.svc.cluster.local``: NXDOMAIN, ``...default.svc.cluster.local``: the
address) before it is tried as it is. dnsmasq plays CoreDNS: it answers the names each run
registers (a hosts file per run in a directory it watches, so a new file counts at once
and a removed one is forgotten), says NXDOMAIN for every other name (there is no way out),
and logs every query with the asking pod's address, which is how a run proves the walk.

A CRI node has one for all its pods (on its bridge's address); a run on Docker or Podman
has one on its network's gateway for the length of the run, which the engine's own DNS
forwards to (Docker) or the pods ask directly (Podman).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from profiler.errors import EnvironmentProblem

# The cluster's domain and the ndots the kubelet writes into a pod's resolv.conf.
CLUSTER_DOMAIN = "cluster.local"
NDOTS = 5

QUERY_LOG = "queries.log"
PID_FILE = "dnsmasq.pid"
ARGV_FILE = "dnsmasq.argv"
HOSTS_DIR = "hosts"
_QUERY = re.compile(r"query\[(?P<type>[A-Z0-9]+)\] (?P<name>\S+) from (?P<client>\S+)")


@dataclass(frozen=True)
class DnsConfig:
    """What the CRI is given for a pod's resolv.conf (``PodSandboxConfig.dns_config``)."""

    servers: tuple[str, ...]
    searches: tuple[str, ...]
    options: tuple[str, ...]

    def resolv_conf(self) -> str:
        """The file the runtime writes from it (containerd's layout)."""
        lines = [f"search {' '.join(self.searches)}"] if self.searches else []
        lines += [f"nameserver {server}" for server in self.servers]
        if self.options:
            lines.append(f"options {' '.join(self.options)}")
        return "\n".join(lines) + "\n"


def cluster_dns_config(server: str, namespace: str) -> DnsConfig:
    """The kubelet's ClusterFirst DNS for a pod of ``namespace``, asking ``server``."""
    return DnsConfig(
        servers=(server,),
        searches=(
            f"{namespace}.svc.{CLUSTER_DOMAIN}",
            f"svc.{CLUSTER_DOMAIN}",
            CLUSTER_DOMAIN,
        ),
        options=(f"ndots:{NDOTS}",),
    )


def service_fqdn(service: str, namespace: str) -> str:
    """A Service's name as the cluster DNS holds it."""
    return f"{service}.{namespace}.svc.{CLUSTER_DOMAIN}"


@dataclass(frozen=True)
class DnsQuery:
    """One query dnsmasq logged: its type (A, AAAA), the name asked and who asked."""

    qtype: str
    name: str
    client: str


def parse_query_log(text: str) -> list[DnsQuery]:
    """The queries in a stretch of dnsmasq's log (``--log-queries``), in order."""
    return [
        DnsQuery(match["type"], match["name"], match["client"]) for match in _QUERY.finditer(text)
    ]


def search_walk(name: str, dns: DnsConfig) -> list[str]:
    """The names glibc asks for ``name``, in order, until one answers: with fewer dots
    than ndots, each search domain appended, then the name itself."""
    if name.endswith("."):
        return [name.rstrip(".")]
    ndots = next(
        (int(option.split(":", 1)[1]) for option in dns.options if option.startswith("ndots:")),
        1,
    )
    appended = [f"{name}.{domain}" for domain in dns.searches]
    return [*appended, name] if name.count(".") < ndots else [name, *appended]


def cluster_names(hostname: str, service_names: tuple[str, ...], namespace: str) -> list[str]:
    """The fully qualified names a cluster DNS holds for a pod reached by ``hostname`` and
    ``service_names`` (as if each were a headless Service of the namespace): short names
    and ``<name>.<namespace>.svc`` are what pods ask for, and the search walk of their
    resolv.conf turns them into these."""
    names = []
    for name in (hostname, *service_names):
        name = name.rstrip(".")
        if name.endswith(f".svc.{CLUSTER_DOMAIN}"):
            fqdn = name
        elif name.endswith(".svc"):
            fqdn = f"{name}.{CLUSTER_DOMAIN}"
        elif "." not in name:
            fqdn = service_fqdn(name, namespace)
        else:
            continue  # another domain: nothing a cluster DNS would answer
        if fqdn not in names:
            names.append(fqdn)
    return names


class ClusterDns:
    """One dnsmasq: listening on ``listen_address``, keeping its files in ``directory``.

    A CRI node has one for all its pods, started when needed and outliving this process
    like the engine; a run on Docker or Podman has one on its network's gateway for the
    length of the run. ``late_address``: the address may appear after dnsmasq starts (a
    bridge the first pod creates), so it binds when it does."""

    def __init__(
        self,
        directory: Path,
        listen_address: str,
        *,
        command_prefix: tuple[str, ...] = (),
        dnsmasq_binary: str = "/usr/sbin/dnsmasq",
        late_address: bool = False,
    ) -> None:
        self.late_address = late_address
        self._process: subprocess.Popen[bytes] | None = None  # when this object started it
        self.directory = directory
        self.listen_address = listen_address
        self.command_prefix = command_prefix
        self.dnsmasq_binary = dnsmasq_binary
        self.hosts_dir = self.directory / HOSTS_DIR
        self.query_log = self.directory / QUERY_LOG

    def argv(self) -> list[str]:
        # dnsmasq runs on this host (in the pods' network namespace): host paths.
        return [
            *self.command_prefix,
            self.dnsmasq_binary,
            "--keep-in-foreground",
            "--conf-file=/dev/null",  # nothing from /etc/dnsmasq.conf
            "--no-resolv",  # no upstream: pods have no way out
            "--no-hosts",
            f"--hostsdir={self.hosts_dir}",
            # Every name not registered is NXDOMAIN, as for an unknown Service.
            "--local=/#/",
            f"--listen-address={self.listen_address}",
            "--bind-dynamic" if self.late_address else "--bind-interfaces",
            "--log-queries",
            f"--log-facility={self.query_log}",
            f"--pid-file={self.directory / PID_FILE}",
            # CoreDNS answers Services with a short TTL; 0 keeps nothing stale between runs.
            "--local-ttl=0",
        ]

    def running(self) -> bool:
        pid = self._pid()
        return pid is not None and _alive(pid, "dnsmasq")

    def ensure(self) -> None:
        """Start dnsmasq unless it runs as wanted (its address must exist already)."""
        wanted = "\0".join(self.argv())
        started = self.directory / ARGV_FILE
        if self.running():
            if started.exists() and started.read_text() == wanted:
                return
            self.stop()
        self.directory.mkdir(parents=True, exist_ok=True)
        started.write_text(wanted)
        self.hosts_dir.mkdir(parents=True, exist_ok=True)
        self.hosts_dir.chmod(0o755)
        log = open(self.directory / "dnsmasq.out", "ab")  # noqa: SIM115 - the child keeps it
        with log:
            self._process = subprocess.Popen(
                self.argv(),
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # the DNS outlives this process, as the engine does
            )
        for _ in range(50):
            if self.running() and self.query_log.exists():
                return
            time.sleep(0.1)
        said = (self.directory / "dnsmasq.out").read_text(errors="replace").strip()
        raise EnvironmentProblem(
            "the cluster DNS (dnsmasq) did not start"
            + (f": {said.splitlines()[-1]}" if said else ""),
            f"see {self.directory / 'dnsmasq.out'}; dnsmasq-base must be installed (`make setup`)",
        )

    def stop(self) -> None:
        if self._process is not None:
            # Ours: end it and reap it.
            self._process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5.0)
            self._process = None
            return
        pid = self._pid()
        if pid is not None and _alive(pid, "dnsmasq"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 5.0
            while _alive(pid, "dnsmasq") and time.monotonic() < deadline:
                time.sleep(0.05)

    # -- a run's names ----------------------------------------------------------------
    def register(self, run_id: str, names: dict[str, str]) -> None:
        """Answer each name (FQDN -> address) for the run, at once (dnsmasq reads a file
        written whole into its hosts directory as soon as it appears)."""
        lines = [f"{address} {name}\n" for name, address in sorted(names.items())]
        target = self.hosts_dir / run_id
        partial = self.hosts_dir / f".{run_id}.partial"
        partial.write_text("".join(lines))
        partial.chmod(0o644)
        partial.replace(target)

    def forget(self, run_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.hosts_dir / run_id).unlink()

    def log_position(self) -> int:
        try:
            return self.query_log.stat().st_size
        except OSError:
            return 0

    def queries_since(self, position: int) -> str:
        """What dnsmasq logged since ``position`` (``log_position``)."""
        try:
            with open(self.query_log, "rb") as log:
                log.seek(position)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def _pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int((self.directory / PID_FILE).read_text().strip())
        return None


def _alive(pid: int, name: str) -> bool:
    """Whether ``pid`` is a running ``name`` (not a zombie waiting for its parent)."""
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state = stat[stat.rindex(")") + 2 :].split()[0]
        return comm == name and state != "Z"
    return False
