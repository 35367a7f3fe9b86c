"""The shape of one container of a run, engine-neutral: what every engine is asked to start.

``pod_shape`` and ``container_shape`` turn a planned container (``pod.ContainerPlan``) and
the run's spec into value objects: the pod it lives in (``PodShape``: its name and host
name, whether it has a network, the names other pods reach it by, its cgroup parent and
sysctls, the labels that say whose it is) and the container itself (``ContainerShape``:
the image and the arguments its own entrypoint gets, the environment, the security context
with its seccomp mode and profile, emptyDirs as tmpfs, host directories as binds, memory and
CPU limits). Each engine only translates these into its own API
(``profiler.runtime.dockerapi``, ``profiler.runtime.containerd``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from profiler.runtime.interface import SPARK_LOCAL_DIR, Role, RunSpec, SecurityMode
from profiler.runtime.ownership import (
    MODE_LABEL,
    ROLE_LABEL,
    RUN_LABEL,
    WORKLOAD_LABEL,
    owner_labels,
)
from profiler.runtime.pod import NAMESPACE, ContainerPlan

# Kubernetes emptyDir volumes are not noexec (Docker's tmpfs default is, and snappy/zstd
# load native libraries they unpack into /tmp), and anyone may write them (mode 1777).
EMPTYDIR_OPTIONS = ("rw", "exec", "nosuid", "nodev", "mode=1777")
# What an emptyDir without a sizeLimit may hold, in tmpfs' size syntax.
EMPTYDIR_DEFAULT_SIZE = "4g"
# A pod's network namespace has IPv6 (at least ::1) even on IPv4-only clusters; Docker
# turns it off, and then the JVM resolves names for IPv4 only (one query per name instead
# of glibc's parallel A and AAAA queries, which need sendmmsg).
POD_SYSCTLS = (
    ("net.ipv6.conf.all.disable_ipv6", "0"),
    ("net.ipv6.conf.default.disable_ipv6", "0"),
)
# With no network the container's own name resolves nowhere and the JVM dies, so a pod
# without a network is called localhost.
LOOPBACK_HOSTNAME = "localhost"
_MEMORY_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


@dataclass(frozen=True)
class Tmpfs:
    """An emptyDir: a tmpfs owned by the pod's user (whatever the image has at the path)."""

    path: str
    size: str = EMPTYDIR_DEFAULT_SIZE  # tmpfs' size= syntax: "4g", or bytes
    uid: int | None = None
    gid: int | None = None

    def options(self) -> tuple[str, ...]:
        """The tmpfs mount options (mount(8)), owner last."""
        owner = (f"uid={self.uid}", f"gid={self.gid}") if self.uid is not None else ()
        return (*EMPTYDIR_OPTIONS, f"size={self.size}", *owner)


@dataclass(frozen=True)
class Bind:
    """A host directory in the container."""

    source: str
    target: str
    read_only: bool = True


@dataclass(frozen=True)
class PodShape:
    """The pod one container lives in, as the engine makes room for it (``open_pod``)."""

    name: str  # the pod's name
    hostname: str
    networked: bool  # False: loopback only
    # Every name other pods of the run must resolve to this pod's address besides its
    # host name: the driver's Service names, as a cluster's DNS answers for them.
    dns_names: tuple[str, ...] = ()
    # The namespace those names live in: a pod's resolv.conf searches
    # <namespace>.svc.cluster.local, svc.cluster.local and cluster.local.
    namespace: str = NAMESPACE
    cgroup_parent: str | None = None  # where the engine puts the container's cgroup
    sysctls: tuple[tuple[str, str], ...] = POD_SYSCTLS
    labels: tuple[tuple[str, str], ...] = ()
    # The pod-level security context, for engines that run a pod sandbox (the CRI): the
    # pod's seccomp profile, which confines the sandbox's pause process too, and its
    # run-as user and group. These are the role's own: the tool's manifests put a role's
    # profile on the Spark container and RuntimeDefault at pod level, but users put it at
    # pod level too, and a sandbox that starts under the role's profile starts under
    # RuntimeDefault as well; the master's pod is unconfined.
    seccomp_mode: SecurityMode = SecurityMode.UNCONFINED
    seccomp_profile: str | None = None  # the OCI profile (JSON text) for LOCALHOST
    run_as_user: int | None = None
    run_as_group: int | None = None


@dataclass(frozen=True)
class ContainerShape:
    """Everything one container is started with, in no engine's terms."""

    pod: PodShape
    role: Role | None  # None: the standalone master, no part of the application
    image: str
    args: tuple[str, ...]  # given to the image's own entrypoint
    env: tuple[tuple[str, str], ...]
    seccomp_mode: SecurityMode
    seccomp_profile: str | None = None  # the OCI profile (JSON text) for LOCALHOST
    user: int | None = None  # None: the image's user
    group: int | None = None
    cap_drop: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    privileged: bool = False
    no_new_privileges: bool = False
    read_only_root: bool = False
    tmpfs: tuple[Tmpfs, ...] = ()
    binds: tuple[Bind, ...] = ()
    memory_bytes: int | None = None  # the limit covers everything: nodes run without swap
    cpu_limit: float | None = None
    labels: tuple[tuple[str, str], ...] = ()  # the pod's and the container's own

    @property
    def user_spec(self) -> str | None:
        """``uid:gid`` as engines take it, or None for the image's user."""
        if self.user is None:
            return None
        return f"{self.user}:{self.group if self.group is not None else self.user}"


def pod_shape(
    plan: ContainerPlan,
    spec: RunSpec,
    run_id: str,
    *,
    networked: bool,
    cgroup_parent: str | None = None,
) -> PodShape:
    """The pod of a planned container (the master's too)."""
    labels = {
        **owner_labels(),
        RUN_LABEL: run_id,
        WORKLOAD_LABEL: spec.workload.name,
        ROLE_LABEL: plan.role.value if plan.role else "master",
    }
    settings = plan.settings
    security = settings.security if settings is not None else None
    user = security.user if security is not None else None
    group = security.group if security is not None and security.group is not None else user
    return PodShape(
        name=plan.name,
        hostname=plan.name if networked else LOOPBACK_HOSTNAME,
        networked=networked,
        dns_names=plan.dns_names,
        cgroup_parent=cgroup_parent,
        labels=tuple(sorted(labels.items())),
        seccomp_mode=settings.mode if settings is not None else SecurityMode.UNCONFINED,
        seccomp_profile=settings.profile_json if settings is not None else None,
        run_as_user=user,
        run_as_group=group,
    )


def container_shape(
    plan: ContainerPlan, pod: PodShape, spec: RunSpec, binds: tuple[Bind, ...] = ()
) -> ContainerShape:
    """One planned container (at its address) in its pod, with the run's ``binds``."""
    settings = plan.settings
    image = settings.image if settings is not None else spec.image
    if settings is None:
        # The standalone master stands in for the API server: no filter, engine defaults.
        return ContainerShape(
            pod=pod,
            role=None,
            image=image,
            args=plan.args,
            env=plan.env,
            seccomp_mode=SecurityMode.UNCONFINED,
            binds=binds,
            labels=(*pod.labels, (MODE_LABEL, "none")),
        )
    if settings.mode is SecurityMode.LOCALHOST and settings.profile_json is None:
        raise ValueError("localhost mode needs a profile")
    if settings.mode is not SecurityMode.LOCALHOST and settings.profile_json is not None:
        raise ValueError("a profile is only used in localhost mode")
    security = settings.security
    group = security.group if security.group is not None else security.user
    # An emptyDir is writable by the pod's user whatever the image has at that path; the
    # engines give a tmpfs over an existing directory that directory's mode, so the owner
    # is set to the pod's user. Spark mounts one for its local dirs on every pod.
    tmpfs = [Tmpfs(path, uid=security.user, gid=group) for path in security.writable_paths]
    tmpfs.append(Tmpfs(SPARK_LOCAL_DIR, uid=security.user, gid=group))
    own_binds = list(binds)
    for mount in settings.mounts:
        if mount.source is None:
            size = str(mount.size_bytes) if mount.size_bytes else EMPTYDIR_DEFAULT_SIZE
            tmpfs.append(Tmpfs(mount.target, size, uid=security.user, gid=group))
        else:
            own_binds.append(Bind(mount.source, mount.target, mount.read_only))
    return ContainerShape(
        pod=pod,
        role=plan.role,
        image=image,
        args=plan.args,
        env=plan.env,
        seccomp_mode=settings.mode,
        seccomp_profile=settings.profile_json,
        user=security.user,
        group=group,
        cap_drop=security.cap_drop,
        cap_add=security.cap_add,
        privileged=security.privileged,
        no_new_privileges=security.no_new_privileges,
        read_only_root=security.read_only_root,
        tmpfs=tuple(tmpfs),
        binds=tuple(own_binds),
        memory_bytes=memory_bytes(settings.memory_limit) if settings.memory_limit else None,
        cpu_limit=settings.cpu_limit or None,
        labels=(*pod.labels, (MODE_LABEL, settings.mode.value)),
    )


def memory_bytes(limit: str) -> int:
    """A container memory limit in Docker's units (``"1408m"``, ``"2g"``, bytes) in bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*", limit.lower())
    if not match:
        raise ValueError(f"not a memory limit: {limit!r}")
    return int(float(match[1]) * _MEMORY_UNITS.get(match[2], 1))
