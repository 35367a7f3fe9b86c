"""The bench pipeline: interleaved rounds, the syscall micro-benchmark, the files beside
them, and the report, in one run folder. ``bench`` and the demo both call it.

rounds (``bench.runner``) -> micro-benchmark (``bench.microbench_run``) -> a copy of the
profiles and their summary -> the RuntimeDefault allow list of the engine the runs used ->
the report (``report.build``). ``run_benchmarks`` does the same for every engine and image
of a matrix, one after the other, each in a folder of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from profiler.bench.environment import CommandRunner
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
from profiler.runtime.interface import Backend
from profiler.runtime.probe import reference_beside_results
from profiler.seccomp.generate import summary_path_for
from profiler.seccomp.runtime_default import load_runtime_default
from profiler.vocabulary import ROLES, Note, Progress, no_note, no_progress

# Everything a bench writes into its run folder.
BENCH_OUTPUTS = (
    BENCH_FILE,
    MICROBENCH_FILE,
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


@dataclass(frozen=True)
class BenchOutcome:
    """One bench: its rounds' report, its micro-benchmark (if any ran), and the report."""

    report: BenchReport
    micro: MicrobenchRun | None
    files: ReportFiles
    run_root: Path
    notes: tuple[str, ...] = ()


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
) -> BenchOutcome:
    """rounds -> micro-benchmark -> the profile copies -> the RuntimeDefault reference ->
    the report, in ``options.run_root``."""
    root = options.run_root
    root.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []

    def say(lines: Sequence[str]) -> None:
        for line in lines:
            notes.append(line)
            note(f"note: {line}")

    runner = backend if isinstance(backend, CommandRunner) else None
    if options.microbench is not None and runner is not None:
        syscall_loop_binary()  # needs gcc: fail (or build it) before the rounds, not after
    report = run_bench(backend, plan, run_root=options.logs_root or root, progress=progress)
    if options.logs_root is not None and options.logs_root != root:
        # bench.json belongs beside the report.
        write_files([OutputFile(root / BENCH_FILE, (options.logs_root / BENCH_FILE).read_text())])
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
    if options.profile_source is not None and plan.profiles is not None:
        say(_copy_profiles(options.profile_source, plan, root))
    say(_write_runtime_default(root, options.runtime_default, backend, plan.shape.image))
    files = build_report(root)
    return BenchOutcome(report, micro, files, root, tuple(notes))


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
    "BenchOutcome",
    "MicrobenchOptions",
    "check_bench_outputs",
    "run_benchmark",
    "run_benchmarks",
]
