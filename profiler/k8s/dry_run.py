"""`k8s dry-run`, the running half: each ``plan.AppPlan`` run as its pods would run.

Planning is pure and lives in ``plan`` (what the manifest asks for, per operator release)
and ``kubelet`` (how a seccomp setting resolves). Here each application becomes one run in
the pod topology (``RunSpec``, ``Topology.POD``): a driver container with the driver role's
effective security context, seccomp profile, env, mounts, CPU and memory limits, and the
manifest's executor count (capped) of executor containers with the executor role's, all
through the image's own entrypoint, with the application's file (``local://`` in the image,
or a file here), arguments and Spark conf. A role the kubelet could not start fails without
a run, in the kubelet's words; whatever cannot be emulated is listed, never dropped.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from profiler import workloads as workloads_lib
from profiler.check import Verdict, out_of_memory
from profiler.errors import EnvironmentProblem, UsageError
from profiler.k8s.app_files import HostFile, InImage, Remote
from profiler.k8s.kubelet import CannotStart
from profiler.k8s.operator import Operator
from profiler.k8s.plan import AppPlan, plan_app
from profiler.k8s.planned_role import PlannedRole
from profiler.k8s.volumes import PlannedVolume
from profiler.runtime.interface import (
    Backend,
    ContainerResult,
    ContainerSecurity,
    Mount,
    Role,
    RoleSettings,
    RunResult,
    RunSpec,
    SecurityMode,
    Topology,
)
from profiler.vocabulary import Note, no_note
from profiler.workloads import Workload

if TYPE_CHECKING:
    from profiler.diagnosis.diagnoser import Diagnoser

__all__ = [
    "CannotStart",
    "DryRunPlan",
    "DryRunReport",
    "RoleOutcome",
    "RolePlan",
    "pod_plan",
    "plan_dry_run",
    "reports_to_json",
    "reports_to_junit",
    "run_dry_run",
    "run_plans",
]

_MODES = {
    "Localhost": SecurityMode.LOCALHOST,
    "RuntimeDefault": SecurityMode.RUNTIME_DEFAULT,
    "Unconfined": SecurityMode.UNCONFINED,
}
# Where a dependency from this machine is mounted, as if the image held it.
DEPS_DIR = "/opt/spark-seccomp/deps"
# spark-submit's --jars/--files/--py-files/--archives, as the properties Spark reads.
_DEPS_CONF = {
    "jars": "spark.jars",
    "files": "spark.files",
    "pyFiles": "spark.submit.pyFiles",
    "archives": "spark.archives",
}
# What the run sets itself in the pod's properties: the plan's values are not used.
_RUN_OWNS = ("spark.master", "spark.driver.host", "spark.driver.port", "spark.driver.bindAddress")


@dataclass(frozen=True)
class RolePlan:
    """One role as the run starts it (or why its pod would not start)."""

    role: str
    seccomp: str  # as the manifest says it, e.g. "Localhost spark-seccomp/driver.json"
    user: str  # uid[:gid] as the manifest sets it, or "image" for the image's own user
    security: str  # the rest of the effective security context, and where it came from
    cannot_start: CannotStart | None = None
    instances: int = 1
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DryRunPlan:
    image: str
    image_from_manifest: bool
    workload: Workload
    roles: tuple[RolePlan, ...]
    notes: tuple[str, ...] = ()
    app: AppPlan | None = None
    run: RunSpec | None = None  # None when a role cannot start

    @property
    def runnable(self) -> bool:
        """Whether the application's pods get as far as starting."""
        return self.run is not None


@dataclass(frozen=True)
class RoleOutcome:
    plan: RolePlan
    verdict: Verdict
    wall_seconds: float | None  # None when no container was started
    error_line: str
    run_dir: str | None = None
    short_error: str = ""  # for a table cell; error_line says it all
    denied: str = ""  # the first denied call the diagnosis found, with its count

    @property
    def started(self) -> bool:
        return self.wall_seconds is not None


@dataclass(frozen=True)
class DryRunReport:
    plan: DryRunPlan
    outcomes: tuple[RoleOutcome, ...] = field(default=())
    diagnosis: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what the run itself noted (e.g. no executor was started)

    @property
    def passed(self) -> bool:
        return all(o.verdict.ok for o in self.outcomes)


# ---------------------------------------------------------------------------------------
# From an AppPlan to a pod run


def pod_plan(
    app: AppPlan,
    *,
    workload: str | None = None,
    image_from_manifest: bool = True,
    timeout_seconds: float = 600.0,
) -> DryRunPlan:
    """The run of ``app``'s pods, or (``run`` None) the roles that cannot start."""
    notes: list[str] = []
    job, application = _application(app, workload, notes)
    if app.app_type != "Python":
        notes.append(
            f"the application type is {app.app_type}; the dry-run submits it as PySpark "
            "(PythonRunner), as this tool's images and catalogue are PySpark"
        )
    roles = tuple(_role(role) for role in app.roles)
    blocked = [r for r in app.roles if r.cannot_start is not None]
    run = None
    if not blocked:
        run = _run_spec(app, job, application, timeout_seconds)
    elif app.driver.cannot_start is None:
        notes.append(
            "the executor pods cannot start, so the driver would wait for them forever: "
            "nothing was run"
        )
    return DryRunPlan(app.driver.image, image_from_manifest, job, roles, tuple(notes), app, run)


def _application(
    app: AppPlan, requested: str | None, notes: list[str]
) -> tuple[Workload, str | None]:
    """The job to run and, for a file in the image, the URI the driver is given."""
    main = app.main
    if requested is not None:
        notes.append(f"--workload {requested} runs instead of mainApplicationFile")
        return workloads_lib.resolve(requested), None
    if isinstance(main, InImage):
        path = PurePosixPath(main.path)
        job = Workload(path.stem, Path(str(path)), f"{main.path} in the image", False)
        return job, f"local://{main.path}"
    if isinstance(main, HostFile) and main.path.is_file():
        return workloads_lib.resolve(str(main.path.resolve())), None
    if isinstance(main, Remote):
        why = f"mainApplicationFile {main.url} is remote and cannot be fetched here"
    else:
        why = f"mainApplicationFile {main.path} does not exist here"
    raise UsageError(
        f"{app.source}: {app.label}: {why}",
        "pass --workload with a catalogue name or a .py file, or --plan to see the plan only",
    )


def _role(role: PlannedRole) -> RolePlan:
    notes = tuple(n for n in role.notes if not n.startswith("memory:"))
    return RolePlan(
        role.role,
        role.seccomp.label,
        role.user,
        describe_security(role.security, role.pod_context_source, role.container_context_source),
        role.cannot_start,
        role.instances,
        notes,
    )


def describe_security(security: ContainerSecurity, pod_source: str, container_source: str) -> str:
    """A security context in a few words, and where it came from (template or CRD)."""
    parts = []
    if security.cap_drop:
        parts.append(f"drop {','.join(security.cap_drop)}")
    if security.cap_add:
        parts.append(f"add {','.join(security.cap_add)}")
    parts.append("no-new-privs" if security.no_new_privileges else "privilege escalation")
    parts.append("ro root" if security.read_only_root else "rw root")
    if security.privileged:
        parts.append("privileged")
    sources = {pod_source, container_source} - {"none"}
    origin = "/".join(sorted(sources)) if sources else "nothing set"
    return f"{', '.join(parts)} ({origin})"


def _run_spec(
    app: AppPlan, job: Workload, application: str | None, timeout_seconds: float
) -> RunSpec:
    conf = {k: v for k, v in app.spark_conf.items() if k not in _RUN_OWNS}
    mounts: list[Mount] = []
    for kind, key in _DEPS_CONF.items():
        uris = []
        for index, dep in enumerate(d for d in app.deps if d.kind == kind):
            if isinstance(dep.location, InImage):
                uris.append(f"local://{dep.location.path}")
            elif isinstance(dep.location, HostFile) and dep.location.path.is_file():
                target = f"{DEPS_DIR}/{kind}-{index}-{dep.location.path.name}"
                mounts.append(Mount(target, str(dep.location.path.resolve()), read_only=True))
                uris.append(f"local://{target}")
        if uris:
            conf[key] = ",".join(uris)
    driver, executor = (_settings(role, tuple(mounts)) for role in (app.driver, app.executor))
    return RunSpec(
        workload=job,
        mode=driver.mode or SecurityMode.UNCONFINED,
        image=app.driver.image,
        timeout_seconds=timeout_seconds,
        security=app.driver.security,
        topology=Topology.POD,
        executors=app.executor.instances,
        driver=driver,
        executor=executor,
        spark_conf=tuple(sorted(conf.items())),
        app_args=app.arguments,
        application=application,
    )


def _settings(role: PlannedRole, deps: tuple[Mount, ...]) -> RoleSettings:
    seccomp = role.seccomp
    label = str(seccomp.profile_path) if seccomp.profile_path is not None else None
    # Spark sets SPARK_LOCAL_DIRS itself on every pod; the run does too.
    env = tuple((e.name, e.value) for e in role.env if e.name != "SPARK_LOCAL_DIRS")
    return RoleSettings(
        mode=_MODES[seccomp.type],
        profile_json=seccomp.profile_json,
        profile_label=label,
        security=role.security,
        env=env,
        memory_limit=f"{role.memory_limit_bytes}b",
        cpu_limit=role.cpu_limit,
        cores=role.cpu.cores,
        memory=f"{role.memory.heap_mib}m",
        mounts=(*(_mount(m) for m in role.mounts), *deps),
        image=role.image,
    )


def _mount(mount: PlannedVolume) -> Mount:
    if mount.kind == "hostPath":
        return Mount(mount.mount_path, mount.host_path, read_only=mount.read_only)
    return Mount(mount.mount_path, size_bytes=mount.size_limit_bytes)


def plan_dry_run(
    manifest: Any,
    profiles_dir: Path | None,
    *,
    workload: str | None = None,
    image: str | None = None,
    timeout_seconds: float = 600.0,
    operator: Operator | None = None,
    max_executors: int | None = None,
) -> DryRunPlan:
    """One manifest straight to its run (``plan.plan_app`` then ``pod_plan``)."""
    if not isinstance(manifest, dict):
        raise UsageError(f"expected a SparkApplication, got {type(manifest).__name__}")
    app = plan_app(
        manifest,
        profiles_dir=profiles_dir,
        operator=operator,
        image=image,
        max_executors=max_executors,
    )
    return pod_plan(
        app, workload=workload, image_from_manifest=image is None, timeout_seconds=timeout_seconds
    )


# ---------------------------------------------------------------------------------------
# Running


BackendFactory = Callable[[], Backend]


def run_plans(
    apps: Sequence[AppPlan],
    backend_factory: BackendFactory,
    *,
    workload: str | None = None,
    image_from_manifest: bool = True,
    timeout_seconds: float = 600.0,
    run_root: Path | None = None,
    progress: Note = no_note,
    diagnose: bool = True,
) -> tuple[DryRunReport, ...]:
    """Run every application's pods; a backend is created only when one can start."""
    plans = [
        pod_plan(
            app,
            workload=workload,
            image_from_manifest=image_from_manifest,
            timeout_seconds=timeout_seconds,
        )
        for app in apps
    ]
    backend = backend_factory() if any(p.runnable for p in plans) else None
    diagnoser = None
    if backend is not None and diagnose:
        from profiler.diagnosis.diagnoser import ComplainDiagnoser

        diagnoser = ComplainDiagnoser(backend)
    reports = []
    for plan in plans:
        root = run_root
        if run_root is not None and plan.app is not None:
            root = run_root / f"{plan.app.namespace}-{plan.app.name}"
        reports.append(
            run_dry_run(backend, plan, run_root=root, progress=progress, diagnoser=diagnoser)
        )
    return tuple(reports)


def run_dry_run(
    backend: Backend | None,
    plan: DryRunPlan,
    *,
    run_root: Path | None = None,
    progress: Note = no_note,
    diagnoser: Diagnoser | None = None,
) -> DryRunReport:
    """Run the application's pods, or fail the roles that cannot start without a run.

    ``backend`` may be None when nothing can start. A role that fails under seccomp is
    rerun in complain mode (``diagnoser``) to name the call that was denied.
    """
    if plan.run is None:
        return DryRunReport(plan, tuple(_not_started(plan, role) for role in plan.roles))
    if backend is None:
        raise ValueError("a runnable plan needs a backend")
    _require_images(backend, plan)
    label = plan.app.label if plan.app is not None else plan.workload.name
    executors = plan.run.executors
    progress(f"{label}: a driver pod and {executors} executor pod(s) of {plan.workload.name}")
    result = backend.run(plan.run, run_root)
    outcomes = role_outcomes(plan, result)
    diagnosis: tuple[str, ...] = ()
    seccomp_failed = [o for o in outcomes if o.verdict is Verdict.FAIL and o.started]
    if diagnoser is not None and seccomp_failed:
        progress(f"{label}: rerunning in complain mode to find denied calls")
        diagnosis_dir = run_root / "diagnosis" if run_root is not None else None
        diagnosis = diagnoser.diagnose(plan.run, diagnosis_dir)
        outcomes = tuple(_with_denial(o, diagnosis) for o in outcomes)
    return DryRunReport(plan, outcomes, diagnosis, result.notes)


def role_outcomes(plan: DryRunPlan, result: RunResult) -> tuple[RoleOutcome, ...]:
    """A verdict per role from one pod run: the driver's container, then the executors'."""
    by_role = {r.role: r for r in plan.roles}
    run_dir = str(result.run_dir) if result.run_dir else None
    driver = result.containers[0] if result.containers else None
    executors = [c for c in result.containers if c.role is Role.EXECUTOR]
    outcomes = []
    if driver is not None:
        verdict, error = _judge_container(driver)
        if verdict is Verdict.PASS and result.result is None and plan.workload.in_catalogue:
            verdict, error = Verdict.FAIL, "the job printed no result line"
        outcomes.append(
            RoleOutcome(by_role["driver"], verdict, driver.wall_seconds, error, run_dir, error)
        )
    executor_plan = by_role["executor"]
    if executors:
        failed = next((c for c in executors if not c.succeeded), None)
        if failed is None:
            outcomes.append(
                RoleOutcome(
                    executor_plan,
                    Verdict.PASS,
                    max(c.wall_seconds for c in executors),
                    "",
                    run_dir,
                )
            )
        else:
            verdict, error = _judge_container(failed)
            error = f"{failed.name}: {error}"
            outcomes.append(
                RoleOutcome(executor_plan, verdict, failed.wall_seconds, error, run_dir, error)
            )
    else:
        why = (
            "no executor pod was started: the application sets its own master"
            if driver is not None and driver.succeeded
            else "no executor pod was started: the driver failed first"
        )
        verdict = Verdict.PASS if driver is not None and driver.succeeded else Verdict.FAIL
        outcomes.append(RoleOutcome(executor_plan, verdict, None, why, run_dir, why))
    return tuple(outcomes)


def _judge_container(container: ContainerResult) -> tuple[Verdict, str]:
    if container.succeeded:
        return Verdict.PASS, ""
    if container.timed_out:
        return Verdict.TIMEOUT, "timed out"
    line = container.last_error_line()
    if out_of_memory(container):
        what = "OOMKilled at its memory limit" if container.oom_killed else "out of memory"
        return Verdict.OOM, f"{what}: exit {container.exit_code}: {line}"
    if container.orphaned:
        return Verdict.FAIL, "stopped: every executor pod had exited and it waited for them"
    return Verdict.FAIL, f"exit {container.exit_code}: {line}"


def _with_denial(outcome: RoleOutcome, diagnosis: Sequence[str]) -> RoleOutcome:
    prefix = f"{outcome.plan.role} pod: denied: "
    denied = next((line[len(prefix) :] for line in diagnosis if line.startswith(prefix)), "")
    if not denied:
        return outcome
    call = denied.split(";", 1)[0]
    return RoleOutcome(
        outcome.plan,
        outcome.verdict,
        outcome.wall_seconds,
        outcome.error_line,
        outcome.run_dir,
        outcome.short_error,
        call,
    )


def _not_started(plan: DryRunPlan, role: RolePlan) -> RoleOutcome:
    if role.cannot_start is not None:
        cannot = role.cannot_start
        short = f"{cannot.reason}: {cannot.short}" if cannot.short else str(cannot)
        return RoleOutcome(role, Verdict.FAIL, None, str(cannot), None, short)
    why = "not started: the other role's pods cannot start"
    return RoleOutcome(role, Verdict.FAIL, None, why, None, why)


def _require_images(backend: Backend, plan: DryRunPlan) -> None:
    """Say which image is missing and what to do, before any run."""
    from profiler.runtime.interface import ContainerEngine

    if not isinstance(backend, ContainerEngine) or plan.run is None:
        return
    spec = plan.run
    for image in sorted({spec.settings_for(role).image for role in spec.roles}):
        try:
            backend.require_image(image)
        except EnvironmentProblem as exc:
            if not plan.image_from_manifest:
                raise
            raise EnvironmentProblem(
                f"the manifest's image {image} is not in the local Docker engine "
                "(it usually cannot be pulled here)",
                "pass --image with a local Spark image of the same version, "
                "e.g. one built with `spark-seccomp image build`",
            ) from exc


# ---------------------------------------------------------------------------------------
# Machine-readable results


def plan_to_dict(app: AppPlan) -> dict[str, Any]:
    """An AppPlan as plain JSON data (profile texts left out: they are files already)."""
    data = _plain(app)
    for role in data["driver"], data["executor"]:
        role["seccomp"].pop("profile_json", None)
    return data


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        data = {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, InImage | HostFile | Remote):
            data = {"kind": type(value).__name__, **data}
        return data
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def reports_to_dict(
    apps: Sequence[AppPlan], reports: Sequence[DryRunReport] | None
) -> dict[str, Any]:
    out = []
    for index, app in enumerate(apps):
        entry: dict[str, Any] = {"plan": plan_to_dict(app)}
        if reports is not None:
            report = reports[index]
            entry["job"] = report.plan.workload.name
            entry["passed"] = report.passed
            entry["outcomes"] = [
                {
                    "role": o.plan.role,
                    "seccomp": o.plan.seccomp,
                    "user": o.plan.user,
                    "security": o.plan.security,
                    "instances": o.plan.instances,
                    "verdict": o.verdict.value,
                    "started": o.started,
                    "wall_seconds": round(o.wall_seconds, 3) if o.wall_seconds else None,
                    "error": o.error_line,
                    "denied": o.denied,
                }
                for o in report.outcomes
            ]
            entry["diagnosis"] = list(report.diagnosis)
            entry["notes"] = list(report.notes)
        else:
            entry["runnable"] = app.runnable
        out.append(entry)
    return {"applications": out}


def reports_to_json(apps: Sequence[AppPlan], reports: Sequence[DryRunReport] | None) -> str:
    return json.dumps(reports_to_dict(apps, reports), indent=2, sort_keys=True) + "\n"


def reports_to_junit(apps: Sequence[AppPlan], reports: Sequence[DryRunReport] | None) -> str:
    """One test suite per application, one test case per role."""
    suites = ET.Element("testsuites", name="spark-seccomp k8s dry-run")
    for index, app in enumerate(apps):
        cases: list[tuple[str, float | None, str | None]] = []
        if reports is not None:
            for o in reports[index].outcomes:
                error = None if o.verdict.ok else (o.error_line or o.verdict.value)
                cases.append((o.plan.role, o.wall_seconds, error))
        else:
            for planned in app.roles:
                error = str(planned.cannot_start) if planned.cannot_start else None
                cases.append((planned.role, None, error))
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=app.label,
            tests=str(len(cases)),
            failures=str(sum(1 for c in cases if c[2] is not None)),
            errors="0",
        )
        for name, seconds, error in cases:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=app.label,
                name=name,
                time=f"{seconds:.3f}" if seconds is not None else "0",
            )
            if error is not None:
                ET.SubElement(case, "failure", message=error[:200]).text = error
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode") + "\n"
