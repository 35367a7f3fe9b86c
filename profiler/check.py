"""Compatibility check: every workload under every security mode, with verdicts.

A run passes when the job exits 0 and, if an unconfined run of the same workload is part
of the check, reports the same result checksum. A wrong result under a profile is as
much a breakage as a crash: some denied syscalls make a library fall back silently.
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from profiler.errors import EnvironmentProblem
from profiler.matrix import Target
from profiler.runtime.interface import (
    DEFAULT_EXECUTORS,
    Backend,
    ContainerEngine,
    ContainerResult,
    PodSecurity,
    ProfileSet,
    Role,
    RunResult,
    RunSpec,
    SecurityMode,
    Topology,
)
from profiler.runtime.run_shape import RunShape
from profiler.vocabulary import Progress, no_progress
from profiler.workloads import Workload

if TYPE_CHECKING:
    from profiler.diagnosis.diagnoser import Diagnoser


class Verdict(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    TIMEOUT = "timeout"
    MISMATCH = "mismatch"  # ran, but its result differs from the unconfined run
    # A container ran out of memory: killed at its memory limit (OOMKilled), or its JVM
    # heap was too small (Spark's executors exit 52 then). A memory setting to fix, not
    # a seccomp denial.
    OOM = "oom"

    @property
    def ok(self) -> bool:
        return self is Verdict.PASS


@dataclass(frozen=True)
class RunOutcome:
    verdict: Verdict
    exit_code: int | None
    wall_seconds: float
    job_seconds: float | None
    cpu_seconds: float | None
    checksum: str | None
    error_line: str
    run_dir: str | None


@dataclass(frozen=True)
class Cell:
    workload: str
    mode: SecurityMode
    runs: tuple[RunOutcome, ...]
    diagnosis: tuple[str, ...] = field(default=())  # filled in by denial diagnosis

    @property
    def verdict(self) -> Verdict:
        """The worst verdict of the cell's runs: one failure in N makes the cell fail."""
        order = [Verdict.FAIL, Verdict.OOM, Verdict.TIMEOUT, Verdict.MISMATCH, Verdict.PASS]
        return min((r.verdict for r in self.runs), key=order.index)

    @property
    def median_wall(self) -> float:
        return statistics.median(r.wall_seconds for r in self.runs)

    @property
    def passes(self) -> int:
        return sum(1 for r in self.runs if r.verdict.ok)


@dataclass(frozen=True)
class CheckPlan:
    """What a check runs: every workload under every mode, ``repeat`` times, in one shape."""

    workloads: tuple[Workload, ...]
    modes: tuple[SecurityMode, ...]
    shape: RunShape
    profiles: ProfileSet | None = None  # needed for localhost
    repeat: int = 1
    # Each workload's expected result when the check has no unconfined runs of its own
    # (record's verification compares with the recorded runs).
    reference_checksums: Mapping[str, str] = field(default_factory=dict)

    def spec(self, workload: Workload, mode: SecurityMode, timeout_seconds: float) -> RunSpec:
        return self.shape.spec(
            workload, mode, timeout_seconds=timeout_seconds, profiles=self.profiles
        )


@dataclass(frozen=True)
class CheckOptions:
    """How a check runs."""

    timeout_seconds: float = 600.0
    run_root: Path | None = None
    # A confined cell that fails while the workload passes unconfined (or, with no
    # unconfined cells, while it has a reference result) is rerun in complain mode, and
    # ``Cell.diagnosis`` says which syscalls were denied, in which process and pod.
    diagnose: bool = True
    # Confined cells run only in complain mode (nothing is denied) and their diagnosis
    # lists the would-be denials.
    complain: bool = False


@dataclass(frozen=True)
class CheckReport:
    image: str
    pod_security: PodSecurity
    modes: tuple[SecurityMode, ...]
    workloads: tuple[str, ...]
    cells: tuple[Cell, ...]
    profile_label: str | None
    repeat: int
    topology: Topology = Topology.POD
    executors: int = DEFAULT_EXECUTORS
    notes: tuple[str, ...] = ()
    runtime: str = ""  # the engine and OCI runtime that ran it ("podman/crun")
    # What the engine said it is: engine, oci_runtime and, on a node, the node's build
    # and the versions it holds (sid moves: results say what they ran on).
    versions: tuple[tuple[str, str], ...] = ()

    @property
    def passed(self) -> bool:
        return all(c.verdict.ok for c in self.cells)

    def cell(self, workload: str, mode: SecurityMode) -> Cell:
        for c in self.cells:
            if c.workload == workload and c.mode is mode:
                return c
        raise KeyError((workload, mode))


def run_check(
    backend: Backend,
    plan: CheckPlan,
    options: CheckOptions = CheckOptions(),
    *,
    progress: Progress = no_progress,
    diagnoser: Diagnoser | None = None,
    on_run: Callable[[int, RunResult], None] | None = None,
) -> CheckReport:
    """Run the matrix, unconfined first in each round so later runs can be compared to it.

    ``diagnoser`` defaults to ``ComplainDiagnoser(backend)``, made only when a cell needs it.
    ``on_run`` hears of every run with its round (the demo's bench counts them as its own
    first round).
    """
    ordered_modes = sorted(plan.modes, key=lambda m: m is not SecurityMode.UNCONFINED)
    total = len(plan.workloads) * len(ordered_modes) * plan.repeat
    results: dict[tuple[str, SecurityMode], list[RunResult]] = {}
    notes: dict[tuple[str, SecurityMode], list[str]] = {}
    specs: dict[tuple[str, SecurityMode], RunSpec] = {}
    run_notes: list[str] = []
    done = 0
    run_root = options.run_root

    def get_diagnoser() -> Diagnoser:
        nonlocal diagnoser
        if diagnoser is None:
            from profiler.diagnosis.diagnoser import ComplainDiagnoser

            diagnoser = ComplainDiagnoser(backend)
        return diagnoser

    for round_index in range(plan.repeat):
        for workload in plan.workloads:
            for mode in ordered_modes:
                progress(
                    f"{workload.name} [{mode.value}] run {round_index + 1}/{plan.repeat}",
                    done,
                    total,
                )
                spec = plan.spec(workload, mode, options.timeout_seconds)
                run_dir = (
                    run_root / workload.name / f"{mode.value}-{round_index + 1}"
                    if run_root is not None
                    else None
                )
                key = (workload.name, mode)
                specs.setdefault(key, spec)
                result = None
                if options.complain and mode is not SecurityMode.UNCONFINED:
                    outcome = get_diagnoser().complain_run(spec, run_dir, failed=False)
                    result = outcome.result
                    cell_notes = notes.setdefault(key, [])
                    cell_notes.extend(line for line in outcome.lines if line not in cell_notes)
                if result is None:
                    result = backend.run(spec, run_dir)
                cell_notes = notes.setdefault(key, [])
                cell_notes.extend(n for n in _cell_notes(result) if n not in cell_notes)
                run_notes.extend(n for n in _run_notes(result) if n not in run_notes)
                results.setdefault(key, []).append(result)
                if on_run is not None:
                    on_run(round_index, result)
                done += 1
    cells = []
    for workload in plan.workloads:
        unconfined = results.get((workload.name, SecurityMode.UNCONFINED), [])
        reference = _reference_checksum(unconfined) or plan.reference_checksums.get(workload.name)
        # Diagnosis only makes sense when the job is known to work without seccomp.
        works_unconfined = (
            _reference_checksum(unconfined) is not None
            or any(r.succeeded for r in unconfined)
            or (not unconfined and reference is not None)
        )
        for mode in plan.modes:
            key = (workload.name, mode)
            runs = tuple(judge(r, reference) for r in results[key])
            cell = Cell(workload.name, mode, runs, tuple(notes.get(key, ())))
            if (
                options.diagnose
                and not options.complain
                and mode is not SecurityMode.UNCONFINED
                and works_unconfined
                and not cell.verdict.ok
            ):
                progress(f"diagnosing {workload.name} [{mode.value}]", done, total)
                diagnosis_dir = (
                    run_root / workload.name / f"{mode.value}-diagnosis"
                    if run_root is not None
                    else None
                )
                diagnosis = get_diagnoser().diagnose(specs[key], diagnosis_dir)
                cell = replace(cell, diagnosis=(*cell.diagnosis, *diagnosis))
            cells.append(cell)
    progress("done", done, total)
    shape = plan.shape
    return CheckReport(
        image=shape.image,
        pod_security=shape.pod_security,
        modes=tuple(plan.modes),
        workloads=tuple(w.name for w in plan.workloads),
        cells=tuple(cells),
        profile_label=plan.profiles.label(shape.topology) if plan.profiles else None,
        repeat=plan.repeat,
        topology=shape.topology,
        executors=shape.executors,
        notes=tuple(run_notes),
        runtime=backend.label,
        versions=engine_versions(backend),
    )


def engine_versions(backend: Backend) -> tuple[tuple[str, str], ...]:
    """What an engine backend says it is (nothing for the local backend)."""
    if not isinstance(backend, ContainerEngine):
        return ()
    return tuple(sorted(backend.versions().items()))


def versions_line(runtime: str, versions: Mapping[str, str]) -> str:
    """ "podman/runc@sid: podman 5.8.6, runc 1.3.6; node sid (Debian sid, built ...): ..." """
    said = [versions[k] for k in ("engine", "oci_runtime") if k in versions]
    if "containerd" in versions and not versions.get("engine", "").startswith("containerd"):
        said.append(f"containerd {versions['containerd']}")
    line = f"{runtime}: {', '.join(said)}" if said else runtime
    if "node" in versions:
        line += f"; node {versions['node']}"
    return line


def run_checks(
    targets: Sequence[Target],
    plan: CheckPlan,
    options: CheckOptions = CheckOptions(),
    *,
    progress: Progress = no_progress,
    diagnoser_for: Callable[[Backend], Diagnoser] | None = None,
) -> tuple[CheckReport, ...]:
    """One check per target of an engine x image matrix, one after the other so that no
    two runs share the machine, each with its image, engine and profiles and its run logs
    in the target's folder. ``diagnoser_for`` makes each backend's diagnoser (default:
    ``ComplainDiagnoser``); with ``options.complain`` every one must be available before
    the first run."""
    diagnosers: dict[int, Diagnoser] = {}
    for target in targets:
        if id(target.backend) not in diagnosers:
            diagnoser = _diagnoser_for(target.backend, diagnoser_for)
            if options.complain and (missing := diagnoser.unavailable()):
                raise EnvironmentProblem(missing, "run as root with bpftrace installed")
            diagnosers[id(target.backend)] = diagnoser
    several = len(targets) > 1
    reports = []
    for target in targets:

        def tagged(message: str, done: int, total: int, label: str = target.label) -> None:
            progress(f"{label}: {message}" if several else message, done, total)

        reports.append(
            run_check(
                target.backend,
                replace(plan, shape=target.shape, profiles=target.profiles),
                replace(options, run_root=target.folder if options.run_root else None),
                progress=tagged,
                diagnoser=diagnosers[id(target.backend)],
            )
        )
    return tuple(reports)


def _diagnoser_for(backend: Backend, make: Callable[[Backend], Diagnoser] | None) -> Diagnoser:
    if make is not None:
        return make(backend)
    from profiler.diagnosis.diagnoser import ComplainDiagnoser

    return ComplainDiagnoser(backend)


# Notes every pod run carries alike go once under the table, not into each cell.
_RUN_WIDE = ("not emulated:",)


def _cell_notes(result: RunResult) -> list[str]:
    return [n for n in result.notes if not n.startswith(_RUN_WIDE)]


def _run_notes(result: RunResult) -> list[str]:
    return [n for n in result.notes if n.startswith(_RUN_WIDE)]


def judge(result: RunResult, reference_checksum: str | None) -> RunOutcome:
    """The verdict of one run against the unconfined reference (pure).

    Every container counts: a job that passes while one of its executor pods died (its
    tasks retried on the others) still fails, naming the pod."""
    checksum = result.result.checksum if result.result else None
    failed = result.failed_container()
    if result.timed_out:
        verdict = Verdict.TIMEOUT
        error = f"timed out after {result.spec.timeout_seconds:.0f} s"
    elif result.containers and result.containers[0].orphaned and failed_executor(result):
        # The executors died first and the driver waited for them: they are the story.
        executor = failed_executor(result)
        assert executor is not None
        verdict = Verdict.OOM if out_of_memory(executor) else Verdict.FAIL
        error = (
            f"executor {executor.name}: {_container_error(executor)} "
            "(every executor pod exited; the driver was stopped)"
        )
    elif result.exit_code != 0:
        verdict = Verdict.FAIL
        if result.containers:
            error = _container_error(result.containers[0])
            if out_of_memory(result.containers[0]):
                verdict = Verdict.OOM
        else:
            error = f"exit {result.exit_code}: {result.last_error_line()}"
        if len(result.containers) > 1:
            error = f"driver: {error}"
    elif failed is not None:
        verdict = Verdict.OOM if out_of_memory(failed) else Verdict.FAIL
        error = f"{failed.role.value} {failed.name}: {_container_error(failed)}"
    elif reference_checksum is not None and checksum != reference_checksum:
        verdict = Verdict.MISMATCH
        error = f"checksum {checksum} differs from unconfined {reference_checksum}"
    else:
        verdict = Verdict.PASS
        error = ""
    return RunOutcome(
        verdict=verdict,
        exit_code=result.exit_code,
        wall_seconds=result.wall_seconds,
        job_seconds=result.result.job_seconds if result.result else None,
        cpu_seconds=result.cpu_seconds,
        checksum=checksum,
        error_line=error,
        run_dir=str(result.run_dir) if result.run_dir else None,
    )


def failed_executor(result: RunResult) -> ContainerResult | None:
    return next((c for c in result.containers if c.role is Role.EXECUTOR and not c.succeeded), None)


# Spark's executors exit with SparkExitCode.OOM when the JVM runs out of heap.
SPARK_OOM_EXIT = 52
_HEAP_ERRORS = ("Java heap space", "GC overhead limit exceeded", "Metaspace")


def out_of_memory(container: ContainerResult) -> bool:
    """Whether a container failed for want of memory. "OutOfMemoryError: unable to create
    native thread" is not one: it is what the JVM says when thread creation is denied."""
    if container.oom_killed:
        return True
    if container.role is Role.EXECUTOR and container.exit_code == SPARK_OOM_EXIT:
        return True
    return any(f"OutOfMemoryError: {what}" in container.stderr for what in _HEAP_ERRORS)


def _container_error(container: ContainerResult) -> str:
    if container.start_error is not None:
        return container.last_error_line()
    if container.oom_killed:
        return "OOMKilled: the container reached its memory limit"
    if container.timed_out:
        return "timed out"
    return f"exit {container.exit_code}: {container.last_error_line()}"


def _reference_checksum(unconfined_runs: Sequence[RunResult]) -> str | None:
    for run in unconfined_runs:
        if run.succeeded and run.result and run.result.checksum:
            return run.result.checksum
    return None
