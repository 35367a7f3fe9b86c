"""What the kubelet asks of a CRI runtime for one pod, as pure values (no engine needed).

The kubelet turns a Pod into a ``PodSandboxConfig`` (its name, uid and namespace, host
name, log directory, the cluster DNS, the pod-level security context: run-as user and
group, the pod's seccomp profile, which also confines the sandbox's pause process) and
each container into a ``ContainerConfig`` (the image, no command so the image's
entrypoint runs, the arguments and environment, the container's security context:
capabilities, no_new_privs, read-only root, run-as user and group, the masked and
read-only /proc paths the kubelet always sends, its seccomp profile; resources; volumes as
bind mounts of directories the kubelet made; the log path under the pod's log directory).
This module builds both from ``CriPod`` and ``CriContainer``, which say the same in plain
terms, and writes the two files the kubelet itself makes for a pod: ``/etc/hosts`` and
the Localhost profile under ``<kubelet-root>/seccomp``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from profiler.runtime.cluster_dns import DnsConfig

if TYPE_CHECKING:
    from cri_api.v1 import api_pb2 as cri

# What the kubelet sends for procMount: Default (pkg/securitycontext), in its order.
MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
# The kubelet's CFS period, and the oom_score_adj it gives containers of a Guaranteed pod
# (every Spark pod with equal requests and limits). The runtime clamps it where the host
# cannot lower scores (``CriNode.restrict_oom_score_adj``).
CPU_PERIOD_US = 100_000
GUARANTEED_OOM_SCORE_ADJ = -997
# Where the kubelet's Localhost profiles live, under its root.
SECCOMP_DIR = "seccomp"


class Seccomp(str, enum.Enum):
    RUNTIME_DEFAULT = "RuntimeDefault"
    UNCONFINED = "Unconfined"
    LOCALHOST = "Localhost"


@dataclass(frozen=True)
class SeccompChoice:
    """A seccomp profile as the kubelet passes it: a type, and for Localhost the profile's
    absolute path on the node (``<kubelet-root>/seccomp/<localhostProfile>``)."""

    kind: Seccomp
    localhost_path: str | None = None


@dataclass(frozen=True)
class CriPod:
    """One pod sandbox."""

    name: str
    uid: str
    namespace: str
    hostname: str
    log_directory: str  # engine view
    dns: DnsConfig | None  # None: the runtime's default (the node's resolv.conf)
    seccomp: SeccompChoice
    run_as_user: int | None = None
    run_as_group: int | None = None
    cgroup_parent: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CriMount:
    host_path: str  # engine view
    container_path: str
    read_only: bool = False


@dataclass(frozen=True)
class CriContainer:
    """One container of a pod."""

    name: str  # the container's name in the pod spec ("spark-kubernetes-driver")
    image: str
    args: tuple[str, ...]  # the image's entrypoint gets them: no command is sent
    env: tuple[tuple[str, str], ...]
    seccomp: SeccompChoice
    log_path: str  # relative to the pod's log directory
    mounts: tuple[CriMount, ...] = ()
    run_as_user: int | None = None
    run_as_group: int | None = None
    drop_capabilities: tuple[str, ...] = ()
    add_capabilities: tuple[str, ...] = ()
    no_new_privs: bool = False
    readonly_rootfs: bool = False
    privileged: bool = False
    memory_limit_bytes: int | None = None
    cpu_limit: float | None = None
    labels: tuple[tuple[str, str], ...] = field(default=())


def kubernetes_labels(pod: CriPod) -> dict[str, str]:
    """The labels the kubelet puts on a sandbox (and, with the container's name, on each
    container), besides the pod's own."""
    return {
        "io.kubernetes.pod.name": pod.name,
        "io.kubernetes.pod.namespace": pod.namespace,
        "io.kubernetes.pod.uid": pod.uid,
    }


def security_profile(choice: SeccompChoice) -> cri.SecurityProfile:
    from cri_api.v1 import api_pb2 as cri

    kind = {
        Seccomp.RUNTIME_DEFAULT: cri.SecurityProfile.RuntimeDefault,
        Seccomp.UNCONFINED: cri.SecurityProfile.Unconfined,
        Seccomp.LOCALHOST: cri.SecurityProfile.Localhost,
    }[choice.kind]
    if choice.kind is Seccomp.LOCALHOST:
        if not choice.localhost_path or not choice.localhost_path.startswith("/"):
            raise ValueError("a Localhost profile is passed as an absolute path on the node")
        return cri.SecurityProfile(profile_type=kind, localhost_ref=choice.localhost_path)
    return cri.SecurityProfile(profile_type=kind)


def sandbox_config(pod: CriPod) -> cri.PodSandboxConfig:
    from cri_api.v1 import api_pb2 as cri

    security = cri.LinuxSandboxSecurityContext(
        namespace_options=cri.NamespaceOption(network=cri.POD, pid=cri.CONTAINER, ipc=cri.POD),
        seccomp=security_profile(pod.seccomp),
    )
    if pod.run_as_user is not None:
        security.run_as_user.value = pod.run_as_user
    if pod.run_as_group is not None:
        security.run_as_group.value = pod.run_as_group
    config = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(
            name=pod.name, uid=pod.uid, namespace=pod.namespace, attempt=0
        ),
        hostname=pod.hostname,
        log_directory=pod.log_directory,
        labels={**dict(pod.labels), **kubernetes_labels(pod)},
        linux=cri.LinuxPodSandboxConfig(
            cgroup_parent=pod.cgroup_parent,
            security_context=security,
            sysctls=dict(pod.sysctls),
        ),
    )
    if pod.dns is not None:
        config.dns_config.CopyFrom(
            cri.DNSConfig(
                servers=list(pod.dns.servers),
                searches=list(pod.dns.searches),
                options=list(pod.dns.options),
            )
        )
    return config


def container_config(
    pod: CriPod, container: CriContainer, *, oom_score_adj: int = GUARANTEED_OOM_SCORE_ADJ
) -> cri.ContainerConfig:
    from cri_api.v1 import api_pb2 as cri

    security = cri.LinuxContainerSecurityContext(
        capabilities=cri.Capability(
            add_capabilities=list(container.add_capabilities),
            drop_capabilities=list(container.drop_capabilities),
        ),
        privileged=container.privileged,
        namespace_options=cri.NamespaceOption(network=cri.POD, pid=cri.CONTAINER, ipc=cri.POD),
        readonly_rootfs=container.readonly_rootfs,
        no_new_privs=container.no_new_privs,
        masked_paths=[] if container.privileged else list(MASKED_PATHS),
        readonly_paths=[] if container.privileged else list(READONLY_PATHS),
        seccomp=security_profile(container.seccomp),
    )
    if container.run_as_user is not None:
        security.run_as_user.value = container.run_as_user
    if container.run_as_group is not None:
        security.run_as_group.value = container.run_as_group
    resources = cri.LinuxContainerResources(oom_score_adj=oom_score_adj)
    if container.memory_limit_bytes:
        resources.memory_limit_in_bytes = container.memory_limit_bytes
    if container.cpu_limit:
        resources.cpu_period = CPU_PERIOD_US
        resources.cpu_quota = int(container.cpu_limit * CPU_PERIOD_US)
        # Requests equal limits (Guaranteed): shares as the kubelet computes them.
        resources.cpu_shares = max(2, int(container.cpu_limit * 1024))
    labels = {
        **dict(container.labels),
        **kubernetes_labels(pod),
        "io.kubernetes.container.name": container.name,
    }
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=container.name, attempt=0),
        image=cri.ImageSpec(image=container.image),
        args=list(container.args),
        envs=[cri.KeyValue(key=key, value=value) for key, value in container.env],
        mounts=[
            cri.Mount(
                container_path=mount.container_path,
                host_path=mount.host_path,
                readonly=mount.read_only,
            )
            for mount in sorted(container.mounts, key=lambda m: m.container_path)
        ],
        labels=labels,
        log_path=container.log_path,
        linux=cri.LinuxContainerConfig(resources=resources, security_context=security),
    )


def etc_hosts(hostname: str, ip: str | None) -> str:
    """The /etc/hosts the kubelet writes for a pod on the pod network and mounts in each
    of its containers (the pod's own name resolves to its address)."""
    lines = [
        "# Kubernetes-managed hosts file.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::0\tip6-mcastprefix",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
    ]
    if ip:
        lines.append(f"{ip}\t{hostname}")
    return "\n".join(lines) + "\n"
