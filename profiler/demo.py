"""The whole story in one run directory: record, derive, check, bench, report.

record the workloads -> derive their union profile -> check unconfined, runtime-default
and the new profile -> a short interleaved bench with the syscall micro-benchmark ->
report. Every step writes into one run directory, so ``report`` finds it all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from profiler.bench.environment import CommandRunner
from profiler.bench.microbench_run import run_microbench
from profiler.bench.runner import run_bench
from profiler.bench.stats import BenchReport
from profiler.check import CheckOptions, CheckPlan, CheckReport, run_check
from profiler.output import OutputFile, write_file, write_files
from profiler.record import UNION, DeriveOptions, RecordPlan, TracerFactory, record_profile
from profiler.report.build import ReportFiles, build_report
from profiler.report.check_formats import check_to_json
from profiler.runtime.interface import (
    DEFAULT_EXECUTORS,
    Backend,
    PodSecurity,
    SecurityMode,
    Topology,
)
from profiler.seccomp import generate
from profiler.seccomp.profile import Profile
from profiler.vocabulary import Note, Progress, no_note, no_progress
from profiler.workloads import Workload

ALL_MODES = (SecurityMode.UNCONFINED, SecurityMode.RUNTIME_DEFAULT, SecurityMode.LOCALHOST)
# Short bench: two workloads of different kinds, few rounds; `bench` does the real thing.
BENCH_WORKLOADS = ("rdd_python", "sql_aggregation")
# What `demo` shows without names: Python lambdas in executor pods, a SQL shuffle and join,
# pandas/Arrow UDFs. The whole catalogue in pod shape takes about 40 minutes on 2 cores.
DEMO_WORKLOADS = ("rdd_python", "sql_aggregation", "pandas_udf")


@dataclass(frozen=True)
class DemoOutcome:
    profile: Profile
    summary: generate.Summary
    check: CheckReport
    bench: BenchReport | None
    report: ReportFiles
    run_dir: Path


def run_demo(
    backend: Backend,
    workloads: Sequence[Workload],
    image: str,
    make_tracer: TracerFactory,
    *,
    run_dir: Path,
    explicit_errno: bool,
    write_runtime_default: Callable[[Path], None],
    bench_repeat: int = 3,
    micro_repeat: int = 5,
    pod_security: PodSecurity = PodSecurity.RESTRICTED,
    topology: Topology = Topology.POD,
    executors: int = DEFAULT_EXECUTORS,
    stage: Note = no_note,
    progress: Progress = no_progress,
) -> DemoOutcome:
    run_dir.mkdir(parents=True, exist_ok=True)
    shape = f"{topology.value} topology"
    stage(f"1/5 recording {len(workloads)} workload(s) in {shape} under the recording filter")
    plan = RecordPlan(
        workloads=tuple(workloads),
        image=image,
        pod_security=pod_security,
        topology=topology,
        executors=executors,
    )
    recorded = record_profile(
        backend,
        plan,
        DeriveOptions(explicit_errno=explicit_errno),
        run_root=run_dir,
        make_tracer=make_tracer,
        verify=False,
        progress=progress,
        on_derived=lambda _p: stage("2/5 deriving the profiles (union and per role)"),
    )
    files = []
    for key, derived in recorded.profiles.items():
        name = "profile" if key == UNION else f"profile.{key}"
        files.append(OutputFile(run_dir / f"{name}.json", derived.profile.to_json()))
        files.append(OutputFile(run_dir / f"{name}.summary.json", derived.summary.to_json()))
    write_files(files)
    profiles = recorded.profile_set()
    write_runtime_default(run_dir)
    stage("3/5 checking unconfined, runtime-default and the new profiles")
    check = run_check(
        backend,
        CheckPlan(
            workloads=tuple(workloads),
            modes=ALL_MODES,
            image=image,
            profiles=profiles,
            pod_security=pod_security,
            topology=topology,
            executors=executors,
        ),
        CheckOptions(run_root=run_dir / "check"),
        progress=progress,
    )
    write_file(run_dir / "check.json", check_to_json(check))
    bench_set = [w for w in workloads if w.name in BENCH_WORKLOADS] or list(workloads[:1])
    stage(f"4/5 a short bench: {', '.join(w.name for w in bench_set)}, {bench_repeat} rounds")
    bench = run_bench(
        backend,
        bench_set,
        list(ALL_MODES),
        image,
        profiles=profiles,
        repeat=bench_repeat,
        pod_security=pod_security,
        topology=topology,
        executors=executors,
        run_root=run_dir / "bench",
        progress=progress,
    )
    write_file(run_dir / "bench.json", (run_dir / "bench" / "bench.json").read_text())
    if isinstance(backend, CommandRunner):
        run_microbench(
            backend,
            image,
            profile_json=profiles.union.text,
            repeat=micro_repeat,
            pod_security=pod_security,
            environment=bench.environment,
            run_root=run_dir,
            progress=progress,
        )
    stage("5/5 writing the report")
    report = build_report(run_dir)
    union = recorded.union
    return DemoOutcome(union.profile, union.summary, check, bench, report, run_dir)
