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
from profiler.check import CheckReport, Progress, run_check
from profiler.output import OutputFile, write_file, write_files
from profiler.record import TracerFactory, record_workloads
from profiler.report.build import ReportFiles, build_report
from profiler.report.check_formats import check_to_json
from profiler.runtime.interface import Backend, PodSecurity, SecurityMode
from profiler.seccomp import generate
from profiler.seccomp.profile import Profile
from profiler.workloads import Workload

Stage = Callable[[str], None]
ALL_MODES = (SecurityMode.UNCONFINED, SecurityMode.RUNTIME_DEFAULT, SecurityMode.LOCALHOST)
# Short bench: two workloads of different kinds, few rounds; `bench` does the real thing.
BENCH_WORKLOADS = ("rdd_python", "sql_aggregation")


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
    stage: Stage = lambda _s: None,
    progress: Progress = lambda _m, _d, _t: None,
) -> DemoOutcome:
    run_dir.mkdir(parents=True, exist_ok=True)
    stage(f"1/5 recording {len(workloads)} workload(s) under the allow-all recording filter")
    recordings = record_workloads(
        backend,
        workloads,
        image,
        make_tracer,
        pod_security=pod_security,
        run_root=run_dir,
        progress=progress,
    )
    stage("2/5 deriving the union profile")
    profile, summary = generate.derive_profile(recordings, explicit_errno=explicit_errno)
    profile_json = profile.to_json()
    write_files(
        [
            OutputFile(run_dir / "profile.json", profile_json),
            OutputFile(run_dir / "profile.summary.json", summary.to_json()),
        ]
    )
    write_runtime_default(run_dir)
    stage("3/5 checking unconfined, runtime-default and the new profile")
    check = run_check(
        backend,
        workloads,
        list(ALL_MODES),
        image,
        profile_json=profile_json,
        profile_label="derived profile",
        pod_security=pod_security,
        run_root=run_dir / "check",
        progress=progress,
    )
    write_file(run_dir / "check.json", check_to_json(check))
    bench = None
    bench_set = [w for w in workloads if w.name in BENCH_WORKLOADS] or list(workloads[:1])
    stage(f"4/5 a short bench: {', '.join(w.name for w in bench_set)}, {bench_repeat} rounds")
    bench = run_bench(
        backend,
        bench_set,
        list(ALL_MODES),
        image,
        profile_json=profile_json,
        profile_label="derived profile",
        repeat=bench_repeat,
        pod_security=pod_security,
        run_root=run_dir / "bench",
        progress=progress,
    )
    write_file(run_dir / "bench.json", (run_dir / "bench" / "bench.json").read_text())
    if isinstance(backend, CommandRunner):
        run_microbench(
            backend,
            image,
            profile_json=profile_json,
            repeat=micro_repeat,
            pod_security=pod_security,
            environment=bench.environment,
            run_root=run_dir,
            progress=progress,
        )
    stage("5/5 writing the report")
    report = build_report(run_dir)
    return DemoOutcome(profile, summary, check, bench, report, run_dir)
