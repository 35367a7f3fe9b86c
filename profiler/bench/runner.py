"""Running a benchmark: workloads under seccomp modes, interleaved, into samples.

This module owns the order of runs and what is measured per run; the statistics are
``profiler.bench.stats``'s business and the environment record
``profiler.bench.environment``'s.

Order of runs, and why:

* **Interleaved rounds.** Each round runs every workload under every mode once
  (A B C, A B C, ...) rather than all A runs then all B runs, so slow drift of the
  machine (CPU frequency and thermal state, page cache, a neighbour's job) is shared by
  the modes of one round; ``stats`` pairs runs by round to cancel it.
* **Rotated order.** Round r starts at mode ``r % len(modes)`` (A B C, B C A, C A B), so
  no mode always runs first after a different workload (cold page cache for the image,
  JIT-less JVM start) or last (warmest). With a repeat count that is a multiple of the
  number of modes, every mode holds every position equally often.
* **Optional warm-up.** ``warmup`` unmeasured runs per workload (unconfined) before round
  0 take the first-run costs (image layers into the page cache) out of the samples.

Per run: wall time (container start to exit), the job's own time from its result line
(``job_seconds``; 0 or absent means "not measured") and CPU time from the container's
cgroup. A run that fails (exit code, timeout, or a result checksum different from the
workload's unconfined runs) is reported in ``BenchReport.warnings`` and in bench.json's
``failed_runs``, and left out of the statistics.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from profiler.bench.environment import collect_environment
from profiler.bench.stats import (
    DEFAULT_PRECISION,
    BenchReport,
    Sample,
    analyse_bench,
    bench_to_dict,
)
from profiler.check import Verdict, judge
from profiler.output import write_file
from profiler.runtime.interface import (
    Backend,
    ProfileSet,
    Role,
    RunResult,
    RunSpec,
    SecurityMode,
)
from profiler.runtime.run_shape import RunShape
from profiler.vocabulary import Progress, no_progress
from profiler.workloads import Workload

BENCH_FILE = "bench.json"


@dataclass(frozen=True)
class FailedRun:
    """A run that produced no sample, and why."""

    workload: str
    mode: str
    round: int
    reason: str
    run_dir: str | None = None

    def describe(self) -> str:
        return f"{self.workload} [{self.mode}] round {self.round + 1} failed: {self.reason}"


def round_order(modes: Sequence[SecurityMode], round_index: int) -> list[SecurityMode]:
    """The modes of round ``round_index``, rotated to start at ``round_index % len``."""
    if not modes:
        return []
    start = round_index % len(modes)
    return [*modes[start:], *modes[:start]]


@dataclass(frozen=True)
class BenchPlan:
    """What a bench measures: every workload under every mode in one shape, ``repeat``
    interleaved rounds after ``warmup`` unmeasured runs per workload."""

    workloads: tuple[Workload, ...]
    modes: tuple[SecurityMode, ...]
    shape: RunShape
    profiles: ProfileSet | None = None  # needed for localhost
    repeat: int = 10
    warmup: int = 0
    timeout_seconds: float = 600.0
    # The interval half-width wanted, as a fraction: the report says how many rounds would
    # give it.
    precision: float = DEFAULT_PRECISION

    def spec(self, workload: Workload, mode: SecurityMode) -> RunSpec:
        return self.shape.spec(
            workload, mode, timeout_seconds=self.timeout_seconds, profiles=self.profiles
        )


def run_bench(
    backend: Backend,
    plan: BenchPlan,
    *,
    run_root: Path | None = None,
    progress: Progress = no_progress,
    environment: Mapping[str, Any] | None = None,
    first_rounds: Sequence[tuple[int, RunResult]] = (),
) -> BenchReport:
    """Run ``plan.repeat`` interleaved, rotated rounds and analyse them; write bench.json.

    ``first_rounds`` are runs already made, as (round, result), that count as the first
    rounds (the demo's check ran every workload and mode once, in round 0's order): the
    bench runs the rounds after them, up to ``plan.repeat`` in all.
    ``environment`` defaults to ``collect_environment(backend, image, pod_security)``.
    With ``run_root``, each run's logs go to ``run_root/WORKLOAD/MODE-ROUND`` and
    bench.json (samples, statistics, environment, failed runs) to ``run_root``.
    """
    workloads, modes, repeat, warmup = plan.workloads, plan.modes, plan.repeat, plan.warmup
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    if SecurityMode.LOCALHOST in modes and plan.profiles is None:
        raise ValueError("localhost mode needs a profile")
    names = {w.name for w in workloads}
    given = [(r, result) for r, result in first_rounds if result.spec.workload.name in names]
    start = max((r for r, _ in given), default=-1) + 1
    if start > repeat:
        raise ValueError(f"{start} rounds given, more than the {repeat} asked for")
    total = len(workloads) * (len(modes) * (repeat - start) + warmup)
    done = 0
    if environment is None:
        progress("recording the environment (kernel, engine, SSBD of a confined process)", 0, total)
        environment = collect_environment(backend, plan.shape.image, plan.shape.pod_security)
    spec_for = plan.spec

    for workload in workloads:
        for index in range(warmup):
            progress(f"{workload.name} warm-up {index + 1}/{warmup}", done, total)
            backend.run(spec_for(workload, SecurityMode.UNCONFINED))
            done += 1

    runs: list[tuple[int, RunResult]] = list(given)
    for round_index in range(start, repeat):
        for workload in workloads:
            for mode in round_order(modes, round_index):
                progress(
                    f"{workload.name} [{mode.value}] round {round_index + 1}/{repeat}", done, total
                )
                run_dir = (
                    run_root / workload.name / f"{mode.value}-{round_index + 1}"
                    if run_root is not None
                    else None
                )
                runs.append((round_index, backend.run(spec_for(workload, mode), run_dir)))
                done += 1
    progress("analysing", done, total)

    samples, failed = split_runs(runs)
    report = analyse_bench(
        samples,
        environment=environment,
        workloads=[w.name for w in workloads],
        modes=[m.value for m in modes],
        precision=plan.precision,
    )
    report = replace(report, warnings=(*(f.describe() for f in failed), *report.warnings))
    if run_root is not None:
        run_root.mkdir(parents=True, exist_ok=True)
        write_file(run_root / BENCH_FILE, bench_json(report, failed, repeat=repeat))
    return report


def split_runs(runs: Sequence[tuple[int, RunResult]]) -> tuple[list[Sample], list[FailedRun]]:
    """Samples of the successful runs and the failed runs, in run order (pure).

    A run whose result checksum differs from the most common checksum of its workload's
    unconfined runs failed too: a profile that makes a job compute something else is not
    "faster", it is broken.
    """
    reference: dict[str, str] = {}
    checksums: dict[str, Counter[str]] = {}
    for _, result in runs:
        if result.spec.mode is SecurityMode.UNCONFINED and result.succeeded and result.result:
            checksum = result.result.checksum
            if checksum is not None:
                checksums.setdefault(result.spec.workload.name, Counter())[checksum] += 1
    for name, counter in checksums.items():
        reference[name] = counter.most_common(1)[0][0]

    samples: list[Sample] = []
    failed: list[FailedRun] = []
    for round_index, result in runs:
        name, mode = result.spec.workload.name, result.spec.mode.value
        reason = _failure(result, reference.get(name))
        if reason is not None:
            run_dir = str(result.run_dir) if result.run_dir is not None else None
            failed.append(FailedRun(name, mode, round_index, reason, run_dir))
            continue
        job = result.result.job_seconds if result.result else None
        driver_cpu, executor_cpu = _role_cpu(result)
        samples.append(
            Sample(
                workload=name,
                mode=mode,
                round=round_index,
                wall_seconds=result.wall_seconds,
                job_seconds=job if job is not None and job > 0 else None,
                cpu_seconds=result.cpu_seconds,
                driver_cpu_seconds=driver_cpu,
                executor_cpu_seconds=executor_cpu,
            )
        )
    return samples, failed


def _role_cpu(result: RunResult) -> tuple[float | None, float | None]:
    """CPU seconds of the driver pod and of all executor pods of a pod-shaped run."""
    driver = [c.cpu_seconds for c in result.containers if c.role is Role.DRIVER]
    executors = [c.cpu_seconds for c in result.containers if c.role is Role.EXECUTOR]
    driver_cpu = driver[0] if driver and driver[0] is not None else None
    executor_cpu = None
    if executors and None not in executors:
        executor_cpu = sum(c for c in executors if c is not None)
    return driver_cpu, executor_cpu


def bench_json(report: BenchReport, failed: Sequence[FailedRun], *, repeat: int) -> str:
    """bench.json: ``stats.bench_to_dict`` plus the failed runs and the repeat count."""
    data = bench_to_dict(report)
    data["repeat"] = repeat
    data["failed_runs"] = [
        {
            "workload": f.workload,
            "mode": f.mode,
            "round": f.round,
            "reason": f.reason,
            "run_dir": f.run_dir,
        }
        for f in failed
    ]
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _failure(result: RunResult, reference_checksum: str | None) -> str | None:
    """Why a run gives no sample; ``check.judge`` decides, as for a check cell."""
    outcome = judge(result, reference_checksum)
    if outcome.verdict in (Verdict.FAIL, Verdict.OOM):
        return outcome.error_line or f"exit {outcome.exit_code}: no error output"
    if outcome.verdict is Verdict.MISMATCH:
        return f"result {outcome.checksum} differs from the unconfined result {reference_checksum}"
    if outcome.verdict is Verdict.TIMEOUT:
        return outcome.error_line
    if result.wall_seconds <= 0:
        return "no measurable duration"
    return None
