"""`k8s dry-run`: will a SparkApplication, as written, run under its own security settings?

Planning (pure) turns each role's effective security (``translate.security_from_manifest``)
into one local run, resolving the seccomp profile as the kubelet would: ``localhostProfile``
relative to a directory that plays ``<kubelet-root>/seccomp``, RuntimeDefault as the
engine's default, Unconfined or nothing as no filter. A profile the kubelet could not load
is a planned failure in the kubelet's words, and no container is started for it.

Each role runs the whole job in Spark local mode: local mode runs the driver's code path
(spark-submit -> JVM -> Python driver over py4j) and the executor's (task threads in the
JVM forking ``pyspark.daemon`` Python workers) in one container, so the executor pod's
settings are exercised by the same job as the driver's. A role passes when the job exits 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from profiler import workloads as workloads_lib
from profiler.check import Verdict, judge
from profiler.errors import EnvironmentProblem, UsageError
from profiler.k8s import paths
from profiler.k8s.translate import ROLES, RoleSecurity, security_from_manifest
from profiler.runtime.interface import Backend, RunSpec, SecurityMode
from profiler.seccomp.profile import load_profile_text
from profiler.workloads import Workload

# Application file schemes that name something we cannot read from here.
_IN_IMAGE = "local://"
_HOST = "file://"


@dataclass(frozen=True)
class CannotStart:
    """The pod would never start its container; ``reason`` is the pod status the kubelet sets."""

    reason: str
    message: str
    short: str = ""  # a few words for a table cell

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


@dataclass(frozen=True)
class RolePlan:
    role: str
    seccomp: str  # as the manifest says it, e.g. "Localhost spark-seccomp/driver.json"
    user: str  # uid[:gid] as the manifest sets it, or "image" for the image's own user
    run: RunSpec | CannotStart
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DryRunPlan:
    image: str
    image_from_manifest: bool
    workload: Workload
    roles: tuple[RolePlan, ...]
    notes: tuple[str, ...] = ()

    @property
    def runnable(self) -> bool:
        """Whether any role gets as far as starting a container."""
        return any(isinstance(r.run, RunSpec) for r in self.roles)


@dataclass(frozen=True)
class RoleOutcome:
    plan: RolePlan
    verdict: Verdict
    wall_seconds: float | None  # None when no container was started
    error_line: str
    run_dir: str | None = None
    short_error: str = ""  # for a table cell; error_line says it all

    @property
    def started(self) -> bool:
        return self.wall_seconds is not None


@dataclass(frozen=True)
class DryRunReport:
    plan: DryRunPlan
    outcomes: tuple[RoleOutcome, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return all(o.verdict.ok for o in self.outcomes)


def find_sparkapp(documents: list[Any], file: str) -> dict[str, Any]:
    """The one SparkApplication among a file's documents."""
    apps = [d for d in documents if isinstance(d, dict) and d.get("kind") == "SparkApplication"]
    if not apps:
        raise UsageError(f"{file} holds no SparkApplication", "pass the SparkApplication manifest")
    if len(apps) > 1:
        raise UsageError(
            f"{file} holds {len(apps)} SparkApplications", "put the one to dry-run in its own file"
        )
    return apps[0]


def plan_dry_run(
    manifest: Any,
    profiles_dir: Path,
    *,
    workload: str | None = None,
    image: str | None = None,
    timeout_seconds: float = 600.0,
) -> DryRunPlan:
    """What each role will run with, or why its pod would not start (pure: reads files only).

    ``profiles_dir`` stands for ``<kubelet-root>/seccomp`` on the node.
    """
    security = security_from_manifest(manifest)
    spec = manifest.get("spec") if isinstance(manifest.get("spec"), dict) else {}
    notes: list[str] = []
    job = _workload(spec, workload, notes)
    chosen_image = image or spec.get("image")
    if not isinstance(chosen_image, str) or not chosen_image:
        raise UsageError(
            "the manifest names no spec.image", "pass --image with a local Spark image"
        )
    if spec.get("type") not in (None, "Python"):
        notes.append(
            f"the application type is {spec.get('type')}; the dry-run runs the PySpark job "
            f"{job.name}, whose system calls can differ from the real application's"
        )
    if spec.get("arguments"):
        notes.append("spec.arguments are not passed to the job in a dry-run")
    roles = tuple(
        _plan_role(security[role], profiles_dir, job, chosen_image, timeout_seconds)
        for role in ROLES
    )
    return DryRunPlan(chosen_image, image is None, job, roles, tuple(notes))


def _workload(spec: dict[str, Any], requested: str | None, notes: list[str]) -> Workload:
    main = spec.get("mainApplicationFile")
    host_file = _host_file(main)
    if requested is not None:
        if host_file is not None:
            notes.append(f"--workload {requested} runs instead of mainApplicationFile {main}")
        return workloads_lib.resolve(requested)
    if host_file is not None:
        return workloads_lib.resolve(str(host_file.resolve()))
    if not isinstance(main, str) or not main:
        why = "the manifest names no mainApplicationFile"
    elif main.startswith(_IN_IMAGE):
        why = f"mainApplicationFile {main} is a path inside the image, not a file here"
    elif "://" in main:
        why = f"mainApplicationFile {main} is remote and cannot be fetched here"
    else:
        why = f"mainApplicationFile {main} does not exist here"
    raise UsageError(why, "pass --workload with a catalogue name or a path to the job's .py file")


def _host_file(main: Any) -> Path | None:
    if not isinstance(main, str) or not main:
        return None
    if main.startswith(_HOST):
        candidate = Path(main[len(_HOST) :])
    elif "://" in main:
        return None
    else:
        candidate = Path(main)
    return candidate if candidate.is_file() else None


def _plan_role(
    role: RoleSecurity, profiles_dir: Path, job: Workload, image: str, timeout_seconds: float
) -> RolePlan:
    container = role.container
    user = "image" if container.user is None else str(container.user)
    if container.user is not None and container.group is not None:
        user += f":{container.group}"
    notes: list[str] = []
    kind, localhost = role.seccomp.type, role.seccomp.localhost_profile
    profile_json: str | None = None
    label = kind or "Unconfined (not set)"
    if kind == "Localhost":
        label = f"Localhost {localhost}" if localhost else "Localhost"
        loaded = _load_localhost(localhost, profiles_dir)
        if isinstance(loaded, CannotStart):
            return RolePlan(role.role, label, user, loaded)
        profile_json = loaded
        mode = SecurityMode.LOCALHOST
    elif kind == "RuntimeDefault":
        mode = SecurityMode.RUNTIME_DEFAULT
        notes.append(
            "RuntimeDefault here is this Docker engine's default profile; a node's "
            "containerd or CRI-O default allows a slightly different set of system calls"
        )
    elif kind == "Unconfined":
        mode = SecurityMode.UNCONFINED
        notes.append("seccompProfile Unconfined: the pod runs without any seccomp filter")
    elif kind is None:
        mode = SecurityMode.UNCONFINED
        notes.append(
            "no seccompProfile: the kubelet runs the pod Unconfined "
            "(RuntimeDefault only where the kubelet runs with --seccomp-default)"
        )
    else:
        return RolePlan(
            role.role,
            kind,
            user,
            CannotStart(
                "Invalid",
                f'seccompProfile.type: Unsupported value: "{kind}": supported values: '
                '"Localhost", "RuntimeDefault", "Unconfined"',
            ),
        )
    if container.privileged and mode is not SecurityMode.UNCONFINED:
        notes.append("privileged: container runtimes apply no seccomp filter to it")
    spec = RunSpec(
        workload=job,
        mode=mode,
        image=image,
        profile_json=profile_json,
        profile_label=f"{profiles_dir}/{localhost}" if profile_json is not None else None,
        timeout_seconds=timeout_seconds,
        security=container,
    )
    return RolePlan(role.role, label, user, spec, tuple(notes))


def _load_localhost(localhost: str | None, profiles_dir: Path) -> str | CannotStart:
    """The profile's text, or why the kubelet/runtime would refuse it."""
    if localhost is None:
        # The API server rejects the pod before it reaches a node.
        return CannotStart(
            "Invalid",
            "seccompProfile.localhostProfile: Required value: "
            "must be set when seccomp type is Localhost",
        )
    problem = paths.localhost_profile_problem(localhost)
    if problem:
        return CannotStart("Invalid", f"seccompProfile.localhostProfile {localhost!r} {problem}")
    path = Path(profiles_dir) / localhost
    on_node = paths.seccomp_root() / localhost
    if not path.is_file():
        message = (
            f'cannot load seccomp profile "{path}": open {path}: no such file or directory '
            f"(on a node: {on_node})"
        )
        flat = Path(profiles_dir) / PurePosixPath(localhost).name
        if flat.is_file():
            message += f"; {flat} exists, but the kubelet only looks at <seccomp root>/{localhost}"
        return CannotStart("CreateContainerError", message, f"no profile file {localhost}")
    try:
        return load_profile_text(path)
    except UsageError as exc:
        return CannotStart(
            "CreateContainerError",
            f'decoding seccomp profile "{path}" failed: {exc.message}',
            f"bad profile file {localhost}",
        )


Progress = Callable[[str], None]


def run_dry_run(
    backend: Backend | None,
    plan: DryRunPlan,
    *,
    run_root: Path | None = None,
    progress: Progress = lambda _m: None,
) -> DryRunReport:
    """Run every role that can start, one container each; the others fail without a run.

    ``backend`` may be None when no role can start (``plan.runnable`` is false).
    """
    if plan.runnable:
        if backend is None:
            raise ValueError("a plan with runnable roles needs a backend")
        _require_image(backend, plan)
    outcomes = []
    for role in plan.roles:
        if isinstance(role.run, CannotStart):
            cannot = role.run
            short = f"{cannot.reason}: {cannot.short}" if cannot.short else str(cannot)
            outcomes.append(RoleOutcome(role, Verdict.FAIL, None, str(cannot), None, short))
            continue
        assert backend is not None
        progress(f"{role.role}: {plan.workload.name} under {role.seccomp}, user {role.user}")
        run_dir = run_root / role.role if run_root is not None else None
        outcome = judge(backend.run(role.run, run_dir), None)
        error = outcome.error_line
        outcomes.append(
            RoleOutcome(role, outcome.verdict, outcome.wall_seconds, error, outcome.run_dir, error)
        )
    return DryRunReport(plan, tuple(outcomes))


def _require_image(backend: Backend, plan: DryRunPlan) -> None:
    """Say which image is missing and what to do, before any run."""
    from profiler.runtime.docker import DockerBackend
    from profiler.runtime.engine import require_image

    if not isinstance(backend, DockerBackend):
        return
    try:
        require_image(backend.client, plan.image)
    except EnvironmentProblem as exc:
        if not plan.image_from_manifest:
            raise
        raise EnvironmentProblem(
            f"the manifest's image {plan.image} is not in the local Docker engine "
            "(it usually cannot be pulled here)",
            "pass --image with a local Spark image of the same version, "
            "e.g. one built with `spark-seccomp image build`",
        ) from exc
