"""The bench pipeline: interleaved rounds, the syscall micro-benchmark, the files beside
them, and the report, in one run folder. ``bench`` and the demo both call it.

rounds (``bench.runner``) -> micro-benchmark (``bench.microbench_run``) -> the bound
(recorded counts, or a recording per workload, x the added cost of one call under each
filter, ``bench.filter_cost`` and ``bench.bound``) -> a copy of the profiles and their
summary -> the RuntimeDefault allow list of the engine the runs used -> the report
(``report.build``). ``run_benchmarks`` does the same for every engine and image
of a matrix, one after the other, each in a folder of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from profiler.bench import filter_cost
from profiler.bench.bound import (
    BOUND_FILE,
    RECORDER_MODE,
    BoundReport,
    BoundTarget,
    bound_to_dict,
    bound_to_json,
    compute_bounds,
    counts_from_recordings,
)
from profiler.bench.environment import CommandRunner
from profiler.bench.filter_cost import FILTER_COST_FILE
from profiler.bench.microbench_run import (
    DEFAULT_ITERATIONS,
    DEFAULT_REPEAT,
    MicrobenchRun,
    run_microbench,
    syscall_loop_binary,
)
from profiler.bench.runner import BENCH_FILE, BenchPlan, run_bench
from profiler.bench.stats import BenchReport
from profiler.errors import ProfilerError, UsageError
from profiler.formats import jsonfile
from profiler.formats.summary import SUMMARY_HINT
from profiler.matrix import Target
from profiler.output import OutputFile, check_output_dir, check_output_files, write_files
from profiler.report.build import REPORT_FILES, ReportFiles, build_report
from profiler.report.inputs import (
    MICROBENCH_FILE,
    PROFILE_FILE,
    RUNTIME_DEFAULT_FILE,
    SUMMARY_FILE,
    summary_from_dict,
)
from profiler.report.plots import require_plotting
from profiler.runtime.interface import Backend, RunResult, SecurityMode, Topology
from profiler.runtime.probe import reference_beside_results
from profiler.seccomp.generate import summary_path_for
from profiler.seccomp.runtime_default import load_runtime_default
from profiler.tracing.interface import Recording
from profiler.vocabulary import ROLES, Note, Progress, Role, Stopwatch, no_note, no_progress

# Everything a bench writes into its run folder.
BENCH_OUTPUTS = (
    BENCH_FILE,
    MICROBENCH_FILE,
    FILTER_COST_FILE,
    BOUND_FILE,
    PROFILE_FILE,
    SUMMARY_FILE,
    RUNTIME_DEFAULT_FILE,
    *REPORT_FILES,
)


@dataclass(frozen=True)
class MicrobenchOptions:
    """The syscall micro-benchmark after the rounds: ``repeat`` rotated rounds of every
    micro mode, ``iterations`` calls each."""

    repeat: int = DEFAULT_REPEAT
    iterations: int = DEFAULT_ITERATIONS


@dataclass(frozen=True)
class BoundOptions:
    """The bound after the rounds: each pod's syscall counts from ``recordings``
    (recording.json files or the folders of a ``record`` run; a workload none of them
    covers is recorded once, with ``tracer``) times the added cost of one call under each
    filter (``repeat`` rotated rounds of ``iterations`` calls per case), over the pod's
    CPU time in the unconfined runs."""

    recordings: tuple[Path, ...] = ()
    recorded: tuple[Recording, ...] = ()  # recordings in hand (the demo's own)
    repeat: int = filter_cost.DEFAULT_REPEAT
    iterations: int = filter_cost.DEFAULT_ITERATIONS
    tracer: str = "auto"
    # Also bound the eBPF recorder's cost (its bpftrace program around the loop), when it
    # can run here (root, bpftrace, BTF).
    recorder: bool = True


@dataclass(frozen=True)
class BenchOptions:
    """Where a bench writes and what it adds to the rounds."""

    run_root: Path  # bench.json, microbench.json, the copies, runtime_default.json, report
    # Each run's logs (WORKLOAD/MODE-ROUND); ``run_root`` unless given.
    logs_root: Path | None = None
    microbench: MicrobenchOptions | None = MicrobenchOptions()  # None: no micro-benchmark
    # The profile file the Localhost runs used: copied, with its summary and its roles'
    # profiles, beside the results for the report (None: nothing to copy).
    profile_source: Path | None = None
    # The RuntimeDefault reference for the report's size section (None: the engine's own,
    # read and probed).
    runtime_default: Path | None = None
    bound: BoundOptions | None = BoundOptions()  # None: no bound


@dataclass(frozen=True)
class BenchOutcome:
    """One bench: its rounds' report, its micro-benchmark (if any ran), and the report."""

    report: BenchReport
    micro: MicrobenchRun | None
    files: ReportFiles
    run_root: Path
    notes: tuple[str, ...] = ()
    bound: BoundReport | None = None
    timings: tuple[tuple[str, float], ...] = ()  # seconds per step, in order


def check_bench_outputs(folders: Sequence[Path], runtime_default: Path | None = None) -> None:
    """What the last step needs, checked before the first round: the run folders and the
    files they will hold, matplotlib for the plots, a readable RuntimeDefault file."""
    for folder in folders:
        check_output_dir(folder)
        check_output_files(folder, BENCH_OUTPUTS)
    require_plotting()
    if runtime_default is not None:
        from profiler.seccomp.arch import native_arch

        load_runtime_default(runtime_default, arch=native_arch())  # a bad file fails now


def run_benchmark(
    backend: Backend,
    plan: BenchPlan,
    options: BenchOptions,
    *,
    progress: Progress = no_progress,
    note: Note = no_note,
    first_rounds: Sequence[tuple[int, RunResult]] = (),
) -> BenchOutcome:
    """rounds -> micro-benchmark -> the bound -> the profile copies -> the RuntimeDefault
    reference -> the report, in ``options.run_root``. ``first_rounds``: runs already made
    that count as the first rounds (``bench.runner.run_bench``)."""
    root = options.run_root
    root.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []

    def say(lines: Sequence[str]) -> None:
        for line in lines:
            notes.append(line)
            note(f"note: {line}")

    watch = Stopwatch()
    runner = backend if isinstance(backend, CommandRunner) else None
    if options.microbench is not None and runner is not None:
        syscall_loop_binary()  # needs gcc: fail (or build it) before the rounds, not after
    report = run_bench(
        backend,
        plan,
        run_root=options.logs_root or root,
        progress=progress,
        first_rounds=first_rounds,
    )
    if options.logs_root is not None and options.logs_root != root:
        # bench.json belongs beside the report.
        write_files([OutputFile(root / BENCH_FILE, (options.logs_root / BENCH_FILE).read_text())])
    watch.lap("bench rounds (and the environment record)")
    micro = None
    profile_json = plan.profiles.union.text if plan.profiles is not None else None
    if options.microbench is not None and runner is None:
        say([f"no micro-benchmark on the {backend.name} backend"])
    elif options.microbench is not None and runner is not None:
        micro = run_microbench(
            runner,
            plan.shape.image,
            profile_json=profile_json,
            repeat=options.microbench.repeat,
            iterations=options.microbench.iterations,
            pod_security=plan.shape.pod_security,
            environment=report.environment,
            run_root=root,
            progress=progress,
        )
        watch.lap("micro-benchmark")
    bound = None
    if options.bound is not None and runner is None:
        say([f"no bound on the {backend.name} backend: the per-call cost runs in containers"])
    elif options.bound is not None and runner is not None:
        try:
            bound = _bound(runner, plan, options.bound, report, root, progress, note, watch)
        except ProfilerError as exc:
            say([f"no bound: {exc.message}"])
    if options.profile_source is not None and plan.profiles is not None:
        say(_copy_profiles(options.profile_source, plan, root))
    say(_write_runtime_default(root, options.runtime_default, backend, plan.shape.image))
    watch.lap("RuntimeDefault reference (read and probed, cached per engine)")
    files = build_report(root)
    watch.lap("report")
    return BenchOutcome(report, micro, files, root, tuple(notes), bound, watch.laps)


def run_benchmarks(
    targets: Sequence[Target],
    plan: BenchPlan,
    options: BenchOptions,
    *,
    progress: Progress = no_progress,
    note: Note = no_note,
    on_outcome: Callable[[Target, BenchOutcome], None] = lambda _t, _o: None,
) -> list[BenchOutcome]:
    """One bench per target of an engine x image matrix, one after the other, each with
    its image, engine, profiles and folder; ``on_outcome`` hears of each as it ends."""
    outcomes = []
    for index, target in enumerate(targets, 1):
        if len(targets) > 1:
            note(
                f"bench of {target.shape.image} on {target.backend.label} ({index}/{len(targets)})"
            )
        own = replace(plan, shape=target.shape, profiles=target.profiles)
        own_options = replace(options, run_root=target.folder, profile_source=target.profile_source)
        outcome = run_benchmark(target.backend, own, own_options, progress=progress, note=note)
        on_outcome(target, outcome)
        outcomes.append(outcome)
    return outcomes


def _copy_profiles(source: Path, plan: BenchPlan, root: Path) -> list[str]:
    """The profile and its summary as a pair beside the results: a summary left from
    another profile in a reused run folder would put that profile's syscalls in the
    report. The role profiles go beside it (or a stale one from an earlier bench goes)."""
    assert plan.profiles is not None
    notes: list[str] = []
    summary = _readable_summary(summary_path_for(source), notes)
    roles = {"driver": plan.profiles.driver, "executor": plan.profiles.executor}
    files = [
        OutputFile(root / PROFILE_FILE, plan.profiles.union.text),
        OutputFile(root / SUMMARY_FILE, summary),
    ]
    for role in ROLES:
        own = roles[role]
        files.append(OutputFile(root / f"profile.{role}.json", own.text if own else None))
    write_files(files)
    return notes


def _readable_summary(summary: Path, notes: list[str]) -> str | None:
    """The profile's summary text when the report can read it; say so when it cannot."""
    if not summary.is_file():
        return None
    try:
        text = jsonfile.read_text(summary, str(summary), SUMMARY_HINT)
        summary_from_dict(jsonfile.parse_json(text, str(summary), SUMMARY_HINT), str(summary))
    except UsageError as exc:
        notes.append(f"{summary} left out of the report: {exc.message}")
        return None
    return text


def _bound(
    runner: CommandRunner,
    plan: BenchPlan,
    options: BoundOptions,
    report: BenchReport,
    root: Path,
    progress: Progress,
    note: Note,
    watch: Stopwatch,
) -> BoundReport:
    """Counts x per-call cost over CPU time; bound.json, and the bound in bench.json."""
    from profiler.record import RecordPlan, load_recordings, record_workloads, tracer_factory

    names = {w.name for w in plan.workloads}
    loaded = load_recordings(options.recordings) if options.recordings else []
    recordings = [r for r in (*options.recorded, *loaded) if r.workload in names]
    missing = tuple(w for w in plan.workloads if w.name not in {r.workload for r in recordings})
    if missing:
        note(
            "note: recording "
            + ", ".join(w.name for w in missing)
            + " once for the bound's syscall counts"
        )
        recordings += record_workloads(
            runner,
            RecordPlan(workloads=missing, shape=plan.shape, timeout_seconds=plan.timeout_seconds),
            tracer_factory(options.tracer, lambda _line: None),
            run_root=root / "bound",
            progress=progress,
        )
        watch.lap("bound: recording the workloads")
    counts = counts_from_recordings(recordings)
    called = {name for count in counts for name in count.names}
    runtime_default = None
    if SecurityMode.RUNTIME_DEFAULT in plan.modes:
        read = runner.runtime_default_filter(plan.shape.image)
        if read is None:
            note(f"note: {runner.label} does not show RuntimeDefault's filter: no bound for it")
        else:
            runtime_default = json.dumps(read[1], sort_keys=True)
    localhost: dict[str, str] = {}
    role_label: dict[str, str] = {}
    if SecurityMode.LOCALHOST in plan.modes and plan.profiles is not None:
        for role in _roles(plan):
            own = plan.profiles.for_role(Role(role))
            label = "localhost" if own.text == plan.profiles.union.text else f"localhost ({role})"
            localhost[label] = own.text
            role_label[role] = label
    recorder = options.recorder and _recorder_available()
    filters = filter_cost.filters_for_bench(
        runtime_default_json=runtime_default, localhost=localhost, recorder=recorder
    )
    cost = filter_cost.run_filter_cost(
        runner,
        plan.shape.image,
        filters,
        called,
        repeat=options.repeat,
        iterations=options.iterations,
        pod_security=plan.shape.pod_security,
        run_root=root,
        progress=progress,
        environment=report.environment,
    )
    watch.lap("bound: the per-call cost under each filter")
    targets = []
    for role in _roles(plan):
        if runtime_default is not None:
            targets.append(BoundTarget("runtime-default", role, "runtime-default"))
        if role in role_label:
            targets.append(BoundTarget("localhost", role, role_label[role]))
        if recorder:
            targets.append(BoundTarget(RECORDER_MODE, role, filter_cost.TRACED))
    bound = compute_bounds(counts, _cpu_by_role(report), targets, cost)
    if not bound.bounds:
        raise UsageError(
            "no pod has both recorded counts and CPU time from unconfined runs",
            "the recordings must be of the benched workloads, in the bench's topology",
        )
    bench_data = json.loads((root / BENCH_FILE).read_text())
    bench_data["bound"] = bound_to_dict(bound)
    write_files(
        [
            OutputFile(root / BOUND_FILE, bound_to_json(bound)),
            OutputFile(root / BENCH_FILE, json.dumps(bench_data, indent=2, sort_keys=True) + "\n"),
        ]
    )
    for line in (*cost.failed, *cost.disturbed):
        note(f"note: filter cost: {line}")
    for label, added in cost.loop_added.items():
        note(
            f"note: filter cost: {label} was measured with {', '.join(added)} allowed too "
            "(the timing loop reads its CPU clock with it; the profile does not allow it)"
        )
    return bound


def _roles(plan: BenchPlan) -> tuple[str, ...]:
    return ROLES if plan.shape.topology is Topology.POD else ("all",)


def _cpu_by_role(report: BenchReport) -> dict[tuple[str, str], list[float]]:
    """(workload, pod role) -> CPU seconds of each unconfined run."""
    metric = {"driver": "driver_cpu", "executor": "executor_cpu", "all": "cpu"}
    found: dict[tuple[str, str], list[float]] = {}
    for sample in report.samples:
        if sample.mode != report.reference:
            continue
        for role, name in metric.items():
            value = sample.value(name)
            if value is not None and value > 0:
                found.setdefault((sample.workload, role), []).append(value)
    return found


def _recorder_available() -> bool:
    """Whether the eBPF tracer can run here (root, bpftrace, BTF), for the recorder's cost."""
    from profiler.errors import EnvironmentProblem
    from profiler.tracing.ebpf import EbpfTracer

    try:
        EbpfTracer(Path(".")).check_available()
    except EnvironmentProblem:
        return False
    return True


def _write_runtime_default(
    root: Path, file: Path | None, backend: Backend, image: str
) -> list[str]:
    try:
        reference = reference_beside_results(file, backend, image)
    except ProfilerError as exc:
        return [f"no RuntimeDefault reference in the report: {exc.message}"]
    write_files([OutputFile(root / RUNTIME_DEFAULT_FILE, reference.to_json())])
    return []


__all__ = [
    "BENCH_OUTPUTS",
    "BenchOptions",
    "BoundOptions",
    "BenchOutcome",
    "MicrobenchOptions",
    "check_bench_outputs",
    "run_benchmark",
    "run_benchmarks",
]
