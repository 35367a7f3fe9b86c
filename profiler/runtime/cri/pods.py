"""Pods on a CRI node, driven as the kubelet drives them: sandbox, container, logs, removal.

``CriPods`` brings its node up (``daemon.NodeDaemons``) and then does for one run what the
kubelet does for its pods: a room for the run (its pods' directories, its Localhost
profiles under ``<kubelet-root>/seccomp``, its names in the cluster DNS), and for each pod
RunPodSandbox with the pod's host name, the cluster DNS and the pod-level security context,
the kubelet's ``/etc/hosts`` with the address CNI gave the pod, the pod's Service names
registered once it has that address, then CreateContainer (volumes as directories the
kubelet would have made) and StartContainer; ContainerStatus for exit codes and OOM kills;
the container's log read from the CRI log file; StopContainer, RemoveContainer,
StopPodSandbox and RemovePodSandbox to end it. Every sandbox and container carries the
run's labels, so what a crash left can be found by them.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from profiler.errors import EnvironmentProblem
from profiler.runtime.cluster_dns import cluster_dns_config, cluster_names
from profiler.runtime.cri.client import ContainerStatus, CriCallFailed, CriClient
from profiler.runtime.cri.daemon import NodeDaemons, with_sandbox_image
from profiler.runtime.cri.kubelet import (
    SECCOMP_DIR,
    CriContainer,
    CriPod,
    Seccomp,
    SeccompChoice,
    container_config,
    etc_hosts,
    sandbox_config,
)
from profiler.runtime.cri.node import CriNode
from profiler.runtime.engine import move_image_from_docker
from profiler.seccomp.arch import native_arch, syscall_name

# Where the tool's Localhost profiles go under <kubelet-root>/seccomp, per run, as
# `k8s sparkapp` references them (localhostProfile: spark-seccomp/...).
PROFILE_SUBDIR = "spark-seccomp"
POLL_SECONDS = 0.25


@dataclass
class RunRoom:
    """What one run holds on the node: its pods' files, its profiles and its DNS names."""

    run_id: str
    pods_dir: Path  # host view
    profiles_dir: Path  # host view
    dns_log_start: int = 0  # where the cluster DNS's query log stood when the run began
    names: dict[str, str] = field(default_factory=dict)  # FQDN -> address
    addresses: set[str] = field(default_factory=set)  # every pod address of the run


@dataclass(frozen=True)
class OpenPod:
    """A running sandbox: the pod's address and where its files are."""

    sandbox_id: str
    pod: CriPod
    ip: str | None
    directory: Path  # host view
    resolv_conf: str  # what the runtime wrote for the pod ("" when unreadable)
    pause_pid: int | None = None  # the sandbox's first process, on this host


@dataclass(frozen=True)
class PodContainer:
    container_id: str
    sandbox_id: str
    name: str
    log_file: Path  # host view
    pause_pid: int | None = None  # the sandbox's first process, on this host


# How long the CRI may take to see an image ``ctr images import`` just imported.
IMPORT_SEEN_SECONDS = 15.0


class CriPods:
    """The pods of one node, through its CRI, with one OCI runtime handler."""

    def __init__(self, node: CriNode, runtime_handler: str) -> None:
        node, archive = with_sandbox_image(node)
        self.node = node
        self.runtime_handler = runtime_handler
        self.daemons = NodeDaemons(node)
        self.daemons.ensure(archive)
        self.client = CriClient(str(node.host_path(node.socket)))
        self._images: dict[str, str] = {}

    # -- images -----------------------------------------------------------------------
    def require_image(self, image: str, docker_image_id: str | None = None) -> str:
        """The CRI's id of ``image``, moved from Docker (save, ``ctr images import``) when
        the node lacks it or holds another build of it than ``docker_image_id``."""
        if image in self._images:
            return self._images[image]
        facts = self.client.image(image)
        if facts is None or (docker_image_id is not None and facts.image_id != docker_image_id):
            move_image_from_docker(image, self.daemons.import_argv(), self.node.label)
            # containerd 2.x's CRI learns of an import from an event, a moment later.
            deadline = time.monotonic() + IMPORT_SEEN_SECONDS
            facts = self.client.image(image)
            while facts is None and time.monotonic() < deadline:
                time.sleep(0.2)
                facts = self.client.image(image)
            if facts is None:
                raise EnvironmentProblem(
                    f"{image} was imported into {self.node.label} but its CRI does not see it",
                    "see the containerd log beside its socket",
                )
        self._images[image] = facts.image_id
        return facts.image_id

    # -- a run's room -----------------------------------------------------------------
    def open_run(self, run_id: str) -> RunRoom:
        node = self.node
        pods_dir = Path(node.host_path(node.pods_dir)) / run_id
        profiles_dir = (
            Path(node.host_path(node.kubelet_root)) / SECCOMP_DIR / PROFILE_SUBDIR / run_id
        )
        pods_dir.mkdir(parents=True, exist_ok=True)
        pods_dir.chmod(0o755)
        return RunRoom(run_id, pods_dir, profiles_dir, self.daemons.dns.log_position())

    def close_run(self, room: RunRoom) -> None:
        self.close_run_id(room.run_id)

    def close_run_id(self, run_id: str) -> None:
        """Forget a run's names and files (also of a run whose process is gone)."""
        node = self.node
        self.daemons.dns.forget(run_id)
        shutil.rmtree(Path(node.host_path(node.pods_dir)) / run_id, ignore_errors=True)
        profiles = Path(node.host_path(node.kubelet_root)) / SECCOMP_DIR / PROFILE_SUBDIR
        shutil.rmtree(profiles / run_id, ignore_errors=True)

    def localhost_profile(self, room: RunRoom, name: str, profile_json: str) -> SeccompChoice:
        """A Localhost profile written where the kubelet reads them, as it is passed."""
        room.profiles_dir.mkdir(parents=True, exist_ok=True)
        path = room.profiles_dir / f"{name}.json"
        path.write_text(profile_json)
        path.chmod(0o644)
        return SeccompChoice(Seccomp.LOCALHOST, str(self.node.engine_path(path)))

    # -- pods -------------------------------------------------------------------------
    def open_pod(
        self,
        room: RunRoom,
        *,
        name: str,
        hostname: str,
        namespace: str,
        service_names: tuple[str, ...],
        register: bool = True,
        seccomp: SeccompChoice,
        run_as_user: int | None,
        run_as_group: int | None,
        cgroup_parent: str | None,
        labels: tuple[tuple[str, str], ...],
    ) -> OpenPod:
        """A pod sandbox on the node's network, its /etc/hosts written, and (``register``)
        its host name and ``service_names`` answered by the cluster DNS with its address.
        ``cgroup_parent`` is the sandbox's own (its containers get theirs in ``create``)."""
        uid = str(uuid.uuid4())
        directory = room.pods_dir / uid
        (directory / "logs").mkdir(parents=True)
        pod = CriPod(
            name=name,
            uid=uid,
            namespace=namespace,
            hostname=hostname,
            log_directory=str(self.node.engine_path(directory / "logs")),
            dns=cluster_dns_config(self.node.dns_server, namespace),
            seccomp=seccomp,
            run_as_user=run_as_user,
            run_as_group=run_as_group,
            cgroup_parent=cgroup_parent or "",
            labels=labels,
        )
        sandbox_id = self.client.run_pod_sandbox(sandbox_config(pod), self.runtime_handler)
        status = self.client.sandbox_status(sandbox_id)
        (directory / "hosts").write_text(etc_hosts(hostname, status.ip))
        if status.ip:
            room.addresses.add(status.ip)
        if status.ip and register:
            for fqdn in cluster_names(hostname, service_names, namespace):
                room.names[fqdn] = status.ip
            self.daemons.dns.register(room.run_id, room.names)
        resolv = Path(self.node.host_path(self.node.sandbox_root)) / sandbox_id / "resolv.conf"
        text = ""
        with contextlib.suppress(OSError):
            text = resolv.read_text()
        return OpenPod(sandbox_id, pod, status.ip, directory, text, status.pid)

    def close_pod(self, pod: OpenPod) -> None:
        """StopPodSandbox and RemovePodSandbox (gone already is fine), then its files."""
        for call in (self.client.stop_pod_sandbox, self.client.remove_pod_sandbox):
            with contextlib.suppress(CriCallFailed):
                call(pod.sandbox_id)
        shutil.rmtree(pod.directory, ignore_errors=True)

    def empty_dir(self, pod: OpenPod, path: str) -> str:
        """A directory for an emptyDir volume at ``path``, as the kubelet makes it (mode
        0777, on the node's disk); its path in the engine's view."""
        volume = pod.directory / "volumes" / (path.strip("/").replace("/", "-") or "root")
        volume.mkdir(parents=True, exist_ok=True)
        volume.chmod(0o777)
        return str(self.node.engine_path(volume))

    def hosts_file(self, pod: OpenPod) -> str:
        return str(self.node.engine_path(pod.directory / "hosts"))

    def sandbox_alive(self, pause_pid: int | None, sandbox_id: str) -> bool:
        """Whether the sandbox's pause process still runs: asked of the kernel (the CRI
        learns of its exit only a moment later), else of the CRI."""
        if pause_pid is not None:
            with contextlib.suppress(OSError, IndexError):
                stat = Path(f"/proc/{pause_pid}/stat").read_text()
                return stat[stat.rindex(")") + 2 :].split()[0] != "Z"
            return False
        try:
            return self.client.sandbox_status(sandbox_id).ready
        except CriCallFailed:
            return False

    def pause_denied(self, pod: OpenPod) -> bool:
        """Whether the sandbox's pause process sleeps in clock_nanosleep, as ours does
        once the pod's seccomp profile denied it pause(2) (it waits in pause otherwise)."""
        if pod.pause_pid is None:
            return False
        try:
            number = int(Path(f"/proc/{pod.pause_pid}/syscall").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return False
        return syscall_name(number, native_arch()) == "clock_nanosleep"

    # -- containers ---------------------------------------------------------------------
    def create(
        self, pod: OpenPod, container: CriContainer, cgroup_parent: str = ""
    ) -> PodContainer:
        """CreateContainer in the pod. containerd puts a container's cgroup under the
        cgroup parent of the sandbox config it is sent with: ``cgroup_parent`` (the pod's
        CPU accounting) there, while the sandbox itself stays where it was opened."""
        config = (
            container_config(pod.pod, container, oom_score_adj=0)
            if self.node.restrict_oom_score_adj
            else container_config(pod.pod, container)
        )
        placed = replace(pod.pod, cgroup_parent=cgroup_parent or pod.pod.cgroup_parent)
        container_id = self.client.create_container(pod.sandbox_id, config, sandbox_config(placed))
        return PodContainer(
            container_id=container_id,
            sandbox_id=pod.sandbox_id,
            name=container.name,
            log_file=pod.directory / "logs" / container.log_path,
            pause_pid=pod.pause_pid,
        )

    def start(self, container: PodContainer) -> None:
        self.client.start_container(container.container_id)

    def status(self, container: PodContainer) -> ContainerStatus | None:
        """Its status, or None when it is gone."""
        try:
            return self.client.container_status(container.container_id)
        except CriCallFailed as failed:
            if failed.code == "NOT_FOUND":
                return None
            raise

    def wait(self, container: PodContainer, timeout: float) -> int | None:
        """Its exit code once it exited, or None when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(container)
            if status is None:
                return None
            if status.exited:
                return status.exit_code
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL_SECONDS)

    def logs(self, container: PodContainer) -> tuple[str, str]:
        from profiler.runtime.cri.client import parse_cri_log

        try:
            return parse_cri_log(container.log_file.read_text(errors="replace"))
        except FileNotFoundError:
            return "", ""

    def stop(self, container: PodContainer, grace_seconds: float) -> None:
        """StopContainer: SIGTERM (the image's stop signal), SIGKILL after the grace."""
        with contextlib.suppress(CriCallFailed):
            self.client.stop_container(container.container_id, int(grace_seconds))

    def remove(self, container: PodContainer) -> None:
        with contextlib.suppress(CriCallFailed):
            self.client.stop_container(container.container_id, 0)
        try:
            self.client.remove_container(container.container_id)
        except CriCallFailed as failed:
            if failed.code != "NOT_FOUND":
                raise

    def bundle_config(self, container_id: str) -> Path:
        """The running container's OCI ``config.json``, as the OCI runtime was given it."""
        return Path(self.node.host_path(self.node.task_root)) / container_id / "config.json"

    # -- what a crash left ------------------------------------------------------------
    def sandboxes(self, labels: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
        """(id, labels) of every sandbox carrying ``labels``."""
        return self.client.list_pod_sandboxes(labels)

    def remove_sandbox(self, sandbox_id: str) -> None:
        """Stop and remove a sandbox; the CRI removes its containers with it."""
        for call in (self.client.stop_pod_sandbox, self.client.remove_pod_sandbox):
            with contextlib.suppress(CriCallFailed):
                call(sandbox_id)
