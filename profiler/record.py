"""Recording workloads and deriving verified Localhost profiles from the traces.

record -> derive -> verify: each workload runs under an allow-everything recording filter
with the pod security and the topology that will be enforced, a tracer counts what each
container asked for, and the recordings become profiles: in the pod topology one per role
(driver, executor) and their union; in the local topology the union. Every workload is
then run again under the new profiles, and they are only written when those runs all pass
with the recorded results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from profiler.check import CheckOptions, CheckPlan, CheckReport, run_check
from profiler.errors import UsageError, VerificationFailed
from profiler.paths import slug
from profiler.runtime.interface import (
    Backend,
    ContainerEngine,
    LabelledProfile,
    ProfileSet,
    Role,
    SecurityMode,
    Topology,
)
from profiler.runtime.run_shape import RunShape
from profiler.seccomp import generate
from profiler.seccomp.profile import Profile
from profiler.tracing.ebpf import LARGER_BUFFER, lost_events_warning
from profiler.tracing.interface import Recording, Tracer, merge_roles, with_runtime_version
from profiler.vocabulary import ROLES, Progress, TracerName, no_progress
from profiler.workloads import Workload

TracerFactory = Callable[[Path], Tracer]
# The profile files of a recording, by what they cover: every container (the union), the
# driver pod's, the executor pods'.
UNION = "union"


@dataclass(frozen=True)
class RecordPlan:
    """What to record, and in which shape (the shape the profiles will be enforced in)."""

    workloads: tuple[Workload, ...]
    shape: RunShape
    runs: int = 1
    timeout_seconds: float = 900.0


@dataclass(frozen=True)
class DeriveOptions:
    errno: str = "enosys"
    arches: tuple[str, ...] | None = None
    allow: tuple[str, ...] = ()
    explicit_errno: bool = False
    spark_versions: tuple[str, ...] = ()  # what the recorded runs ran, when known


@dataclass(frozen=True)
class DerivedProfile:
    profile: Profile
    summary: generate.Summary


@dataclass(frozen=True)
class RecordOutcome:
    """Profiles by what they cover (``UNION``, and "driver" / "executor" in pod shape)."""

    profiles: dict[str, DerivedProfile]
    recordings: tuple[Recording, ...]
    verification: CheckReport | None = None
    notes: tuple[str, ...] = field(default=())
    # Recorded under several OCI runtimes: the verification on each (the first is
    # ``verification`` too).
    verifications: tuple[CheckReport, ...] = ()
    # What the user must know about the recordings (a tracer that lost events), one line each.
    warnings: tuple[str, ...] = ()

    @property
    def verified(self) -> bool:
        reports = self.verifications or ((self.verification,) if self.verification else ())
        return all(r.passed for r in reports)

    @property
    def union(self) -> DerivedProfile:
        return self.profiles[UNION]

    def profile_set(self, label: str = "derived profile") -> ProfileSet:
        def labelled(key: str) -> LabelledProfile | None:
            derived = self.profiles.get(key)
            if derived is None:
                return None
            name = label if key == UNION else f"{label} ({key})"
            return LabelledProfile(derived.profile.to_json(), name)

        union = labelled(UNION)
        assert union is not None
        return ProfileSet(union, driver=labelled("driver"), executor=labelled("executor"))


def record_workloads(
    backend: Backend,
    plan: RecordPlan,
    make_tracer: TracerFactory,
    *,
    run_root: Path,
    progress: Progress = no_progress,
    first_run: int = 1,
) -> list[Recording]:
    """Trace every workload ``runs`` times under the recording filter: one recording per
    run and container role, saved as ``recording[.ROLE].json`` in the run's folder. The
    runs are numbered from ``first_run``, so the runs of several engines each count once
    when their files are read back (``--from-recordings``)."""
    recording_profile = generate.recording_profile().to_json()
    oci_runtime = oci_runtime_of(backend)
    recordings = []
    total = len(plan.workloads) * plan.runs
    done = 0
    for workload in plan.workloads:
        for index in range(1, plan.runs + 1):
            progress(f"recording {workload.name} run {index}/{plan.runs}", done, total)
            run_dir = run_root / "record" / workload.name / f"run-{index}"
            tracer = make_tracer(run_dir)
            # Every container under the allow-everything filter (the run's own profile, no
            # role's), so the tracer sees all that the profile will govern.
            spec = replace(
                plan.shape.spec(
                    workload, SecurityMode.UNCONFINED, timeout_seconds=plan.timeout_seconds
                ),
                mode=SecurityMode.LOCALHOST,
                profile_json=recording_profile,
                profile_label="recording (allow all)",
                hold_until_traced=tracer.holds_first_process,
            )
            result = backend.run(spec, run_dir, observer=tracer)
            if not result.succeeded:
                failed = result.failed_container()
                reason = "timed out" if result.timed_out else f"exited {result.exit_code}"
                line = result.last_error_line()
                if failed is not None and result.exit_code == 0:
                    reason = f"lost its {failed.role.value} pod {failed.name}"
                    line = failed.last_error_line()
                raise VerificationFailed(
                    f"{workload.name} {reason} while being recorded: {line}",
                    f"it must pass unconfined first; see {run_dir}",
                )
            pod_security = plan.shape.pod_security.value
            for traced in tracer.recordings(workload.name, first_run + index - 1, pod_security):
                if oci_runtime is not None:
                    traced = with_runtime_version(traced, oci_runtime)
                traced = replace(
                    traced,
                    exit_code=result.exit_code,
                    checksum=result.result.checksum if result.result else None,
                    script=None if workload.in_catalogue else str(workload.path),
                )
                traced.save(run_dir / traced.file_name)
                recordings.append(traced)
            done += 1
    progress("recorded", done, total)
    return recordings


def oci_runtime_of(backend: Backend) -> str | None:
    """ "runc 1.3.6": the OCI runtime and version an engine backend runs (None for the
    local backend, whose processes no runtime starts)."""
    if not isinstance(backend, ContainerEngine):
        return None
    said = backend.versions().get("oci_runtime", "")
    name, _, version = said.partition(" ")
    if not version or version == "unknown":
        return name or None
    # Debian's "1.3.6+ds1": the project's own version is what people look up.
    return f"{name} {version.split('+', 1)[0].split('~', 1)[0]}"


def by_run(recordings: Sequence[Recording]) -> list[Recording]:
    """One recording per run: the roles of a pod run together (for the union profile, so
    that a run counts once in its summary)."""
    groups: dict[tuple[object, ...], list[Recording]] = {}
    for r in recordings:
        key = (r.workload, r.run_index, r.tracer, r.arch, r.pod_security, r.script, r.checksum)
        groups.setdefault(key, []).append(r)
    return [
        merge_roles(tuple(sorted(g, key=lambda r: r.role)))
        for _, g in sorted(groups.items(), key=lambda kv: str(kv[0]))
    ]


def recorded_spark_versions(backend: Backend | None, image: str) -> tuple[str, ...]:
    """The Spark version the recorded runs ran, for the summary: the host's pyspark on the
    local backend, else the image's (``runtime.images.image_spark_version``); none when
    unknown."""
    if backend is not None and backend.name == "local":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return (version("pyspark"),)
        except PackageNotFoundError:
            return ()
    from profiler.runtime.images import image_spark_version

    found = image_spark_version(image)
    return (found,) if found else ()


def derive_profiles(
    recordings: Sequence[Recording], options: DeriveOptions
) -> dict[str, DerivedProfile]:
    """The union profile, and one per role when the recordings come from pod runs.

    A role's profile comes from that role's recordings and from local-topology ones (one
    container that ran both roles' code)."""

    def derive(selected: Sequence[Recording]) -> DerivedProfile:
        profile, summary = generate.derive_profile(
            selected,
            errno=options.errno,
            arches=options.arches,
            allow=options.allow,
            explicit_errno=options.explicit_errno,
            spark_versions=options.spark_versions,
        )
        return DerivedProfile(profile, summary)

    profiles = {UNION: derive(by_run(recordings))}
    if any(r.role in ROLES for r in recordings):
        for role in ROLES:
            selected = [r for r in recordings if r.role in (role, "all")]
            if selected:
                profiles[role] = derive(selected)
    return profiles


def record_profile(
    backends: Sequence[Backend],
    plan: RecordPlan,
    options: DeriveOptions,
    *,
    run_root: Path,
    make_tracer: TracerFactory | None = None,
    recordings: Sequence[Recording] | None = None,
    verify: bool = True,
    progress: Progress = no_progress,
    on_derived: Callable[[dict[str, DerivedProfile]], None] = lambda _p: None,
    verify_on: Sequence[Backend] | None = None,
    probe_on: Sequence[Backend] = (),
) -> RecordOutcome:
    """record under each backend (or take ``recordings``) -> derive one set of profiles ->
    verify them under each backend, or under each of ``verify_on`` (the recording engines
    and a node of the newest release, whose OCI runtimes need calls older ones do not).
    ``RecordOutcome.verification`` says whether the profiles broke a workload;
    ``on_derived`` sees the profiles before they are verified (the CLI prints the review
    and keeps the candidates).

    Several backends are engines and OCI runtimes (on the host and on nodes), so that the
    profiles work on nodes with any of them: each one's runs and logs go in
    ``run_root/<engine-runtime[-node]>``, numbered after the previous one's (every run
    counts once), and the summaries name the calls only one's runs made. Verifications on
    several backends go in the same way, each under its own folder.

    ``probe_on``: engines nothing was recorded on (the verification engines of a newer
    node) where one short container shows what the OCI runtime calls after the filter
    (``tracing.runtime_probe``); those calls join every role's profile, so a profile
    recorded on runc 1.1 starts under runc 1.3 without recording every job there too."""
    verifiers = list(verify_on) if verify_on is not None else list(backends)
    several = len({b.label for b in backends}) > 1
    several_verifiers = len({b.label for b in verifiers}) > 1

    def root_of(backend: Backend, apart: bool) -> Path:
        return run_root / slug(backend.label) if apart else run_root

    only: dict[str, tuple[str, ...]] = {}
    if recordings is None:
        if not backends or make_tracer is None:
            raise ValueError("recording needs a backend and a tracer")
        per_runtime: dict[str, list[Recording]] = {}
        for offset, backend in enumerate(backends):
            per_runtime[backend.label] = record_workloads(
                backend,
                plan,
                make_tracer,
                run_root=root_of(backend, several),
                progress=progress,
                first_run=1 + offset * plan.runs,
            )
        recordings = [r for found in per_runtime.values() for r in found]
        if several:
            only = runtime_only_calls(
                {
                    label: derive_profiles(found, options)[UNION]
                    for label, found in per_runtime.items()
                }
            )
        if probe_on:
            probed = _probe_runtimes(probe_on, backends, plan, make_tracer, run_root, progress)
            job_calls = {name for r in recordings for name in r.counts}
            for label, found in probed.items():
                recordings += found
                new_calls = sorted({n for r in found for n in r.counts} - job_calls)
                if new_calls:
                    only[label] = tuple(new_calls)
    profiles = derive_profiles(recordings, options)
    if only:
        profiles = {
            key: replace(derived, summary=replace(derived.summary, oci_runtime_only=only))
            for key, derived in profiles.items()
        }
    on_derived(profiles)
    outcome = RecordOutcome(profiles, tuple(recordings))
    if not verify or not verifiers:
        return _with_lost_event_warnings(outcome)
    reports = tuple(
        verify_profiles(
            backend, plan, outcome, run_root=root_of(backend, several_verifiers), progress=progress
        )
        for backend in verifiers
    )
    return _with_lost_event_warnings(
        replace(outcome, verification=reports[0], verifications=reports if len(reports) > 1 else ())
    )


def _probe_runtimes(
    engines: Sequence[Backend],
    backends: Sequence[Backend],
    plan: RecordPlan,
    make_tracer: TracerFactory,
    run_root: Path,
    progress: Progress,
) -> dict[str, list[Recording]]:
    """Engine label -> the runtime probe's recordings (one per pod role), for each of
    ``engines`` nothing was recorded on. A tracer that must hold the first process to see
    it (strace) cannot watch a one-off container's start: no probe then."""
    from profiler.tracing.runtime_probe import (
        for_roles,
        runtime_calls_after_filter,
        save_probes,
    )

    recorded = {b.label for b in backends}
    targets = [e for e in engines if e.label not in recorded and isinstance(e, ContainerEngine)]
    roles = ROLES if plan.shape.topology is Topology.POD else (Role.ALL.value,)
    found: dict[str, list[Recording]] = {}
    for index, backend in enumerate(targets):
        folder = run_root / slug(backend.label) / "runtime-probe"
        tracer = make_tracer(folder)
        if tracer.holds_first_process:
            break
        progress(
            f"probing what {backend.label}'s OCI runtime calls after the filter",
            index,
            len(targets),
        )
        probed = runtime_calls_after_filter(
            backend, plan.shape.image, tracer, pod_security=plan.shape.pod_security
        )
        if probed is None:
            continue
        oci_runtime = oci_runtime_of(backend)
        if oci_runtime is not None:
            probed = with_runtime_version(probed, oci_runtime)
        copies = for_roles(probed, roles)
        save_probes(copies, folder)
        found[backend.label] = copies
    return found


def _with_lost_event_warnings(outcome: RecordOutcome) -> RecordOutcome:
    """One note per run whose tracer lost events, saying whether the verification still
    vouches for the profiles: it ran every workload under them, so a pass means the jobs
    have every call they need, whatever the trace missed."""
    lost = generate.lost_events_by_run(outcome.recordings)
    if not lost:
        return outcome
    if outcome.verification is None:
        verdict = "the profile was not verified, so a job may need a call it denies"
    elif outcome.verified:
        verdict = "verification passed under the profile, so the recorded jobs have what they need"
    else:
        verdict = "verification failed, and the lost events may be why"
    notes = tuple(
        f"{lost_events_warning(run, count)}; {verdict}; record again with {LARGER_BUFFER} "
        "set for a larger bpftrace buffer"
        for run, count in lost.items()
    )
    return replace(outcome, warnings=(*outcome.warnings, *notes))


def runtime_only_calls(unions: dict[str, DerivedProfile]) -> dict[str, tuple[str, ...]]:
    """Per runtime label, the calls its profile allows and no other runtime's does."""
    allowed = {label: set(d.profile.allowed()) for label, d in unions.items()}
    return {
        label: tuple(sorted(names - set().union(*(v for k, v in allowed.items() if k != label))))
        for label, names in sorted(allowed.items())
    }


def verify_profiles(
    backend: Backend,
    plan: RecordPlan,
    outcome: RecordOutcome,
    *,
    run_root: Path,
    progress: Progress = no_progress,
) -> CheckReport:
    """Run every workload under the new profiles, in the shape they were recorded in;
    results must match the recorded ones."""
    reference = {r.workload: r.checksum for r in outcome.recordings if r.checksum}
    check = CheckPlan(
        workloads=plan.workloads,
        modes=(SecurityMode.LOCALHOST,),
        shape=plan.shape,
        profiles=outcome.profile_set(),
        reference_checksums=reference,
    )
    options = CheckOptions(timeout_seconds=plan.timeout_seconds, run_root=run_root / "verify")
    return run_check(backend, check, options, progress=progress)


def load_recordings(paths: Sequence[Path]) -> list[Recording]:
    """Recordings saved by earlier runs (``recording.json`` files or folders holding them)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob("recording*.json")))
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path} does not exist", "give recording.json files or run folders")
    if not found:
        raise UsageError("no recording.json found", "record first with `spark-seccomp record`")
    return [Recording.load(p) for p in found]


def tracer_factory(choice: TracerName | str, note: Callable[[str], None]) -> TracerFactory:
    """The tracer to use; ``auto`` prefers eBPF and says why it fell back to strace."""
    from profiler.errors import EnvironmentProblem
    from profiler.tracing.ebpf import EbpfTracer
    from profiler.tracing.strace import StraceTracer

    try:
        chosen = TracerName(str(choice).lower())
    except ValueError:
        raise UsageError(f"unknown tracer {choice!r}", f"choose {TracerName.names()}") from None
    if chosen in (TracerName.AUTO, TracerName.EBPF):
        try:
            EbpfTracer(Path(".")).check_available()
            if chosen is TracerName.AUTO:
                note("tracer: ebpf (bpftrace)")
            return EbpfTracer
        except EnvironmentProblem as exc:
            if chosen is TracerName.EBPF:
                raise
            note(f"tracer: strace, because eBPF is not usable here: {exc.diagnostics()}")
    StraceTracer(Path(".")).check_available()
    return StraceTracer


def needs_explicit_errno(backend: Backend, image: str) -> bool:
    """Whether this engine drops ``defaultErrnoRet`` (so profiles need explicit rules)."""
    return not backend.honours_default_errno(image)


def workloads_of(recordings: Sequence[Recording]) -> list[Workload]:
    """The workloads behind recordings: catalogue names, or the scripts they recorded."""
    from profiler.workloads import resolve

    chosen: dict[str, Workload] = {}
    for recording in sorted(recordings, key=lambda r: r.workload):
        if recording.workload in chosen:
            continue
        chosen[recording.workload] = resolve(recording.script or recording.workload)
    return list(chosen.values())
