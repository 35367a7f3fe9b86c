"""What a backend is asked to run (``RunSpec``) and what it reports back (``RunResult``)."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from profiler.runtime.error_line import error_line
from profiler.workloads import Workload, WorkloadResult


class SecurityMode(str, enum.Enum):
    """The seccomp setting of a run, named as in Kubernetes' seccompProfile.type."""

    UNCONFINED = "unconfined"
    RUNTIME_DEFAULT = "runtime-default"
    LOCALHOST = "localhost"


class PodSecurity(str, enum.Enum):
    """The rest of the security context.

    ``restricted`` mirrors Kubernetes PSS restricted as the Spark Operator docs advise:
    uid/gid 185, all capabilities dropped, no-new-privileges, read-only root filesystem
    with tmpfs where Spark writes, and no network beyond loopback. ``none`` keeps the
    engine's defaults (root, default capabilities, writable root, bridge network).
    """

    RESTRICTED = "restricted"
    NONE = "none"


# Where a hardened Spark container may write: the scratch space and the home directory.
WRITABLE_PATHS = ("/tmp", "/home/spark")
SPARK_UID = 185


@dataclass(frozen=True)
class ContainerSecurity:
    """Everything but seccomp that a pod's security context decides, in container terms.

    ``PodSecurity`` presets map onto this; ``k8s dry-run`` builds one from a manifest.
    ``None`` for user/group means the image's own user.
    """

    user: int | None = None
    group: int | None = None
    cap_drop: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    no_new_privileges: bool = False
    read_only_root: bool = False
    writable_paths: tuple[str, ...] = ()  # tmpfs mounts (emptyDir volumes)
    network: bool = True  # False: loopback only
    privileged: bool = False

    @classmethod
    def preset(cls, pod_security: PodSecurity) -> ContainerSecurity:
        if pod_security is PodSecurity.RESTRICTED:
            return cls(
                user=SPARK_UID,
                group=SPARK_UID,
                cap_drop=("ALL",),
                no_new_privileges=True,
                read_only_root=True,
                writable_paths=WRITABLE_PATHS,
                network=False,
            )
        return cls()


@dataclass(frozen=True)
class RunSpec:
    workload: Workload
    mode: SecurityMode
    image: str
    pod_security: PodSecurity = PodSecurity.RESTRICTED
    # The OCI seccomp profile (JSON text) for LOCALHOST; recording and complain runs put
    # their own profile here too.
    profile_json: str | None = None
    profile_label: str | None = None  # where profile_json came from, for reports
    timeout_seconds: float = 600.0
    env: tuple[tuple[str, str], ...] = ()
    hold_until_traced: bool = False  # the first process waits for a ptrace tracer
    memory_limit: str | None = None
    # Overrides the pod_security preset (k8s dry-run translates a manifest into this).
    security: ContainerSecurity | None = None

    @property
    def container_security(self) -> ContainerSecurity:
        return self.security or ContainerSecurity.preset(self.pod_security)


@dataclass(frozen=True)
class RunResult:
    spec: RunSpec
    exit_code: int | None  # None when the run timed out or never started
    timed_out: bool
    wall_seconds: float
    cpu_seconds: float | None
    stdout: str
    stderr: str
    result: WorkloadResult | None
    run_dir: Path | None = None
    container_id: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def succeeded(self) -> bool:
        return not self.timed_out and self.exit_code == 0

    def last_error_line(self) -> str:
        """The line of stderr most likely to explain a failure (``runtime.error_line``)."""
        return error_line(self.stderr)


class RunObserver:
    """Hooks around a run, for tracers: called with the host pid of the container's first
    process once it started, and after it exited. Default hooks do nothing."""

    def follow_process_tree(self) -> None:
        """Called before ``before_start`` by backends without containers: key the run by
        the process tree rooted at the pid given to ``started``, not a mount namespace."""

    def before_start(self) -> None:
        pass

    def started(self, host_pid: int) -> None:
        pass

    def finished(self) -> None:
        pass


class Backend(ABC):
    """Runs one workload under one security mode; never leaves anything running."""

    name: str

    @abstractmethod
    def run(
        self, spec: RunSpec, run_dir: Path | None = None, observer: RunObserver | None = None
    ) -> RunResult: ...

    def honours_default_errno(self, image: str) -> bool:
        """Whether a profile's ``defaultErrnoRet`` reaches the program. libseccomp honours
        it; an engine that converts profiles may not (the Docker backend probes)."""
        return True

    @abstractmethod
    def cleanup(self) -> int:
        """Remove anything this tool started that is still around; returns how many."""
