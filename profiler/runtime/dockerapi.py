"""The Docker API as container primitives: what Docker and Podman share, through the docker SDK.

Podman serves the same API (its "compat" service), so one adapter speaks it for both, and
what Podman takes differently is a handful of hooks (``seccomp_option``, ``tmpfs_option``,
``network_aliases``, ``engine_options``) that ``PodmanBackend`` overrides. That is the
honest shape: the two engines differ in what they accept, not in how a container is created,
started, waited for, read and removed, so neither is the other's base class, and each says
only what is its own.

A run's network is a bridge with a /24 of its own (``internal`` unless the engine turns its
DNS off there); each pod gets the next address of it. Its host name and DNS names are
answered by a cluster DNS of the run's own (``cluster_dns``: dnsmasq on the network's
gateway, which Docker's embedded DNS forwards to), and each pod gets the resolv.conf a
kubelet writes (the search domains, ``ndots:5``), so a pod's lookups walk the search
domains as in a cluster. Where that cannot run (not root, no dnsmasq, or an engine that
keeps its own DNS on the gateway: Podman's ``dnsname``) the names are network aliases the
engine's DNS answers for, without search domains.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from profiler.errors import EnvironmentProblem
from profiler.runtime.adapter import EngineAdapter
from profiler.runtime.cluster_dns import (
    ClusterDns,
    cluster_dns_config,
    cluster_names,
    parse_query_log,
)
from profiler.runtime.engine import require_image
from profiler.runtime.location import EngineLocation
from profiler.runtime.ownership import OWNER, OWNER_LABEL, SESSION, SESSION_LABEL, left_behind
from profiler.runtime.ownership import owner_labels as make_owner_labels
from profiler.runtime.primitives import (
    ContainerState,
    EngineLost,
    PodRecord,
    PodSite,
    StartRefused,
)
from profiler.runtime.shape import ContainerShape, PodShape, Tmpfs

# Where run networks take their /24 from.
_SUBNET_SECOND_OCTETS = (200, 250)
_SUBNET_TRIES = 32
# The network's gateway takes .1.
_FIRST_HOST = 2
# A run's cluster DNS keeps its files in a directory named after the tool's process, so a
# dnsmasq left by a crashed process is known (``sweep_orphans``).
_DNS_PREFIX = "spark-seccomp-dns-"


@dataclass
class RunNetwork:
    """A run's network, the addresses handed out on it so far, and its cluster DNS."""

    network: Any  # the SDK's Network
    subnet: str
    given: int = field(default=0)
    dns: ClusterDns | None = None  # None: the engine's own DNS answers, by aliases
    names: dict[str, str] = field(default_factory=dict)  # FQDN -> address
    run_id: str = ""

    @property
    def name(self) -> str:
        return str(self.network.name)

    @property
    def gateway(self) -> str:
        return str(ipaddress.ip_network(self.subnet)[1])

    def next_address(self) -> str:
        hosts = ipaddress.ip_network(self.subnet)
        address = str(hosts[_FIRST_HOST + self.given])
        self.given += 1
        return address


class DockerApiAdapter(EngineAdapter):
    """Container primitives over the Docker API (docker SDK client ``self.client``)."""

    # The run's network reaches nothing outside it.
    internal_networks = True
    # Whether the run's pods get a cluster DNS of the run's own (see the module's doc).
    runs_cluster_dns = True

    def __init__(
        self, client: Any, *, oci_runtime: str, location: EngineLocation | None = None
    ) -> None:
        self.client = client
        self._image_uids: dict[str, int | None] = {}
        super().__init__(oci_runtime=oci_runtime, location=location)

    # -- the engine's words --------------------------------------------------------------
    @contextlib.contextmanager
    def _api(self, what: str = "engine error", hint: str | None = None) -> Iterator[None]:
        """Docker SDK errors as the seam's: an unreachable engine is ``EngineLost``, an
        error it answered is an ``EnvironmentProblem`` in its words."""
        import requests
        from docker.errors import APIError

        try:
            yield
        except APIError as exc:
            raise EnvironmentProblem(
                f"{self.engine_title} {what}: {exc.explanation or exc}", hint
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            raise EngineLost(type(exc).__name__) from exc

    # -- translation (pure but for files the engine takes by path) -----------------------
    def create_options(self, shape: ContainerShape, site: PodSite, scratch: Path) -> dict[str, Any]:
        """docker SDK ``containers.create`` keywords for ``shape`` in its pod. The image's
        entrypoint is kept: the container gets the arguments a pod's container gets."""
        options: dict[str, Any] = {
            "image": shape.image,
            "command": list(shape.args),
            "environment": dict(shape.env),
            "labels": dict(shape.labels),
            # Host directories as the engine sees them (under its rootfs when it has one).
            "volumes": {
                self.location.engine_path(bind.source): {
                    "bind": bind.target,
                    "mode": "ro" if bind.read_only else "rw",
                }
                for bind in sorted(shape.binds, key=lambda b: b.target)
            },
            "detach": True,
            "security_opt": self.seccomp_option(shape, scratch),
            "sysctls": dict(shape.pod.sysctls),
            "hostname": shape.pod.hostname,
        }
        if shape.user_spec is not None:
            options["user"] = shape.user_spec
        if shape.cap_drop:
            options["cap_drop"] = list(shape.cap_drop)
        if shape.cap_add:
            options["cap_add"] = list(shape.cap_add)
        if shape.privileged:
            options["privileged"] = True
        if shape.read_only_root:
            options["read_only"] = True
        if shape.no_new_privileges:
            options["security_opt"].append("no-new-privileges:true")
        if shape.tmpfs:
            tmpfs = shape.tmpfs
            if shape.user_spec is None:
                # The pod runs as the image's user: a kubelet's emptyDir (mode 0777) is its
                # to write, while runc gives a tmpfs over a directory of the image that
                # directory's mode and root as owner: the image's user owns it instead.
                owner = self._image_uid(shape.image)
                tmpfs = tuple(
                    replace(t, uid=owner, gid=owner) if t.uid is None else t for t in tmpfs
                )
            options["tmpfs"] = {t.path: self.tmpfs_option(t) for t in tmpfs}
        if shape.memory_bytes is not None:
            # A pod's limit covers everything: Kubernetes nodes run without swap.
            options["mem_limit"] = shape.memory_bytes
            options["memswap_limit"] = shape.memory_bytes
        if shape.cpu_limit:
            options["nano_cpus"] = int(shape.cpu_limit * 1e9)
        if shape.pod.cgroup_parent:
            options["cgroup_parent"] = shape.pod.cgroup_parent
        if site.handle is None:
            options["network_mode"] = "none"
        else:
            network: RunNetwork = site.handle
            options["network"] = network.name
            aliases = self.network_aliases(shape) if network.dns is None else []
            options["networking_config"] = {
                network.name: self.client.api.create_endpoint_config(
                    ipv4_address=site.address, aliases=aliases or None
                )
            }
            if network.dns is not None:
                # The kubelet's ClusterFirst resolv.conf; Docker keeps its embedded DNS as
                # the nameserver and forwards what it does not know to the cluster DNS.
                dns = cluster_dns_config(network.gateway, shape.pod.namespace)
                options["dns"] = list(dns.servers)
                options["dns_search"] = list(dns.searches)
                options["dns_opt"] = list(dns.options)
        return self.engine_options(options)

    def _image_uid(self, image: str) -> int | None:
        """The numeric user the image runs as (its USER), or None when it names one."""
        if image not in self._image_uids:
            with self._api():
                user = str(self.client.images.get(image).attrs.get("Config", {}).get("User") or "0")
            name = user.split(":")[0]
            self._image_uids[image] = int(name) if name.isdigit() else None
        return self._image_uids[image]

    def seccomp_option(self, shape: ContainerShape, scratch: Path) -> list[str]:
        """Docker's --security-opt for the seccomp mode (runtime-default: say nothing)."""
        return seccomp_option(shape)

    def tmpfs_option(self, tmpfs: Tmpfs) -> str:
        return ",".join(tmpfs.options())

    def network_aliases(self, shape: ContainerShape) -> list[str]:
        """The names other pods resolve to this one besides its host name, which Docker's
        DNS answers for on its own."""
        return list(shape.pod.dns_names)

    def engine_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The create keywords with what only this engine takes."""
        options["runtime"] = self.oci_runtime
        return options

    # -- primitives ----------------------------------------------------------------------
    def create_network(self, run_id: str, *, egress: bool = False) -> RunNetwork:
        from docker.errors import APIError
        from docker.types import IPAMConfig, IPAMPool

        name = f"spark-seccomp-{run_id}"
        rng = random.Random(run_id)
        low, high = _SUBNET_SECOND_OCTETS
        for _ in range(_SUBNET_TRIES):
            subnet = f"10.{rng.randint(low, high)}.{rng.randint(0, 255)}.0/24"
            with self._api():
                try:
                    network = self.client.networks.create(
                        name,
                        driver="bridge",
                        internal=self.internal_networks and not egress,
                        ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=subnet)]),
                        labels=make_owner_labels(),
                    )
                except APIError as exc:
                    if "overlap" in str(exc).lower():
                        continue
                    raise
            run = RunNetwork(network, subnet, run_id=run_id)
            try:
                run.dns = self._cluster_dns(run)
            except BaseException:
                self.remove_network(run)
                raise
            return run
        raise EnvironmentProblem(
            f"no free /24 for the run's network in 10.{low}.0.0-10.{high}.255.0"
        )

    def _cluster_dns(self, run: RunNetwork) -> ClusterDns | None:
        """dnsmasq on the run network's gateway, or None where it cannot run here (not
        root, no dnsmasq) or the engine keeps its own DNS there."""
        binary = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin:/sbin")
        if not self.runs_cluster_dns or os.geteuid() != 0 or binary is None:
            return None
        directory = Path(
            tempfile.mkdtemp(prefix=f"{_DNS_PREFIX}{os.getpid()}-", dir=self.run_files_dir())
        )
        directory.chmod(0o755)  # dnsmasq reads its hosts directory as nobody
        dns = ClusterDns(directory, run.gateway, dnsmasq_binary=binary)
        try:
            dns.ensure()
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return dns

    def network_record(self, network: Any) -> tuple[tuple[str, str], ...]:
        """The cluster DNS's log of the run's queries (``dns-queries.log``)."""
        if not isinstance(network, RunNetwork) or network.dns is None:
            return ()
        log = network.dns.queries_since(0)
        lines = [line for line in log.splitlines() if parse_query_log(line)]
        return (("dns-queries.log", "".join(f"{line}\n" for line in lines)),)

    def pod_record(self, site: PodSite, container: Any) -> PodRecord:
        """The container's resolv.conf and /etc/hosts as the engine wrote them."""
        files = []
        with contextlib.suppress(Exception):
            container.reload()
            for name, key in (("resolv.conf", "ResolvConfPath"), ("hosts", "HostsPath")):
                path = container.attrs.get(key)
                if path:
                    with contextlib.suppress(OSError):
                        files.append((name, Path(path).read_text()))
        return PodRecord(files=tuple(files))

    def remove_network(self, network: Any) -> None:
        import requests
        from docker.errors import APIError, NotFound

        if network.dns is not None:
            # Before its address goes with the bridge.
            network.dns.stop()
            shutil.rmtree(network.dns.directory, ignore_errors=True)
            network.dns = None
        try:
            with contextlib.suppress(NotFound):
                try:
                    network.network.remove()
                except APIError:
                    # An endpoint of a container just removed can linger for a moment.
                    time.sleep(0.5)
                    with contextlib.suppress(APIError):
                        network.network.remove()
        except requests.exceptions.ConnectionError as exc:
            raise EngineLost(type(exc).__name__) from exc

    def open_pod(self, network: Any | None, pod: PodShape) -> PodSite:
        if network is None:
            return PodSite()
        address = network.next_address()
        if network.dns is not None:
            for name in cluster_names(pod.hostname, pod.dns_names, pod.namespace):
                network.names[name] = address
            network.dns.register(network.run_id, network.names)
        return PodSite(address, network)

    def create(self, shape: ContainerShape, site: PodSite, scratch: Path) -> Any:
        options = self.create_options(shape, site, scratch)
        with self._api("engine refused the container", "check the profile file and the image"):
            return self.client.containers.create(**options)

    def start(self, container: Any) -> None:
        from docker.errors import APIError

        with self._api():
            try:
                container.start()
            except APIError as exc:
                if runtime_could_not_start(exc):
                    raise StartRefused(str(exc.explanation or exc)) from exc
                raise

    def state(self, container: Any) -> ContainerState:
        from docker.errors import NotFound

        with self._api():
            try:
                container.reload()
            except NotFound:
                return ContainerState(exited=True)
        state = container.attrs["State"]
        exited = not state.get("Running") and state.get("Status") in ("exited", "dead")
        return ContainerState(
            exited=exited,
            exit_code=int(state.get("ExitCode", -1)) if exited else None,
            oom_killed=bool(state.get("OOMKilled")),
        )

    def wait(self, container: Any, timeout: float) -> int | None:
        import requests

        try:
            status = container.wait(timeout=timeout)
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            return None
        return int(status.get("StatusCode", -1))

    def logs(self, container: Any) -> tuple[str, str]:
        from docker.errors import APIError

        with self._api():
            try:
                stdout = container.logs(stdout=True, stderr=False)
                stderr = container.logs(stdout=False, stderr=True)
            except APIError as exc:
                # Someone removed the container under us (`cleanup`, `docker rm`).
                return "", f"container logs are gone: {exc.explanation or exc}"
        return stdout.decode(errors="replace"), stderr.decode(errors="replace")

    def host_pid(self, container: Any) -> int:
        with self._api():
            container.reload()
        # The engine's pid is its own PID namespace's (a node's): tracers need the host's.
        return self.location.host_pid(int(container.attrs["State"]["Pid"]))

    def container_id(self, container: Any) -> str:
        return str(container.id)

    def kill(self, container: Any) -> None:
        from docker.errors import APIError

        with self._api(), contextlib.suppress(APIError):
            container.kill()

    def stop(self, container: Any, grace_seconds: float) -> None:
        from docker.errors import APIError

        with self._api(), contextlib.suppress(APIError):
            container.stop(timeout=int(grace_seconds))

    def remove(self, container: Any) -> None:
        from docker.errors import APIError, NotFound

        with self._api():
            try:
                container.remove(force=True)
            except NotFound:
                pass
            except APIError:
                # Removal can race with the engine finishing the exit; one retry settles it.
                time.sleep(0.5)
                with contextlib.suppress(NotFound, APIError):
                    container.remove(force=True)

    def answering(self) -> bool:
        with contextlib.suppress(Exception):
            self.client.ping()
            return True
        return False

    def cgroup_driver(self) -> str:
        try:
            return str(self.client.info().get("CgroupDriver", "unknown"))
        except Exception:  # noqa: BLE001 - unknown is an answer
            return "unknown"

    # -- what the engine has -------------------------------------------------------------
    def make_image_available(self, image: str) -> None:
        require_image(self.client, image)

    def image_facts(self, image: str) -> tuple[str, dict[str, str]]:
        found = self.client.images.get(image)
        return str(found.id), dict(found.labels or {})

    def sweep_orphans(self) -> int:
        """Remove containers (and networks) of tool processes that no longer exist."""
        removed = 0
        with contextlib.suppress(Exception):
            # A container another process removes between the listing and its inspection
            # is skipped, not a failure of the sweep.
            for container in self.client.containers.list(
                all=True, filters={"label": f"{OWNER_LABEL}={OWNER}"}, ignore_removed=True
            ):
                if left_behind(container.labels or {}):
                    self.remove(container)
                    removed += 1
            for network in self.client.networks.list(filters={"label": f"{OWNER_LABEL}={OWNER}"}):
                if left_behind(network.attrs.get("Labels") or {}):
                    with contextlib.suppress(Exception):
                        network.remove()
        _stop_orphaned_cluster_dns()
        return removed

    def cleanup(self, session_only: bool = False) -> int:
        """Remove the tool's containers and networks: this process's only, or every one."""
        label = f"{SESSION_LABEL}={SESSION}" if session_only else f"{OWNER_LABEL}={OWNER}"
        removed = 0
        listed = self.client.containers.list(
            all=True, filters={"label": label}, ignore_removed=True
        )
        for container in listed:
            self.remove(container)
            removed += 1
        for network in self.client.networks.list(filters={"label": label}):
            with contextlib.suppress(Exception):
                network.remove()
        _stop_orphaned_cluster_dns()
        return removed


def _stop_orphaned_cluster_dns() -> None:
    """Stop the run cluster DNS servers of tool processes that are gone (a crash, a
    SIGKILL), found by their hosts directory's name."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if not argv or not argv[0].endswith(b"dnsmasq"):
                continue
            for arg in argv:
                text = arg.decode(errors="replace")
                if text.startswith("--hostsdir=") and _DNS_PREFIX in text:
                    owner = text.split(_DNS_PREFIX, 1)[1].split("-", 1)[0]
                    if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                        os.kill(int(proc.name), signal.SIGTERM)


def seccomp_option(shape: ContainerShape) -> list[str]:
    """Docker's --security-opt for a seccomp mode, the profile as JSON text (runtime-default:
    say nothing, the engine's default applies)."""
    from profiler.runtime.interface import SecurityMode

    if shape.seccomp_mode is SecurityMode.UNCONFINED:
        return ["seccomp=unconfined"]
    if shape.seccomp_mode is SecurityMode.LOCALHOST:
        assert shape.seccomp_profile is not None  # container_shape checked it
        return ["seccomp=" + shape.seccomp_profile]
    return []


def runtime_could_not_start(exc: Exception) -> bool:
    """Whether the engine's error is the OCI runtime failing to start the container (runc:
    "OCI runtime start failed", "OCI runtime create failed"; crun: "OCI runtime error")."""
    text = str(getattr(exc, "explanation", None) or exc)
    # runc whose init died before the engine asked it to start: "cannot start a stopped
    # process"; Podman: "`/usr/bin/runc start ID` failed: exit status 1".
    return (
        "OCI runtime" in text
        or "cannot start a stopped process" in text
        or _RUNTIME_COMMAND_FAILED.search(text) is not None
    )


_RUNTIME_COMMAND_FAILED = re.compile(r"\b(runc|crun) (create|start)\b.*\bfailed\b")
