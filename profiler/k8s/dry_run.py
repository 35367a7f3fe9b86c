"""`k8s dry-run`, the running half: turning each ``plan.AppPlan`` into local runs.

Planning is pure and lives in ``plan`` (what the manifest asks for, per operator release)
and ``kubelet`` (how a seccomp setting resolves). This module holds today's way of running
a plan, behind one function, ``run_plans``: each role's security settings run the whole job
in one container in Spark local mode, where Spark runs both the driver's code path
(spark-submit -> JVM -> Python driver over py4j) and the executor's (task threads in the
JVM forking ``pyspark.daemon`` Python workers), so one job exercises each role's security
context. The job is ``--workload`` or a ``mainApplicationFile`` on this machine. A role the
kubelet could not start fails without a run. A pod-topology runner (a driver container and
executor containers through the image's entrypoint) replaces ``run_plans`` and consumes
the same ``AppPlan`` values.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from profiler import workloads as workloads_lib
from profiler.check import Verdict, judge
from profiler.errors import EnvironmentProblem, UsageError
from profiler.k8s.kubelet import CannotStart
from profiler.k8s.operator import Operator
from profiler.k8s.plan import AppPlan, HostFile, InImage, Remote, plan_app
from profiler.k8s.plan import RolePlan as PlannedRole
from profiler.runtime.interface import Backend, RunSpec, SecurityMode
from profiler.workloads import Workload

__all__ = [
    "CannotStart",
    "DryRunPlan",
    "DryRunReport",
    "RoleOutcome",
    "RolePlan",
    "legacy_plan",
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


@dataclass(frozen=True)
class RolePlan:
    """One role as today's runner runs it: a RunSpec, or why the pod would not start."""

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
    app: AppPlan | None = None

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


# ---------------------------------------------------------------------------------------
# From an AppPlan to today's runs


def legacy_plan(
    app: AppPlan,
    *,
    workload: str | None = None,
    image_from_manifest: bool = True,
    timeout_seconds: float = 600.0,
) -> DryRunPlan:
    """Today's runner's view of ``app``: one local-mode run per role."""
    notes: list[str] = []
    job = _workload(app, workload, notes)
    if app.app_type != "Python":
        notes.append(
            f"the application type is {app.app_type}; the dry-run runs the PySpark job "
            f"{job.name}, whose system calls can differ from the real application's"
        )
    if app.arguments and workload is not None:
        notes.append("spec.arguments are not passed to --workload jobs")
    roles = tuple(_legacy_role(role, job, timeout_seconds) for role in app.roles)
    return DryRunPlan(app.driver.image, image_from_manifest, job, roles, tuple(notes), app)


def _workload(app: AppPlan, requested: str | None, notes: list[str]) -> Workload:
    main = app.main
    if requested is not None:
        if isinstance(main, HostFile):
            notes.append(f"--workload {requested} runs instead of mainApplicationFile {main.path}")
        return workloads_lib.resolve(requested)
    if isinstance(main, HostFile) and main.path.is_file():
        return workloads_lib.resolve(str(main.path.resolve()))
    if isinstance(main, InImage):
        why = (
            f"mainApplicationFile {main.path} is inside the image; this dry-run runs each "
            "role's settings with a job from this machine"
        )
    elif isinstance(main, Remote):
        why = f"mainApplicationFile {main.url} is remote and cannot be fetched here"
    else:
        why = f"mainApplicationFile {main.path} does not exist here"
    raise UsageError(
        f"{app.source}: {app.label}: {why}",
        "pass --workload with a catalogue name or a .py file, or --plan to see the plan only",
    )


def _legacy_role(role: PlannedRole, job: Workload, timeout_seconds: float) -> RolePlan:
    if role.cannot_start is not None:
        return RolePlan(role.role, role.seccomp.label, role.user, role.cannot_start, role.notes)
    seccomp = role.seccomp
    spec = RunSpec(
        workload=job,
        mode=_MODES[seccomp.type],
        image=role.image,
        profile_json=seccomp.profile_json,
        profile_label=str(seccomp.profile_path) if seccomp.profile_path is not None else None,
        timeout_seconds=timeout_seconds,
        env=tuple((e.name, e.value) for e in role.env),
        security=role.security,
    )
    notes = tuple(n for n in role.notes if not n.startswith("memory:"))
    return RolePlan(role.role, seccomp.label, role.user, spec, notes)


def plan_dry_run(
    manifest: Any,
    profiles_dir: Path | None,
    *,
    workload: str | None = None,
    image: str | None = None,
    timeout_seconds: float = 600.0,
    operator: Operator | None = None,
) -> DryRunPlan:
    """One manifest straight to today's runs (``plan.plan_app`` then ``legacy_plan``)."""
    if not isinstance(manifest, dict):
        raise UsageError(f"expected a SparkApplication, got {type(manifest).__name__}")
    app = plan_app(manifest, profiles_dir=profiles_dir, operator=operator, image=image)
    return legacy_plan(
        app, workload=workload, image_from_manifest=image is None, timeout_seconds=timeout_seconds
    )


# ---------------------------------------------------------------------------------------
# Running


Progress = Callable[[str], None]
BackendFactory = Callable[[], Backend]


def run_plans(
    apps: Sequence[AppPlan],
    backend_factory: BackendFactory,
    *,
    workload: str | None = None,
    image_from_manifest: bool = True,
    timeout_seconds: float = 600.0,
    run_root: Path | None = None,
    progress: Progress = lambda _m: None,
) -> tuple[DryRunReport, ...]:
    """Run every application's plan; the one call a pod-topology runner replaces.

    A backend is created only when some role can start.
    """
    plans = [
        legacy_plan(
            app,
            workload=workload,
            image_from_manifest=image_from_manifest,
            timeout_seconds=timeout_seconds,
        )
        for app in apps
    ]
    backend = backend_factory() if any(p.runnable for p in plans) else None
    reports = []
    for plan in plans:
        root = run_root
        if run_root is not None and plan.app is not None:
            root = run_root / f"{plan.app.namespace}-{plan.app.name}"
        reports.append(run_dry_run(backend, plan, run_root=root, progress=progress))
    return tuple(reports)


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
                    "verdict": o.verdict.value,
                    "started": o.started,
                    "wall_seconds": round(o.wall_seconds, 3) if o.wall_seconds else None,
                    "error": o.error_line,
                }
                for o in report.outcomes
            ]
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
