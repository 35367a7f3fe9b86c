"""The containerd engine through its CRI, the way a kubelet drives it.

Each pod of a run is a pod sandbox (RunPodSandbox: the tool's own pause image, a network
namespace on the node's CNI bridge with an address from host-local IPAM, the cluster DNS
in its resolv.conf, the pod-level seccomp profile and run-as user) holding one container
(CreateContainer with the image's entrypoint, the container's security context, a
Localhost profile passed as a path under ``<kubelet-root>/seccomp``; StartContainer). The
pod's host name and Service names are answered by the node's cluster DNS once the sandbox
has its address. Everything is removed through the CRI as the kubelet removes a pod.

containerd's default profile, applied when a pod asks for RuntimeDefault, is what EKS,
GKE and AKS nodes apply. The node (``profiler.runtime.cri``) is the host's Debian
containerd started on a socket of its own with a config the tool writes, beside Docker's
containerd (whose CRI is disabled); another containerd (a newer release's, in a node of
its own) is the same adapter given another ``CriNode``.

``ctr`` is still used for one thing the CRI cannot do: importing images (the Spark image
saved from Docker, the pause image) into the CRI's ``k8s.io`` namespace.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from profiler.errors import EnvironmentProblem
from profiler.runtime.adapter import EngineAdapter
from profiler.runtime.cluster_dns import parse_query_log
from profiler.runtime.cri.client import CriCallFailed, CriUnavailable
from profiler.runtime.cri.kubelet import CriContainer, CriMount, Seccomp, SeccompChoice
from profiler.runtime.cri.node import CriNode
from profiler.runtime.cri.pods import CriPods, OpenPod, PodContainer, RunRoom
from profiler.runtime.engine import docker_image_id, oci_runtime_version
from profiler.runtime.interface import Role, SecurityMode
from profiler.runtime.location import EngineLocation
from profiler.runtime.ownership import (
    OWNER,
    OWNER_LABEL,
    RUN_LABEL,
    SESSION,
    SESSION_LABEL,
    left_behind,
)
from profiler.runtime.primitives import (
    ContainerState,
    EngineLost,
    PodRecord,
    PodSite,
    StartRefused,
)
from profiler.runtime.shape import ContainerShape, PodShape

# The container names Spark's Kubernetes backend gives the driver's and executors' pods.
CONTAINER_NAMES = {
    Role.DRIVER: "spark-kubernetes-driver",
    Role.EXECUTOR: "spark-kubernetes-executor",
    Role.ALL: "spark",
}
MASTER_CONTAINER = "spark-master"
# Sandboxes get a cgroup parent of their own, so a pod's cgroup parent holds only its
# container: its CPU time is the container's, and the strace hold's frozen parent finds
# the container's init process first, not the pause process.
SANDBOX_CGROUP_PARENT = "/spark-seccomp/cri-sandboxes"
_PAUSE_DENIED_NOTE = (
    "the pod's seccomp profile (which confines the sandbox too) denies pause(2): the "
    "Kubernetes pause container calls it in a loop and would spin on a CPU in a cluster "
    "(this one sleeps instead); allow pause, or set the profile per container"
)


@dataclass(frozen=True)
class _Pod:
    """A PodSite's handle: the open sandbox, and the room it was opened in (a one-off
    command's pod has a room of its own, closed with it)."""

    pod: OpenPod
    room: RunRoom
    owns_room: bool


@dataclass(frozen=True)
class _RefusedPod:
    """A PodSite's handle when the OCI runtime could not start the pod's sandbox: its init
    died under the pod-level filter (the kubelet's FailedCreatePodSandBox). The pod's
    container is then refused at start, which makes it a verdict, not an engine error."""

    reason: str
    room: RunRoom
    owns_room: bool


@dataclass(frozen=True)
class _RefusedContainer:
    reason: str
    container_id: str = "(no sandbox)"


class ContainerdBackend(EngineAdapter):
    name = "containerd"
    engine_title = "containerd"
    runs_pods = True

    def __init__(self, *, oci_runtime: str = "runc", node: CriNode | None = None) -> None:
        node = node or CriNode()
        handlers = dict(node.runtimes)
        if oci_runtime not in handlers:
            raise EnvironmentProblem(
                f"{node.label} has no {oci_runtime} runtime handler",
                "choose one of " + ", ".join(sorted(handlers)),
            )
        if not Path(node.host_path(handlers[oci_runtime])).exists():
            raise EnvironmentProblem(
                f"the OCI runtime {oci_runtime} is not installed ({handlers[oci_runtime]})",
                f"`apt-get install {oci_runtime}` (or `make setup`)",
            )
        self.pods = CriPods(node, oci_runtime)
        self.node = self.pods.node
        super().__init__(oci_runtime=oci_runtime, location=location_of(self.node))
        self.sweep_orphans()

    # -- what the engine is ----------------------------------------------------------
    def versions(self) -> dict[str, str]:
        _, version, _ = self._cri(self.pods.client.version)
        version = version.split("~", 1)[0].split("+", 1)[0]  # Debian's "1.6.20~ds1"
        versions = {
            "engine": f"containerd {version}",
            "containerd": version,
            "oci_runtime": oci_runtime_version(self.oci_runtime, self.location),
        }
        if self.location.name:
            versions["node"] = self.location.description
        return versions

    def cgroup_driver(self) -> str:
        return "cgroupfs"  # the node's CRI runs with SystemdCgroup = false

    def bundle_configs(self, container_id: str) -> list[Path]:
        return [self.pods.bundle_config(container_id)]

    def make_image_available(self, image: str) -> None:
        self.pods.require_image(image, docker_image_id(image))

    def image_facts(self, image: str) -> tuple[str, dict[str, str]]:
        self.require_image(image)
        facts = self._cri(self.pods.client.image, image)
        if facts is None:
            raise EnvironmentProblem(f"{self.node.label} has no image {image}")
        return facts.image_id, dict(facts.labels)

    def run_files_dir(self) -> Path | None:
        """The engine sees the host's files where its views say; a run's own files go
        where both see them."""
        if self.node.engine_path("/tmp") == Path("/tmp"):
            return None
        directory = Path(self.node.host_path(self.node.pods_dir)) / "files"
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def answering(self) -> bool:
        try:
            self.pods.client.version()
        except (CriUnavailable, CriCallFailed):
            return False
        return True

    # -- primitives: the run's network is the node's pod network ----------------------
    def create_network(self, run_id: str, *, egress: bool = False) -> RunRoom:
        if egress and not self.node.egress:
            # The CNI bridge is the node's, shared by every run on it: its way out is the
            # node's setting, not one run's.
            raise EnvironmentProblem(
                f"{self.node.label}'s pod network has no way out, so --egress cannot be given",
                "run jobs that read a service outside the pods with --runtime docker",
            )
        return self.pods.open_run(run_id)

    def remove_network(self, network: Any) -> None:
        self.pods.close_run(network)

    def network_record(self, network: Any) -> tuple[tuple[str, str], ...]:
        """The cluster DNS's log of the run's pods' queries (``dns-queries.log``)."""
        assert isinstance(network, RunRoom)
        log = self.pods.daemons.dns.queries_since(network.dns_log_start)
        clients = set(network.addresses)
        lines = [
            line
            for line in log.splitlines()
            if any(q.client in clients for q in parse_query_log(line))
        ]
        return (("dns-queries.log", "".join(f"{line}\n" for line in lines)),)

    def open_pod(self, network: Any | None, pod: PodShape) -> PodSite:
        owns_room = network is None
        room = network if isinstance(network, RunRoom) else self.pods.open_run(_run_of(pod))
        try:
            seccomp = self._seccomp(room, pod.name, pod.seccomp_mode, pod.seccomp_profile)
            opened = self._cri(
                self.pods.open_pod,
                room,
                name=pod.name,
                hostname=pod.hostname,
                namespace=pod.namespace,
                # A pod without a network (the local topology, a one-off command) still
                # gets the node's pod network, as every CRI pod does, but no names.
                service_names=pod.dns_names if pod.networked else (),
                register=pod.networked,
                seccomp=seccomp,
                run_as_user=pod.run_as_user,
                run_as_group=pod.run_as_group,
                cgroup_parent=SANDBOX_CGROUP_PARENT,
                labels=pod.labels,
            )
        except CriCallFailed as failed:
            if not _runtime_could_not_start(failed.details):
                if owns_room:
                    self.pods.close_run(room)
                raise
            reason = f"the pod sandbox: {failed.details[-300:]}"
            return PodSite(address=None, handle=_RefusedPod(reason, room, owns_room))
        except BaseException:
            if owns_room:
                self.pods.close_run(room)
            raise
        address = opened.ip if pod.networked else None
        return PodSite(address=address, handle=_Pod(opened, room, owns_room))

    def close_pod(self, site: PodSite) -> None:
        handle = site.handle
        if isinstance(handle, _Pod):
            self._cri(self.pods.close_pod, handle.pod)
        if isinstance(handle, (_Pod, _RefusedPod)) and handle.owns_room:
            self.pods.close_run(handle.room)

    def pod_record(self, site: PodSite, container: Any) -> PodRecord:
        """The pod's resolv.conf as the runtime wrote it and its /etc/hosts as the kubelet
        writes it (its address and name), and whether its pause process had pause(2)
        denied by the pod's profile."""
        handle = site.handle
        if not isinstance(handle, _Pod):
            return PodRecord()
        pod = handle.pod
        hosts = ""
        with contextlib.suppress(OSError):
            hosts = (pod.directory / "hosts").read_text()
        notes = (_PAUSE_DENIED_NOTE,) if self.pods.pause_denied(pod) else ()
        return PodRecord(files=(("resolv.conf", pod.resolv_conf), ("hosts", hosts)), notes=notes)

    # -- primitives: containers -------------------------------------------------------
    def create(self, shape: ContainerShape, site: PodSite, scratch: Path) -> Any:
        handle = site.handle
        if isinstance(handle, _RefusedPod):
            return _RefusedContainer(handle.reason)
        assert isinstance(handle, _Pod)
        pod = handle.pod
        name = CONTAINER_NAMES[shape.role] if shape.role is not None else MASTER_CONTAINER
        if shape.seccomp_mode == shape.pod.seccomp_mode and (
            shape.seccomp_profile == shape.pod.seccomp_profile
        ):
            seccomp = pod.pod.seccomp  # the pod's own, at the same path
        else:
            seccomp = self._seccomp(
                handle.room, f"{pod.pod.name}.{name}", shape.seccomp_mode, shape.seccomp_profile
            )
        mounts = [CriMount(self.pods.hosts_file(pod), "/etc/hosts")]
        mounts += [
            CriMount(str(self.node.engine_path(bind.source)), bind.target, bind.read_only)
            for bind in shape.binds
        ]
        # emptyDirs: directories the kubelet makes on the node's disk (the CRI mounts no
        # tmpfs; a sizeLimit is enforced by the kubelet's eviction, not by the mount).
        mounts += [CriMount(self.pods.empty_dir(pod, t.path), t.path) for t in shape.tmpfs]
        container = CriContainer(
            name=name,
            image=shape.image,
            args=shape.args,
            env=shape.env,
            seccomp=seccomp,
            log_path=f"{name}/0.log",
            mounts=tuple(mounts),
            run_as_user=shape.user,
            run_as_group=shape.group,
            drop_capabilities=shape.cap_drop,
            add_capabilities=shape.cap_add,
            no_new_privs=shape.no_new_privileges,
            readonly_rootfs=shape.read_only_root,
            privileged=shape.privileged,
            memory_limit_bytes=shape.memory_bytes,
            cpu_limit=shape.cpu_limit,
            labels=shape.labels,
        )
        try:
            created: PodContainer = self._cri(
                self.pods.create, pod, container, shape.pod.cgroup_parent or ""
            )
        except CriCallFailed as failed:
            if self.pods.sandbox_alive(pod.pause_pid, pod.sandbox_id):
                raise
            # The pause process died under the pod's filter once the sandbox had started.
            return _RefusedContainer(_sandbox_stopped(failed.details))
        return created

    def start(self, container: Any) -> None:
        if isinstance(container, _RefusedContainer):
            raise StartRefused(container.reason)
        try:
            self.pods.start(container)
        except CriCallFailed as failed:
            if _runtime_could_not_start(failed.details):
                raise StartRefused(failed.details[-400:]) from failed
            if not self.pods.sandbox_alive(container.pause_pid, container.sandbox_id):
                # The pause process died under the pod's filter after the sandbox started,
                # and took the pod's shim with it ("ttrpc: closed").
                raise StartRefused(_sandbox_stopped(failed.details)) from failed
            raise
        except CriUnavailable as lost:
            raise EngineLost(lost.message) from lost

    def state(self, container: Any) -> ContainerState:
        if isinstance(container, _RefusedContainer):
            return ContainerState(exited=True)
        status = self._cri(self.pods.status, container)
        if status is None:
            return ContainerState(exited=True)
        return ContainerState(
            exited=status.exited, exit_code=status.exit_code, oom_killed=status.oom_killed
        )

    def wait(self, container: Any, timeout: float) -> int | None:
        if isinstance(container, _RefusedContainer):
            return None
        code: int | None = self._cri(self.pods.wait, container, timeout)
        return code

    def logs(self, container: Any) -> tuple[str, str]:
        if isinstance(container, _RefusedContainer):
            return "", ""
        return self.pods.logs(container)

    def host_pid(self, container: Any) -> int:
        if isinstance(container, _RefusedContainer):
            raise EnvironmentProblem(f"the container never started: {container.reason}")
        status = self._cri(self.pods.status, container)
        if status is None or status.pid is None:
            raise EnvironmentProblem(f"the CRI container {container.container_id} has no pid")
        # The CRI's pid is of containerd's PID namespace (a node's): tracers need the host's.
        return self.location.host_pid(status.pid)

    def container_id(self, container: Any) -> str:
        return str(container.container_id)

    def kill(self, container: Any) -> None:
        if not isinstance(container, _RefusedContainer):
            self._cri(self.pods.stop, container, 0)

    def stop(self, container: Any, grace_seconds: float) -> None:
        if not isinstance(container, _RefusedContainer):
            self._cri(self.pods.stop, container, grace_seconds)

    def remove(self, container: Any) -> None:
        if not isinstance(container, _RefusedContainer):
            self._cri(self.pods.remove, container)

    # -- what a crash left --------------------------------------------------------------
    def sweep_orphans(self) -> int:
        """Remove the sandboxes (with their containers) of tool processes that are gone."""
        removed = 0
        with contextlib.suppress(EnvironmentProblem):
            for sandbox_id, labels in self.pods.sandboxes({OWNER_LABEL: OWNER}):
                if left_behind(labels):
                    self._forget(sandbox_id, labels)
                    removed += 1
        return removed

    def cleanup(self, session_only: bool = False) -> int:
        """Remove the tool's sandboxes and their containers: this process's, or every one."""
        selector = {SESSION_LABEL: SESSION} if session_only else {OWNER_LABEL: OWNER}
        removed = 0
        for sandbox_id, labels in self._cri(self.pods.sandboxes, selector):
            self._forget(sandbox_id, labels)
            removed += 1
        return removed

    def _forget(self, sandbox_id: str, labels: dict[str, str]) -> None:
        self.pods.remove_sandbox(sandbox_id)
        run_id = labels.get(RUN_LABEL)
        if run_id and not self.pods.sandboxes({RUN_LABEL: run_id}):
            self.pods.close_run_id(run_id)

    # -- helpers ----------------------------------------------------------------------
    def _seccomp(
        self, room: RunRoom, name: str, mode: SecurityMode, profile: str | None
    ) -> SeccompChoice:
        if mode is SecurityMode.UNCONFINED:
            return SeccompChoice(Seccomp.UNCONFINED)
        if mode is SecurityMode.RUNTIME_DEFAULT:
            return SeccompChoice(Seccomp.RUNTIME_DEFAULT)
        if profile is None:
            raise ValueError("localhost mode needs a profile")
        return self.pods.localhost_profile(room, name, profile)

    def _cri(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        """A CRI call whose unanswered socket is an ``EngineLost`` for the orchestration."""
        try:
            return call(*args, **kwargs)
        except CriUnavailable as lost:
            raise EngineLost(lost.message) from lost


def location_of(node: CriNode) -> EngineLocation:
    """The ``EngineLocation`` of a CRI node: its name, socket, binaries and bundles."""
    return EngineLocation(
        name=node.name,
        socket=Path(node.host_path(node.socket)),
        command_prefix=node.command_prefix,
        binaries=(("containerd", node.containerd_binary), ("ctr", node.ctr_binary), *node.runtimes),
        bundle_roots=(Path(node.host_path(node.task_root)).parent,),
        description=node.description,
        pid_namespace_init=node.pid_namespace_init,
    )


def _run_of(pod: PodShape) -> str:
    """A one-off pod's room: named after its run label, unique to it."""
    run = dict(pod.labels).get(RUN_LABEL, "command")
    return f"{run}-{uuid.uuid4().hex[:6]}"


def _sandbox_stopped(details: str) -> str:
    return f"the pod sandbox stopped before the container started ({details[-300:]})"


def _runtime_could_not_start(details: str) -> bool:
    """Whether a sandbox or container did not start because the OCI runtime could not
    start its process (its init died under the filter), not because the engine failed:
    runc "OCI runtime create/start failed", or an init that died before it was told to
    start ("cannot start a stopped process")."""
    return (
        "OCI runtime" in details
        or "runc create failed" in details
        or "cannot start a stopped process" in details
        # runc 1.3 says it so when the sandbox's init died under the pod's filter.
        or "cannot start a container that has stopped" in details
    )
