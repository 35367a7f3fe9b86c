"""`k8s harden`, the running half: record each application as its hardened pods will run,
write its hardened twin, node profiles and installer, and prove them with a dry-run.

For each SparkApplication of the given files:

1. harden the manifest (``harden``: pure; the node profile paths follow from its name);
2. with Localhost profiles, record the *hardened* application (its read-only root, its
   emptyDirs, dropped capabilities, non-root user: record as you will enforce) in pod shape,
   ``runs`` times under the recording filter, and derive one profile per role;
3. write ``DIR/<name>.yaml``, the seccomp tree ``DIR/seccomp/`` (paths = the manifest's
   ``localhostProfile`` values, to copy under ``<kubelet-root>/seccomp``) and
   ``DIR/install.yaml`` (the DaemonSet of ``k8s install``, or SPO SeccompProfiles), all
   together or none;
4. dry-run the written manifests against ``DIR/seccomp``: the kubelet's resolution of each
   ``localhostProfile``, then the pods under them. Success means that passed.

``Seccomp.RUNTIME_DEFAULT`` skips the recording and writes no tree and no installer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from profiler.errors import UsageError
from profiler.k8s import dry_run
from profiler.k8s.apps import manifest_workloads_of
from profiler.k8s.harden import (
    HardenedApp,
    HardenOptions,
    harden_text,
    install_manifests,
    seccomp_tree,
)
from profiler.k8s.manifests import read_text, render
from profiler.k8s.plan import plan_files
from profiler.k8s.sparkapp import Seccomp
from profiler.k8s.spo import SpoApi
from profiler.output import OutputFile, check_output_dir, check_output_files, write_files
from profiler.record import (
    DerivedProfile,
    DeriveOptions,
    RecordPlan,
    TracerFactory,
    record_profile,
)
from profiler.runtime.interface import Backend
from profiler.runtime.run_shape import RunShape, Submission

INSTALL_FILE = "install.yaml"
SECCOMP_DIR = "seccomp"

Note = Callable[[str], None]
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class HardenRequest:
    files: tuple[Path, ...]
    out_dir: Path
    options: HardenOptions = field(default_factory=HardenOptions)
    image: str | None = None  # replaces the manifests' images
    executors: int = 2  # at most this many executor pods per application
    runs: int = 1  # recordings per application
    timeout_seconds: float = 600.0
    derive: DeriveOptions = field(default_factory=DeriveOptions)
    egress: bool = False
    spo_api: SpoApi = SpoApi.V1
    diagnose: bool = True


@dataclass(frozen=True)
class HardenedOutcome:
    app: HardenedApp
    profile_sizes: dict[str, int]  # role -> calls its profile allows ({} for RuntimeDefault)
    dry_run: dry_run.DryRunReport
    manifest_path: Path

    @property
    def passed(self) -> bool:
        return self.dry_run.passed


@dataclass(frozen=True)
class HardenReport:
    outcomes: tuple[HardenedOutcome, ...]
    written: tuple[Path, ...]
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)


def plan_hardening(request: HardenRequest) -> tuple[HardenedApp, ...]:
    """Every application of the files, hardened (pure), with its output names checked."""
    if not request.files:
        raise UsageError("no manifest given", "pass one or more SparkApplication YAML files")
    apps: list[HardenedApp] = []
    for path in request.files:
        apps.extend(harden_text(read_text(path), str(path), request.options))
    names: dict[str, str] = {}
    for app in apps:
        if app.name in names:
            raise UsageError(
                f"{app.label} and {names[app.name]} would both be written as {app.name}.yaml "
                "(and share node profile names)",
                "harden them into different --out-dir folders",
            )
        names[app.name] = app.label
    return tuple(apps)


def output_files(request: HardenRequest, apps: Sequence[HardenedApp]) -> list[str]:
    """The files ``harden_apps`` writes into ``out_dir``, relative to it."""
    names = [f"{app.name}.yaml" for app in apps]
    if request.options.seccomp is Seccomp.LOCALHOST:
        names.append(INSTALL_FILE)
        names += [f"{SECCOMP_DIR}/{path}" for app in apps for path in app.profiles.values()]
    return names


def harden_apps(
    request: HardenRequest,
    backend_factory: Callable[[], Backend],
    *,
    make_tracer: TracerFactory | None,
    run_root: Path,
    progress: Progress = lambda _m, _d, _t: None,
    note: Note = lambda _m: None,
    probe_engines: Callable[[], Sequence[Backend]] = lambda: (),
) -> HardenReport:
    """Record, write and dry-run every application of ``request.files`` (module doc).

    ``probe_engines``: the engines of nodes whose OCI runtimes the profiles must start
    under too (the newest node's runc and crun), made only when Localhost profiles are
    recorded; what each runtime calls after the filter joins the profiles
    (``record.record_profile``'s ``probe_on``)."""
    apps = plan_hardening(request)
    check_output_dir(request.out_dir, what="--out-dir")
    check_output_files(request.out_dir, output_files(request, apps))
    backend = backend_factory()
    localhost = request.options.seccomp is Seccomp.LOCALHOST
    trees: dict[str, str] = {}
    sizes: dict[str, dict[str, int]] = {}
    if localhost:
        if make_tracer is None:
            raise ValueError("Localhost profiles are recorded: a tracer is needed")
        probed_on = tuple(probe_engines())
        for app in apps:
            derived = _record(
                app, request, backend, make_tracer, run_root, progress, note, probed_on
            )
            sizes[app.label] = {role: len(d.profile.allowed()) for role, d in derived.items()}
            trees.update(
                seccomp_tree(app, {role: d.profile.to_json() for role, d in derived.items()})
            )
    files = [OutputFile(request.out_dir / f"{app.name}.yaml", app.text) for app in apps]
    notes: list[str] = []
    if localhost:
        files += [
            OutputFile(request.out_dir / SECCOMP_DIR / path, text)
            for path, text in sorted(trees.items())
        ]
        manifests, install_notes = install_manifests(
            trees, request.options, spo_api=request.spo_api
        )
        notes += install_notes
        files.append(OutputFile(request.out_dir / INSTALL_FILE, render(manifests)))
    for output in files:
        output.path.parent.mkdir(parents=True, exist_ok=True)
    write_files(files)
    written = tuple(f.path for f in files)
    manifest_paths = [request.out_dir / f"{app.name}.yaml" for app in apps]
    plans = plan_files(
        manifest_paths,
        profiles_dir=request.out_dir / SECCOMP_DIR if localhost else None,
        operator=request.options.operator,
        image=request.image,
        max_executors=request.executors,
    )
    progress("dry-running the hardened manifests", 0, len(plans))
    reports = dry_run.run_plans(
        plans,
        lambda: backend,
        image_from_manifest=request.image is None,
        timeout_seconds=request.timeout_seconds,
        run_root=run_root / "dry-run",
        progress=note,
        diagnose=request.diagnose,
    )
    outcomes = tuple(
        HardenedOutcome(app, sizes.get(app.label, {}), report, path)
        for app, report, path in zip(apps, reports, manifest_paths, strict=True)
    )
    return HardenReport(outcomes, written, tuple(notes))


def _record(
    app: HardenedApp,
    request: HardenRequest,
    backend: Backend,
    make_tracer: TracerFactory,
    run_root: Path,
    progress: Progress,
    note: Note,
    probe_on: Sequence[Backend] = (),
) -> dict[str, DerivedProfile]:
    """Each role's derived profile, recorded from the hardened application, with what the
    OCI runtimes of ``probe_on`` call after the filter."""
    (found,) = manifest_workloads_of(
        [(app.source, app.text)],
        image=request.image,
        max_executors=request.executors,
        operator=request.options.operator,
        timeout_seconds=request.timeout_seconds,
        egress=request.egress,
    )
    for message in found.notes:
        note(f"note: {app.label}: {message}")
    shape = RunShape(
        image=found.template.image,
        executors=found.template.executors,
        egress=request.egress,
        submissions=(Submission(found.workload.name, run=found.template),),
    )
    plan = RecordPlan(
        workloads=(found.workload,),
        shape=shape,
        runs=request.runs,
        timeout_seconds=request.timeout_seconds,
    )
    outcome = record_profile(
        (backend,),
        plan,
        request.derive,
        run_root=run_root / app.namespace / app.name,
        make_tracer=make_tracer,
        verify=False,  # the dry-run of the written manifest verifies, through the kubelet's paths
        progress=progress,
        probe_on=probe_on,
    )
    missing = [role for role in app.profiles if role not in outcome.profiles]
    if missing:
        raise UsageError(
            f"{app.label}: no {', '.join(missing)} pod was recorded (the application sets its "
            "own master, so it ran wholly in the driver)",
            "harden it with --seccomp runtime-default, or let it take the cluster's master",
        )
    return {role: outcome.profiles[role] for role in app.profiles}
