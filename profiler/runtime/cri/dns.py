"""The cluster DNS of a CRI node: dnsmasq answering for Services the way CoreDNS does.

A pod's resolv.conf, as the kubelet has the runtime write it (ClusterFirst), names the
cluster DNS and searches ``<namespace>.svc.cluster.local svc.cluster.local cluster.local``
with ``ndots:5``, so a name like ``app-driver-svc.default.svc`` is first tried with each
search domain appended (``...default.svc.default.svc.cluster.local``: NXDOMAIN,
``...default.svc.svc.cluster.local``: NXDOMAIN, ``...default.svc.cluster.local``: the
address) before it is tried as it is. dnsmasq plays CoreDNS: it answers the names each run
registers (a hosts file per run in a directory it watches, so a new file counts at once
and a removed one is forgotten), says NXDOMAIN for every other name (there is no way out),
and logs every query with the asking pod's address, which is how a run proves the walk.
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
from profiler.runtime.cri.node import CLUSTER_DOMAIN, NDOTS, CriNode

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


def cluster_dns_config(node: CriNode, namespace: str) -> DnsConfig:
    """The kubelet's ClusterFirst DNS for a pod of ``namespace``."""
    return DnsConfig(
        servers=(node.dns_server,),
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


class ClusterDns:
    """One dnsmasq: listening on ``listen_address``, keeping its files in ``directory``.

    A CRI node has one for all its pods (``for_node``), started when needed and outliving
    this process like the engine; a run on an engine with a network of its own can have
    one on that network's gateway for the length of the run."""

    def __init__(
        self,
        directory: Path,
        listen_address: str,
        *,
        command_prefix: tuple[str, ...] = (),
        dnsmasq_binary: str = "/usr/sbin/dnsmasq",
    ) -> None:
        self.directory = directory
        self.listen_address = listen_address
        self.command_prefix = command_prefix
        self.dnsmasq_binary = dnsmasq_binary
        self.hosts_dir = self.directory / HOSTS_DIR
        self.query_log = self.directory / QUERY_LOG

    @classmethod
    def for_node(cls, node: CriNode) -> ClusterDns:
        return cls(
            Path(node.host_path(node.dns_dir)),
            node.dns_server,
            command_prefix=node.netns_prefix,
            dnsmasq_binary=node.dnsmasq_binary,
        )

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
            "--bind-interfaces",
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
            subprocess.Popen(
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
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/comm").read_text().strip() == name
    return False
