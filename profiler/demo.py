"""The whole story in one run folder: record, derive, check, bench, report.

record the workloads -> derive their profiles (the union and one per role) -> check
unconfined, runtime-default and the new profiles -> a short bench whose first round is the
check's runs, the bound (the recordings' counts x the added cost of one call under each
filter) and the report (the bench pipeline, ``profiler.benchmark``, as ``bench`` runs it). Every step writes into one run folder, so ``report`` finds it all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from profiler.bench.bound import BoundReport
from profiler.bench.runner import BenchPlan
from profiler.bench.stats import BenchReport
from profiler.benchmark import BenchOptions, BoundOptions, MicrobenchOptions, run_benchmark
from profiler.check import CheckOptions, CheckPlan, CheckReport, run_check
from profiler.output import OutputFile, write_file, write_files
from profiler.record import UNION, DeriveOptions, RecordPlan, TracerFactory, record_profile
from profiler.report.build import ReportFiles
from profiler.report.check_formats import check_to_json
from profiler.runtime.interface import Backend, RunResult, SecurityMode
from profiler.runtime.run_shape import RunShape
from profiler.seccomp import generate
from profiler.seccomp.profile import Profile
from profiler.vocabulary import Note, Progress, Stopwatch, no_note, no_progress
from profiler.workloads import Workload

ALL_MODES = (SecurityMode.UNCONFINED, SecurityMode.RUNTIME_DEFAULT, SecurityMode.LOCALHOST)
# What `demo` shows without names: Python lambdas in executor pods, and a SQL shuffle and
# join: two jobs of different kinds, the fastest of the catalogue, so that the whole story
# fits in five minutes on 2 cores (each pod run is 30-40 s there). `--all` runs the whole
# catalogue (PySpark and Java): an hour or more.
DEMO_WORKLOADS = ("rdd_python", "sql_aggregation")
# The bench's workloads among those the demo runs (the first one when none is).
BENCH_WORKLOADS = DEMO_WORKLOADS


@dataclass(frozen=True)
class DemoPlan:
    """What the demo runs: the workloads, in one shape, and how long the short bench is.

    The bench's first round is the check's own runs, so ``bench_repeat=1`` runs no job
    again: the job-level figures are one run each (too few for an interval, and the bench
    says so), and the figure to quote is the bound, which needs no further job run."""

    workloads: tuple[Workload, ...]
    shape: RunShape
    bench_repeat: int = 1
    # Rounds of the syscall micro-benchmark (None: none; the bound's per-call costs under
    # each filter are the finer measurement of the same thing).
    micro_repeat: int | None = None
    bound_repeat: int = 5  # rounds of the per-call cost under each filter (13 s for 3)
    # Whether profiles list denied calls with an explicit errnoRet (an engine that drops
    # defaultErrnoRet: ``record.needs_explicit_errno``).
    explicit_errno: bool = False
    # The RuntimeDefault reference for the report (None: the engine's, read and probed).
    runtime_default: Path | None = None


@dataclass(frozen=True)
class DemoOutcome:
    profile: Profile
    summary: generate.Summary
    check: CheckReport
    bench: BenchReport | None
    report: ReportFiles
    run_dir: Path
    timings: tuple[tuple[str, float], ...] = ()  # seconds per stage and bench step, in order
    bound: BoundReport | None = None  # what each filter can add to each pod's CPU time


def run_demo(
    backend: Backend,
    plan: DemoPlan,
    make_tracer: TracerFactory,
    *,
    run_dir: Path,
    stage: Note = no_note,
    progress: Progress = no_progress,
    note: Note = no_note,
) -> DemoOutcome:
    run_dir.mkdir(parents=True, exist_ok=True)
    watch = Stopwatch()
    shape, workloads = plan.shape, plan.workloads
    stage(
        f"1/4 recording {len(workloads)} workload(s) in {shape.topology.value} topology "
        "under the recording filter"
    )
    recorded = record_profile(
        [backend],
        RecordPlan(workloads=workloads, shape=shape),
        DeriveOptions(explicit_errno=plan.explicit_errno),
        run_root=run_dir,
        make_tracer=make_tracer,
        verify=False,
        progress=progress,
        on_derived=lambda _p: stage("2/4 deriving the profiles (union and per role)"),
    )
    files = []
    for key, derived in recorded.profiles.items():
        name = "profile" if key == UNION else f"profile.{key}"
        files.append(OutputFile(run_dir / f"{name}.json", derived.profile.to_json()))
        files.append(OutputFile(run_dir / f"{name}.summary.json", derived.summary.to_json()))
    write_files(files)
    watch.lap("record and derive")
    profiles = recorded.profile_set()
    stage("3/4 checking unconfined, runtime-default and the new profiles")
    bench_set = tuple(w for w in workloads if w.name in BENCH_WORKLOADS) or workloads[:1]
    # The check runs every workload under every mode once, in the order of a bench round:
    # the bench workloads' runs are the short bench's first round, not run again.
    first_round: list[tuple[int, RunResult]] = []
    check = run_check(
        backend,
        CheckPlan(workloads=workloads, modes=ALL_MODES, shape=shape, profiles=profiles),
        CheckOptions(run_root=run_dir / "check"),
        progress=progress,
        on_run=lambda round_index, result: first_round.append((round_index, result)),
    )
    write_file(run_dir / "check.json", check_to_json(check))
    watch.lap("check")
    extra_rounds = plan.bench_repeat - 1
    rounds = (
        f"{plan.bench_repeat} rounds (the check's runs are the first)"
        if extra_rounds
        else "the check's runs as its one round (no job runs again)"
    )
    micro = ", the micro-benchmark" if plan.micro_repeat else ""
    stage(
        f"4/4 a short bench: {', '.join(w.name for w in bench_set)}, {rounds}{micro}, "
        "the bound and the report"
    )
    bench = run_benchmark(
        backend,
        BenchPlan(
            workloads=bench_set,
            modes=ALL_MODES,
            shape=shape,
            profiles=profiles,
            repeat=plan.bench_repeat,
        ),
        BenchOptions(
            run_root=run_dir,
            logs_root=run_dir / "bench",
            microbench=(MicrobenchOptions(repeat=plan.micro_repeat) if plan.micro_repeat else None),
            runtime_default=plan.runtime_default,
            # The counts of the bound are the recordings made above.
            bound=BoundOptions(recorded=recorded.recordings, repeat=plan.bound_repeat),
        ),
        progress=progress,
        note=note,
        first_rounds=first_round,
    )
    watch.add(bench.timings)
    union = recorded.union
    return DemoOutcome(
        union.profile,
        union.summary,
        check,
        bench.report,
        bench.files,
        run_dir,
        watch.laps,
        bench.bound,
    )
