"""What a backend is asked to run (``RunSpec``) and what it reports back (``RunResult``).

A run has a *topology*: ``pod`` is the shape a Spark Operator application has in a cluster
(a driver container and executor containers on a network, each started through the
image's own entrypoint with its own security settings); ``local`` is one container that
runs the driver and, with a local master, the executors' code as well.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from profiler.runtime.error_line import error_line
from profiler.vocabulary import (
    DEFAULT_EXECUTORS,
    SPARK_LOCAL_DIR,
    SPARK_UID,
    WRITABLE_PATHS,
    PodSecurity,
    Role,
    SecurityMode,
    Topology,
)
from profiler.workloads import Workload, WorkloadResult

# Re-exported: backends and their callers have always found these here.
__all__ = [
    "DEFAULT_EXECUTORS",
    "SPARK_LOCAL_DIR",
    "SPARK_UID",
    "WRITABLE_PATHS",
    "Backend",
    "ContainerEngine",
    "ContainerRef",
    "ContainerResult",
    "ContainerSecurity",
    "LabelledProfile",
    "Mount",
    "PodSecurity",
    "ProfileSet",
    "ResolvedRole",
    "Role",
    "RoleSettings",
    "RunObserver",
    "RunResult",
    "RunSpec",
    "SecurityMode",
    "Topology",
    "last_error_line",
]


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
class Mount:
    """A volume of a pod, as the engine can give it: tmpfs (emptyDir) or a host directory."""

    target: str  # path in the container
    source: str | None = None  # host path for a bind mount; None for tmpfs
    read_only: bool = False
    size_bytes: int | None = None  # tmpfs size (an emptyDir's sizeLimit)


@dataclass(frozen=True)
class RoleSettings:
    """How the containers of one role differ from the run's own settings.

    Every field left at None takes the run's value; check and record set per-role profiles,
    k8s dry-run a manifest's whole driver and executor settings.
    """

    mode: SecurityMode | None = None
    profile_json: str | None = None
    profile_label: str | None = None
    security: ContainerSecurity | None = None
    env: tuple[tuple[str, str], ...] = ()
    memory_limit: str | None = None  # the container's limit, in the engine's units ("1408m")
    cpu_limit: float | None = None
    cores: int | None = None
    memory: str | None = None  # the JVM's heap, as Spark writes it ("1g", "1024m")
    mounts: tuple[Mount, ...] = ()
    image: str | None = None  # a manifest's executor may name another image


@dataclass(frozen=True)
class ResolvedRole:
    """Everything one container of a role is started with (``RunSpec.settings_for``)."""

    role: Role
    mode: SecurityMode
    profile_json: str | None
    profile_label: str | None
    security: ContainerSecurity
    env: tuple[tuple[str, str], ...]
    memory_limit: str | None
    cpu_limit: float | None
    cores: int
    memory: str
    mounts: tuple[Mount, ...]
    image: str


DEFAULT_CORES = 1
DEFAULT_MEMORY = "1g"


@dataclass(frozen=True)
class RunSpec:
    workload: Workload
    mode: SecurityMode
    image: str
    pod_security: PodSecurity = PodSecurity.RESTRICTED
    # The OCI seccomp profile (JSON text) for LOCALHOST; recording and complain runs put
    # their own profile here too. Per-role profiles go into ``driver`` / ``executor``.
    profile_json: str | None = None
    profile_label: str | None = None  # where profile_json came from, for reports
    timeout_seconds: float = 600.0
    env: tuple[tuple[str, str], ...] = ()
    hold_until_traced: bool = False  # each container's first process waits for a tracer
    memory_limit: str | None = None
    # Overrides the pod_security preset (k8s dry-run translates a manifest into this).
    security: ContainerSecurity | None = None
    topology: Topology = Topology.POD
    executors: int = DEFAULT_EXECUTORS  # executor containers in the pod topology
    driver: RoleSettings = field(default_factory=RoleSettings)
    executor: RoleSettings = field(default_factory=RoleSettings)
    # What the submission adds: --conf pairs (a manifest's sparkConf) and the application's
    # own arguments.
    spark_conf: tuple[tuple[str, str], ...] = ()
    app_args: tuple[str, ...] = ()
    # The application as the driver is given it, when it lies in the image already
    # ("local:///opt/spark/examples/src/main/python/pi.py"); None: the workload's script,
    # mounted read-only at /job in every container as if the image held it.
    application: str | None = None

    @property
    def container_security(self) -> ContainerSecurity:
        return self.security or ContainerSecurity.preset(self.pod_security)

    @property
    def roles(self) -> tuple[Role, ...]:
        """The container roles this run starts (executors only when the pod has them)."""
        if self.topology is Topology.LOCAL:
            return (Role.ALL,)
        return (Role.DRIVER, Role.EXECUTOR) if self.executors > 0 else (Role.DRIVER,)

    def settings_for(self, role: Role) -> ResolvedRole:
        """The run's settings with the role's overrides applied (the local container takes
        the driver's, as a driver pod running a local master would)."""
        own = self.executor if role is Role.EXECUTOR else self.driver
        if role is Role.ALL:
            # One container runs everything, under the run's own (union) profile.
            own = replace(self.driver, profile_json=None, profile_label=None)
        mode = own.mode or self.mode
        profile_json = own.profile_json if own.profile_json is not None else self.profile_json
        label = own.profile_label if own.profile_json is not None else self.profile_label
        if mode is not SecurityMode.LOCALHOST:
            profile_json, label = None, None
        return ResolvedRole(
            role=role,
            mode=mode,
            profile_json=profile_json,
            profile_label=label,
            security=own.security or self.container_security,
            env=(*self.env, *own.env),
            memory_limit=own.memory_limit or self.memory_limit,
            cpu_limit=own.cpu_limit,
            cores=own.cores or DEFAULT_CORES,
            memory=own.memory or DEFAULT_MEMORY,
            mounts=own.mounts,
            image=own.image or self.image,
        )


@dataclass(frozen=True)
class LabelledProfile:
    text: str  # OCI seccomp JSON
    label: str  # where it came from, for reports


@dataclass(frozen=True)
class ProfileSet:
    """The Localhost profiles of a run: one for every container (``union``), and for the
    pod topology optionally one per role. A local run's one container takes the union."""

    union: LabelledProfile
    driver: LabelledProfile | None = None
    executor: LabelledProfile | None = None

    def for_role(self, role: Role) -> LabelledProfile:
        own = {Role.DRIVER: self.driver, Role.EXECUTOR: self.executor}.get(role)
        return own or self.union

    @property
    def per_role(self) -> bool:
        return self.driver is not None or self.executor is not None

    def label(self, topology: Topology) -> str:
        if topology is Topology.LOCAL or not self.per_role:
            return self.union.label
        return (
            f"driver {self.for_role(Role.DRIVER).label}, "
            f"executor {self.for_role(Role.EXECUTOR).label}"
        )

    def apply(self, spec: RunSpec) -> RunSpec:
        """``spec`` with these profiles: the union as the run's, each role's as its own."""
        from dataclasses import replace

        driver, executor = self.for_role(Role.DRIVER), self.for_role(Role.EXECUTOR)
        return replace(
            spec,
            profile_json=self.union.text,
            profile_label=self.union.label,
            driver=replace(spec.driver, profile_json=driver.text, profile_label=driver.label),
            executor=replace(
                spec.executor, profile_json=executor.text, profile_label=executor.label
            ),
        )

    @classmethod
    def single(cls, text: str, label: str) -> ProfileSet:
        return cls(LabelledProfile(text, label))


@dataclass(frozen=True)
class ContainerResult:
    """One container of a run: a driver or executor pod, or the local container."""

    role: Role
    name: str
    exit_code: int | None  # None when it timed out or never started
    timed_out: bool
    wall_seconds: float
    cpu_seconds: float | None
    stdout: str
    stderr: str
    oom_killed: bool = False
    # Stopped by the run after the driver ended, as the operator deletes executor pods.
    stopped_after_driver: bool = False
    # A driver stopped by the run because every executor pod had exited under it.
    orphaned: bool = False
    # The OCI runtime could not start the container (its own init died under the filter).
    start_error: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def succeeded(self) -> bool:
        if self.start_error is not None:
            return False
        if self.stopped_after_driver:
            return True
        return not self.timed_out and not self.oom_killed and self.exit_code == 0

    def last_error_line(self) -> str:
        if self.start_error is not None:
            # The runtime's init dies in Go's runtime: its first line names what failed
            # ("futexwakeup addr=0x... returned -1"), the rest is the panic.
            lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
            said = lines[0] if lines else ""
            return (
                f"the OCI runtime could not start the container under its seccomp profile "
                f"({self.start_error})" + (f"; it said: {said}" if said else "")
            )[:400]
        return last_error_line(self.stderr, self.stdout)


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
    # Every container of the run, the driver (or the local container) first. The fields
    # above (exit code, output) are the driver's.
    containers: tuple[ContainerResult, ...] = ()

    @property
    def succeeded(self) -> bool:
        if self.timed_out or self.exit_code != 0:
            return False
        return all(c.succeeded for c in self.containers)

    def failed_container(self) -> ContainerResult | None:
        """The first container that failed, the driver before the executors."""
        return next((c for c in self.containers if not c.succeeded), None)

    def last_error_line(self) -> str:
        """The line of its output most likely to explain a failure."""
        return last_error_line(self.stderr, self.stdout)


def last_error_line(stderr: str, stdout: str = "") -> str:
    """The line of a container's output most likely to explain its failure
    (``runtime.error_line``)."""
    return error_line(stderr, stdout)


@dataclass(frozen=True)
class ContainerRef:
    """Which container a tracer is told about: its role and its name (the pod's name)."""

    role: Role
    name: str


class RunObserver:
    """Hooks around a run, for tracers: ``started`` with the host pid of each container's
    first process once it started (a pod run starts several), and ``finished`` after the
    last one exited. Default hooks do nothing."""

    def follow_process_tree(self) -> None:
        """Called before ``before_start`` by backends without containers: key the run by
        the process tree rooted at the pid given to ``started``, not a mount namespace."""

    def before_start(self) -> None:
        pass

    def started(self, host_pid: int, container: ContainerRef) -> None:
        pass

    def finished(self) -> None:
        pass


class Backend(ABC):
    """Runs one workload under one security mode; never leaves anything running."""

    name: str

    @property
    def label(self) -> str:
        """What reports call this backend: the engine and its OCI runtime ("podman/crun")."""
        return self.name

    @abstractmethod
    def run(
        self, spec: RunSpec, run_dir: Path | None = None, observer: RunObserver | None = None
    ) -> RunResult: ...

    def topology_for(self, requested: Topology, note: Callable[[str], None]) -> Topology:
        """The topology this backend runs when asked for ``requested`` (and says why when
        it cannot give it)."""
        return requested

    def honours_default_errno(self, image: str) -> bool:
        """Whether a profile's ``defaultErrnoRet`` reaches the program. libseccomp honours
        it; an engine that converts profiles may not (the Docker backend probes)."""
        return True

    @abstractmethod
    def cleanup(self) -> int:
        """Remove anything this tool started that is still around; returns how many."""


class ContainerEngine(Backend):
    """A backend on a container engine (Docker, Podman, containerd): besides whole runs it
    runs one-off commands, reads the RuntimeDefault filter it hands its OCI runtime, and
    says what it is. Nothing above ``profiler.runtime`` knows which engine it talks to."""

    oci_runtime: str

    @property
    def label(self) -> str:
        return f"{self.name}/{self.oci_runtime}"

    @abstractmethod
    def run_command(
        self,
        image: str,
        argv: Sequence[str],
        mode: SecurityMode,
        profile_json: str | None = None,
        security: ContainerSecurity | None = None,
        *,
        mounts: Mapping[str, str] | None = None,
        timeout_seconds: float = 120.0,
    ) -> tuple[int | None, str, str]:
        """(exit code or None on timeout, stdout, stderr) of ``argv`` through the image's
        entrypoint in the shape of a workload's local container; always removed."""

    @abstractmethod
    def runtime_default_filter(self, image: str) -> tuple[str, dict[str, Any]] | None:
        """(where it was read, the ``linux.seccomp`` object) the engine hands the OCI
        runtime for a RuntimeDefault container with the restricted settings; None when
        the bundle cannot be read here."""

    @abstractmethod
    def versions(self) -> dict[str, str]:
        """``engine`` ("docker 20.10.24"), ``oci_runtime`` ("runc 1.1.5") and, where the
        engine has one, ``containerd``."""

    @abstractmethod
    def require_image(self, image: str) -> None:
        """Make ``image`` available to the engine (moving it from Docker by save/load when
        only Docker has it), or raise ``EnvironmentProblem``."""

    @abstractmethod
    def image_facts(self, image: str) -> tuple[str, dict[str, str]]:
        """(image id, labels) of an available image."""

    def cgroup_driver(self) -> str:
        return "unknown"
